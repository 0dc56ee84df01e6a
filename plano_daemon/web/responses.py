"""POST /v1/responses (OpenAI Responses)."""

from __future__ import annotations

from aiohttp import web

from plano_daemon.catalog import RESPONSES
from plano_daemon.web import proxy


async def responses(request: web.Request) -> web.StreamResponse:
    return await proxy.handle(request, RESPONSES)

"""POST /v1/messages (Anthropic Messages)."""

from __future__ import annotations

from aiohttp import web

from plano_daemon.web import proxy
from plano_daemon.catalog import MESSAGES


async def messages(request: web.Request) -> web.StreamResponse:
    return await proxy.handle(request, MESSAGES)

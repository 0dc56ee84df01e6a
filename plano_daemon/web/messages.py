"""POST /v1/messages (Anthropic Messages)."""

from __future__ import annotations

from aiohttp import web

from plano_daemon.catalog import MESSAGES
from plano_daemon.web import proxy


async def messages(request: web.Request) -> web.StreamResponse:
    return await proxy.handle(request, MESSAGES)

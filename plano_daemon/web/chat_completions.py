"""POST /v1/chat/completions (OpenAI Chat Completions)."""

from __future__ import annotations

from aiohttp import web

from plano_daemon.catalog import CHAT
from plano_daemon.web import proxy


async def chat_completions(request: web.Request) -> web.StreamResponse:
    return await proxy.handle(request, CHAT)

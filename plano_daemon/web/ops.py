"""Operational endpoints: health, readiness, the model list, metrics (404/405: web/guard.py)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from plano_daemon.errors import ModelNotFound
from plano_daemon.metrics import CONTENT_TYPE
from plano_daemon.web.keys import GATEWAY, WILDCARD_MODELS

_CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, x-api-key, anthropic-version",
    "Access-Control-Max-Age": "86400",
}
_STARTED = int(time.time())


async def healthz(request: web.Request) -> web.Response:
    if request.app[GATEWAY].draining:
        return web.json_response({"status": "draining"}, status=503)
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    body: dict[str, Any] = {"status": "draining" if gateway.draining else "ready",
            "providers": len(gateway.runtime.catalog.channels)}
    if gateway.services.shared is not None:  # Redis down degrades sharing, not readiness: still 200
        body["shared_state"] = gateway.services.shared.status()
    return web.json_response(body, status=503 if gateway.draining else 200)


async def list_models(request: web.Request) -> web.Response:
    """OpenAI's model list, with each model's context window where known in vLLM's field, `max_model_len`
    (Hermes and others size their context from it)."""
    return web.json_response({"object": "list", "data": await _models(request)}, headers=_CORS)


async def retrieve_model(request: web.Request) -> web.Response:
    """GET /v1/models/{id} (OpenAI's retrieve model) for every listed model; ids may contain slashes."""
    wanted = request.match_info["model"]
    for model in await _models(request):
        if model["id"] == wanted:
            return web.json_response(model, headers=_CORS)
    # Its guard answers it (JSON, with the request id) and writes its access line with the reason.
    raise ModelNotFound(f"model {wanted!r} is not served by this gateway", extra={"param": "model"})


async def _models(request: web.Request) -> list[dict[str, Any]]:
    gateway = request.app[GATEWAY]
    catalog = gateway.runtime.catalog
    listed = catalog.public_models() + await request.app[WILDCARD_MODELS].listed(catalog, gateway.services.pool)
    windows = gateway.services.windows
    # Self-hosted upstreams are asked once (concurrently, bounded by the fetch timeout); later calls read memory.
    channels = list(dict.fromkeys(ch for _, ch in listed))
    learned = await asyncio.gather(*(windows.window(ch, gateway.services.pool) for ch in channels))
    window = dict(zip(channels, learned, strict=True))
    out: list[dict[str, Any]] = []
    for model_id, ch in listed:
        entry: dict[str, Any] = {"id": model_id, "object": "model", "created": _STARTED, "owned_by": ch.prefix}
        if window[ch] is not None:
            entry["max_model_len"] = window[ch]
        out.append(entry)
    return out


async def models_preflight(request: web.Request) -> web.Response:
    return web.Response(status=204, headers=_CORS)


async def metrics(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    gateway.services.accounting.drain()  # every request answered so far is counted
    gateway.publish_budget_usage()
    body = gateway.services.metrics.render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


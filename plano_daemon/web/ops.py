"""Operational endpoints: health, readiness, the model list, metrics (404/405: web/middleware.py)."""

from __future__ import annotations

import time

from aiohttp import web

from plano_daemon.metrics import CONTENT_TYPE
from plano_daemon.web.keys import GATEWAY

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
    body = {"status": "draining" if gateway.draining else "ready",
            "providers": len(gateway.runtime.catalog.channels)}
    return web.json_response(body, status=503 if gateway.draining else 200)


async def list_models(request: web.Request) -> web.Response:
    catalog = request.app[GATEWAY].runtime.catalog
    data = [{"id": model_id, "object": "model", "created": _STARTED, "owned_by": owner}
            for model_id, owner in catalog.public_models()]
    return web.json_response({"object": "list", "data": data}, headers=_CORS)


async def models_preflight(request: web.Request) -> web.Response:
    return web.Response(status=204, headers=_CORS)


async def metrics(request: web.Request) -> web.Response:
    gateway = request.app[GATEWAY]
    gateway.publish_budget_usage()
    body = gateway.services.metrics.render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


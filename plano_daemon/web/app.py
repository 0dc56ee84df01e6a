"""make_app: the aiohttp Application for one model listener. Knows routes, never sockets.

No catch-all route: aiohttp's router tells a path nobody serves (404) from a method a path does not take
(405, with Allow), and the middleware answers both as JSON with an access line.
"""

from __future__ import annotations

from aiohttp import web

from plano_daemon.runtime import Gateway
from plano_daemon.web import ops
from plano_daemon.web.chat_completions import chat_completions
from plano_daemon.web.count_tokens import count_tokens
from plano_daemon.web.keys import GATEWAY, LISTENER_TIMEOUT, WILDCARD_MODELS
from plano_daemon.web.messages import messages
from plano_daemon.web.middleware import gateway_middleware
from plano_daemon.web.responses import responses
from plano_daemon.web.responses_ws import responses_ws
from plano_daemon.web.routing_api import routing_decision
from plano_daemon.web.wildcard_models import WildcardModels


def make_app(gateway: Gateway, *, listener_timeout: float, serve_metrics: bool = True) -> web.Application:
    cfg = gateway.runtime.config
    app = web.Application(client_max_size=cfg.dubnium.max_body_bytes, middlewares=[gateway_middleware])
    app[GATEWAY] = gateway
    app[LISTENER_TIMEOUT] = listener_timeout
    app[WILDCARD_MODELS] = WildcardModels()
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/v1/messages", messages)
    app.router.add_post("/v1/messages/count_tokens", count_tokens)
    app.router.add_post("/v1/responses", responses)
    app.router.add_get("/v1/responses", responses_ws)
    for api_path in ("chat/completions", "messages", "responses"):  # the client's API: only its error dialect
        app.router.add_post(f"/routing/v1/{api_path}", routing_decision)
    app.router.add_get("/v1/models", ops.list_models)
    app.router.add_route("OPTIONS", "/v1/models", ops.models_preflight)
    app.router.add_get("/v1/models/{model:.+}", ops.retrieve_model)
    app.router.add_get("/healthz", ops.healthz)
    app.router.add_get("/readyz", ops.readyz)
    if serve_metrics:
        app.router.add_get("/metrics", ops.metrics)
    return app


def make_metrics_app(gateway: Gateway) -> web.Application:
    """The separate loopback metrics listener (`dubnium.metrics.listen`)."""
    app = web.Application(middlewares=[gateway_middleware])
    app[GATEWAY] = gateway
    app[LISTENER_TIMEOUT] = 10.0
    app.router.add_get("/metrics", ops.metrics)
    return app

"""make_app: the aiohttp Application for one model listener. Knows routes, never sockets.

Every route but the three proxy handlers (which answer and account for themselves) is `guarded` (web/guard.py);
the last one, `unrouted`, takes what no other route does and answers 404, or 405 with Allow, as JSON with an
access line.
"""

from __future__ import annotations

from aiohttp import web

from plano_daemon.runtime import Gateway
from plano_daemon.web import ops
from plano_daemon.web.chat_completions import chat_completions
from plano_daemon.web.count_tokens import count_tokens
from plano_daemon.web.guard import guarded, unrouted
from plano_daemon.web.keys import GATEWAY, LISTENER_TIMEOUT, WILDCARD_MODELS
from plano_daemon.web.messages import messages
from plano_daemon.web.responses import responses
from plano_daemon.web.responses_ws import responses_ws
from plano_daemon.web.routing_api import routing_decision
from plano_daemon.web.wildcard_models import WildcardModels


def make_app(gateway: Gateway, *, listener_timeout: float, serve_metrics: bool = True) -> web.Application:
    cfg = gateway.runtime.config
    app = web.Application(client_max_size=cfg.dubnium.max_body_bytes)
    app[GATEWAY] = gateway
    app[LISTENER_TIMEOUT] = listener_timeout
    app[WILDCARD_MODELS] = WildcardModels()
    router = app.router
    router.add_post("/v1/chat/completions", chat_completions)
    router.add_post("/v1/messages", messages)
    router.add_post("/v1/responses", responses)
    router.add_post("/v1/messages/count_tokens", guarded(count_tokens, "count_tokens"))
    router.add_get("/v1/responses", guarded(responses_ws, "ops"))
    for api_path in ("chat/completions", "messages", "responses"):  # the client's API: only its error dialect
        router.add_post(f"/routing/v1/{api_path}", guarded(routing_decision, "routing"))
    router.add_get("/v1/models", guarded(ops.list_models, "ops"))
    router.add_route("OPTIONS", "/v1/models", guarded(ops.models_preflight, "ops"))
    router.add_get("/v1/models/{model:.+}", guarded(ops.retrieve_model, "ops"))
    router.add_get("/healthz", guarded(ops.healthz, "ops"))
    router.add_get("/readyz", guarded(ops.readyz, "ops"))
    if serve_metrics:
        router.add_get("/metrics", guarded(ops.metrics, "ops"))
    router.add_route("*", "/{path:.*}", guarded(unrouted, "none"))
    return app


def make_metrics_app(gateway: Gateway) -> web.Application:
    """The separate loopback metrics listener (`dubnium.metrics.listen`)."""
    app = web.Application()
    app[GATEWAY] = gateway
    app[LISTENER_TIMEOUT] = 10.0
    app.router.add_get("/metrics", guarded(ops.metrics, "ops"))
    app.router.add_route("*", "/{path:.*}", guarded(unrouted, "none"))
    return app

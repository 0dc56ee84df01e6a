"""Typed application keys, declared once."""

from __future__ import annotations

from aiohttp import web

from plano_daemon.runtime import Gateway
from plano_daemon.web.wildcard_models import WildcardModels
from plano_daemon.wire.trace import Trace

GATEWAY = web.AppKey("gateway", Gateway)
#: Whole-request deadline of the listener this app serves (`listeners[].timeout`), seconds.
LISTENER_TIMEOUT = web.AppKey("listener_timeout", float)
#: The request's trace (its id names the request in answers and logs), set by the route's guard (web/guard.py).
TRACE = web.RequestKey("trace", Trace)
#: What wildcard channels' upstreams serve, for GET /v1/models.
WILDCARD_MODELS = web.AppKey("wildcard_models", WildcardModels)

"""The concerns every route shares, owned once: request id, errors → JSON in the client's dialect, and the
accounting (metrics and one access line per request, 404/405 included).

The proxy handlers (`/v1/chat/completions`, `/v1/messages`, `/v1/responses`) account for themselves (their
line carries routing and attempts); for them this only guarantees that nothing escapes as plain text.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from plano_daemon.catalog import CHAT, MESSAGES, RESPONSES
from plano_daemon.errors import GatewayError, PayloadTooLarge, RequestTimeout
from plano_daemon.logs import LOG, access_line, milliseconds
from plano_daemon.metrics import status_class
from plano_daemon.relay import error_response
from plano_daemon.web.keys import GATEWAY, TRACE
from plano_daemon.wire.trace import trace_from_headers

#: Paths whose handler writes its own access line and metrics.
PROXY_PATHS = frozenset({"/v1/chat/completions", "/v1/messages", "/v1/responses"})
#: The `handler` label of the other routes (bounded: never the raw path).
_HANDLERS = {"/v1/messages/count_tokens": "count_tokens", "/routing/v1/chat/completions": "routing",
             "/routing/v1/messages": "routing", "/routing/v1/responses": "routing"}
_CLIENT_CLOSED = 499
#: Metric label values for the method (a client may send any token as its method).
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_MAX_LOGGED_PATH = 200


def dialect(path: str) -> str:
    """The API a client of `path` speaks, for its errors; OpenAI's shape where none is known."""
    if path.startswith(("/v1/messages", "/routing/v1/messages")):
        return MESSAGES
    if path.startswith(("/v1/responses", "/routing/v1/responses")):
        return RESPONSES
    return CHAT


class _Refused(GatewayError):
    """A request aiohttp's router refused before any handler."""

    error_type = "invalid_request_error"


def _http_error(request: web.Request, exc: web.HTTPException) -> GatewayError:
    """aiohttp's own HTTP errors (404, 405, 413 ...) as ours."""
    if isinstance(exc, web.HTTPNotFound):
        return _Refused(f"no route for {request.method} {request.path[:_MAX_LOGGED_PATH]}", status=404,
                        code="not_found")
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return _Refused(f"{request.method} is not allowed on {request.path}; use "
                        f"{', '.join(sorted(exc.allowed_methods))}", status=405, code="method_not_allowed")
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return PayloadTooLarge("request body too large (dubnium.max_body_bytes)")
    if exc.status >= 500:
        return GatewayError(exc.reason or "error", status=exc.status)
    return _Refused(exc.reason or "request refused", status=exc.status, code="http_error")


@web.middleware
async def gateway_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    if request.method == "POST" and request.path in PROXY_PATHS:
        return await _proxied(request, handler)
    trace = trace_from_headers(request.headers)
    request[TRACE] = trace
    api = dialect(request.path)
    started = time.perf_counter()
    status, reason = 500, None
    try:
        response: web.StreamResponse = await handler(request)
        status = response.status
        return response
    except asyncio.CancelledError:  # the client went away (aiohttp cancels the handler)
        status = _CLIENT_CLOSED
        raise
    except (web.HTTPException, GatewayError) as exc:
        err = _http_error(request, exc) if isinstance(exc, web.HTTPException) else exc
        status, reason = err.status, err.message
        response = error_response(api, err, trace.trace_id)
        if isinstance(exc, web.HTTPMethodNotAllowed):
            response.headers["Allow"] = ",".join(sorted(exc.allowed_methods))
        if isinstance(err, RequestTimeout | PayloadTooLarge):
            response.force_close()  # what is left of the body is not worth reading
        return response
    except Exception:  # a bug of ours: logged with its traceback, answered as JSON in the client's dialect
        LOG.exception("internal error serving request %s", trace.trace_id)
        reason = "internal error"
        return error_response(api, GatewayError("internal error in the gateway; see its log"), trace.trace_id)
    finally:
        _account(request, status, reason, time.perf_counter() - started, trace.trace_id)


async def _proxied(request: web.Request, handler: Any) -> web.StreamResponse:
    """The proxy handlers answer every error themselves and account for their requests; this is the hot path,
    so it only makes sure that nothing escapes them as aiohttp's plain-text 500."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except Exception:
        trace = trace_from_headers(request.headers)
        LOG.exception("internal error serving request %s", trace.trace_id)
        return error_response(dialect(request.path), GatewayError("internal error in the gateway; see its log"),
                              trace.trace_id)


def _account(request: web.Request, status: int, reason: str | None, elapsed: float, request_id: str) -> None:
    route = request.match_info.route.resource
    path = route.canonical if route is not None else None
    name = _HANDLERS.get(path or "", "ops" if path is not None else "none")
    metrics = request.app[GATEWAY].services.metrics
    method = request.method if request.method in _METHODS else "OTHER"
    metrics.requests.labels(name, method, status_class(status)).inc()
    access_line(status, {"request_id": request_id, "method": method, "path": request.path[:_MAX_LOGGED_PATH],
                   "handler": name, "status": status, "ms": milliseconds(elapsed), "error": reason})

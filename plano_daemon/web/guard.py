"""The concerns every route shares, owned once: request id and trace, errors → JSON in the client's dialect,
an unexpected error → logged with its traceback and answered as JSON 500, and the accounting (metrics and
one access line per request, 404/405 included).

`guarded` wraps a route's handler once, when the route is added (`web/app.py`), where an aiohttp middleware
would wrap it on every request: once an app has any middleware, aiohttp looks the chain up in a cache,
calls it through a `functools.partial` and runs a coroutine of its own around it for every request. Side
by side (docs/perf) that cost a proxied request ≈ 4 % of the gateway's CPU, for routes that need none of
it: the proxy handlers answer their errors and account for their requests themselves (their access line
carries routing and attempts), so they are added as they are. What still escapes any handler is answered
as JSON 500 and logged with its traceback by the connection (`web/protocol.py`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from plano_daemon.catalog import CHAT, MESSAGES, RESPONSES
from plano_daemon.errors import GatewayError, PayloadTooLarge, RequestTimeout
from plano_daemon.logs import LOG, access_line, milliseconds
from plano_daemon.metrics import status_class
from plano_daemon.relay import error_response
from plano_daemon.web.keys import GATEWAY, TRACE
from plano_daemon.wire.trace import trace_from_headers

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

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
    """A request the router has no handler for."""

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


def guarded(handler: Handler, name: str) -> Handler:
    """`handler` with the shared concerns around it; `name` is its `handler` label in metrics and the access
    line (bounded: never the raw path)."""

    async def route(request: web.Request) -> web.StreamResponse:
        trace = trace_from_headers(request.headers)
        request[TRACE] = trace
        api = dialect(request.path)
        started = time.perf_counter()
        status, reason = 500, None
        try:
            response = await handler(request)
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
            _account(request, name, status, reason, time.perf_counter() - started, trace.trace_id)

    return route


async def unrouted(request: web.Request) -> web.StreamResponse:
    """The last route, for every path and method no other route takes (aiohttp's router would answer them
    in plain text): 405 with the methods the path's routes take, else 404."""
    itself = request.match_info.route.resource
    allowed: set[str] = set()
    for resource in request.app.router.resources():
        if resource is not itself:
            allowed |= (await resource.resolve(request))[1]
    if allowed:
        raise web.HTTPMethodNotAllowed(request.method, allowed)
    raise web.HTTPNotFound()


def _account(request: web.Request, name: str, status: int, reason: str | None, elapsed: float,
             request_id: str) -> None:
    metrics = request.app[GATEWAY].services.metrics
    method = request.method if request.method in _METHODS else "OTHER"
    metrics.requests.labels(name, method, status_class(status)).inc()
    access_line(status, {"request_id": request_id, "method": method, "path": request.path[:_MAX_LOGGED_PATH],
                         "handler": name, "status": status, "ms": milliseconds(elapsed), "error": reason})

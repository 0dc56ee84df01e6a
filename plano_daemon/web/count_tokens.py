"""POST /v1/messages/count_tokens (Anthropic): Claude Code asks it to budget its context window.

An Anthropic-interface channel answers exactly (the request is forwarded); any other channel gets an
estimate of about four bytes a token, the same rule the router uses, since an OpenAI-style upstream
has no counting endpoint. Counting sends the whole conversation, so a channel the request's privacy
class may not reach is never asked: it gets the estimate too.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from plano_daemon.catalog import MESSAGES, Channel
from plano_daemon.config.known_providers import ANTHROPIC
from plano_daemon.errors import BadRequest, ModelNotFound
from plano_daemon.policy.gate import RequestGate
from plano_daemon.runtime import Gateway
from plano_daemon.upstream import TransportFailure, read_all
from plano_daemon.web.body import read_json_object
from plano_daemon.web.keys import GATEWAY, TRACE
from plano_daemon.web.proxy import upstream_headers
from plano_daemon.wire.model_field import with_model
from plano_daemon.wire.trace import Trace

_COUNTED_FIELDS = ("system", "messages", "tools")


def estimate_tokens(body: dict[str, Any]) -> int:
    """About four bytes of JSON per token over what the model reads; never zero for a non-empty request."""
    # surrogatepass: JSON may carry a lone surrogate (`"\\ud800"`), which strict UTF-8 cannot encode.
    size = sum(len(json.dumps(body[k], ensure_ascii=False).encode("utf-8", "surrogatepass"))
               for k in _COUNTED_FIELDS if k in body)
    return max(1, (size + 3) // 4)


async def count_tokens(request: web.Request) -> web.Response:
    """Errors and accounting are its guard's (web/guard.py)."""
    gateway = request.app[GATEWAY]
    catalog = gateway.runtime.catalog
    trace = request[TRACE]
    raw, body = await read_json_object(request)
    if not isinstance(body.get("messages"), list):
        raise BadRequest("`messages` must be an array", extra={"param": "messages"})
    model = body.get("model")
    channel = catalog.resolve(model) if isinstance(model, str) else catalog.default
    if channel is None:
        channel = catalog.default
    if channel is None:
        raise ModelNotFound(f"model {model!r} is not configured", extra={"param": "model"})
    policy = gateway.runtime.policy
    private = policy is not None and not RequestGate(policy=policy, budgets=None, store=None,
                                                     headers=request.headers).may_see(channel)
    if channel.interface == ANTHROPIC and not private:
        exact = await _forward(gateway, channel, request, raw, body, trace)
        if exact is not None:
            return exact
    return web.json_response({"input_tokens": estimate_tokens(body)}, headers={"X-Request-Id": trace.trace_id})


async def _forward(gateway: Gateway, channel: Channel, request: web.Request, raw: bytes, body: dict[str, Any],
                   trace: Trace) -> web.Response | None:
    """The upstream's own count, or None (then we estimate) when it cannot be had."""
    headers = upstream_headers(channel, request.headers, trace, same_api=True)
    timeouts = gateway.runtime.timeouts
    result = await gateway.services.pool.send(
        channel.url(MESSAGES) + "/count_tokens", headers, with_model(raw, body, channel.model_id),
        headers_timeout=timeouts.first_byte)
    if isinstance(result, TransportFailure):
        return None
    result.limit(asyncio.get_running_loop().time() + timeouts.first_byte, "the count did not arrive in time")
    data = await read_all(result)
    result.release()
    if isinstance(data, TransportFailure) or result.status == 404 or result.status >= 500:
        return None  # unreachable, or an Anthropic-style upstream without the counting endpoint
    return web.Response(status=result.status, body=data, content_type="application/json",
                        headers={"X-Request-Id": trace.trace_id})

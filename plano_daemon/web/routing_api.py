"""POST /routing/v1/{chat/completions,messages,responses}: the routing decision only, no LLM call (SPEC §4.4).

Same parsing, routing and policy as the proxy; the answer is `{"models", "route", "trace_id", "switched"}`
(`switched`, as Plano: the session was on another model before this decision), plus `session_id`/`pinned`
(and `model` when pinned) with an affinity key; `["none"]`/null when nothing matches. Each decision is one
ledger line, with the policy gate's facts.

With a policy profile, `models` are the route's models this request's privacy class may use
(`RequestGate.narrow`, as the proxy's `choose`). When the policy leaves none, the answer is
`["none"]` with the matched `route` kept: a client that picks its model from `models` then sends its own
model, and the proxy decides that request exactly as it would any unrouted one (requested model, else the
default provider, admitted or refused with 403 there). Never a 403 here: this endpoint answers which routed
model to use, and the model the client finally sends is the one policy must judge.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from aiohttp import web

from plano_daemon.ledger import decision_record
from plano_daemon.logs import milliseconds
from plano_daemon.policy.gate import RequestGate
from plano_daemon.routing.engine import RoutingResult
from plano_daemon.runtime import Gateway
from plano_daemon.web.body import read_json_object
from plano_daemon.web.keys import GATEWAY, TRACE


def decision_body(result: RoutingResult, trace_id: str) -> dict[str, Any]:
    """The documented response shape for one decision."""
    out: dict[str, Any] = {"models": list(result.models) or ["none"], "route": result.route, "trace_id": trace_id,
                           "switched": result.switched}
    if result.session_id is not None:
        out["session_id"] = result.session_id
        out["pinned"] = result.pinned
        if result.pinned and result.model is not None:
            out["model"] = result.model
    return out


async def routing_decision(request: web.Request) -> web.Response:
    """One decision; errors, metrics and the access line are its guard's (web/guard.py)."""
    gateway: Gateway = request.app[GATEWAY]
    runtime, services = gateway.runtime, gateway.services
    trace = request[TRACE]
    started = time.perf_counter()
    _, body = await read_json_object(request)
    gate = RequestGate(policy=runtime.policy, budgets=None, store=None, headers=request.headers)
    result = await runtime.routing.route(body, request.headers, services.routing_context(
        gate.may_see if runtime.policy is not None else None))
    resolve = runtime.catalog.resolve
    allowed = gate.narrow(result.models, resolve) if runtime.policy is not None else result.models
    if services.ledger is not None:
        ranked = gate.names(allowed, resolve)
        services.ledger.append(decision_record(
            trace.trace_id, time.time(), body.get("model") if isinstance(body.get("model"), str) else None,
            result.router, route=result.route, selected=ranked[0] if ranked else None,
            candidates=gate.names(result.models, resolve), ranked=ranked, affinity_key=result.session_id,
            router_error=result.router_failure,
            latency_ms=milliseconds(time.perf_counter() - started),
            outcome="denied" if gate.denied else "selected", policy=gate.ledger_fields()))
    answer = decision_body(dataclasses.replace(result, models=allowed), trace.trace_id)
    return web.json_response(answer, headers={"X-Request-Id": trace.trace_id})


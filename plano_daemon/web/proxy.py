"""One proxied request end to end: read → choose → attempt(s) → relay.

Each step is a named call into the pure core; this module only sequences them and talks to aiohttp.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from plano_daemon import tracing
from plano_daemon.catalog import CHAT, MESSAGES, RESPONSES, Channel
from plano_daemon.errors import BadRequest, GatewayError, ModelNotFound, PolicyDenied
from plano_daemon.failover import Outcome, Plan, Stop, classify, policy_for
from plano_daemon.ledger import decision_record
from plano_daemon.logs import LOG, access_line
from plano_daemon.metrics import status_class
from plano_daemon.policy.gate import RequestGate
from plano_daemon.relay import (
    JSON, Answer, error_response, read_answer, relay_json, relay_stream, relay_upstream_error, secrets_for,
    stream_head, upstream_host,
)
from plano_daemon.request_context import Ctx
from plano_daemon.routing.decide import decide
from plano_daemon.routing.engine import NONE as NOT_ROUTED
from plano_daemon.routing.routes import INLINE_KEYS
from plano_daemon.runtime import Gateway, Runtime, Services
from plano_daemon.translate import PassThroughStream, StreamTranslator, Translation, translation_for
from plano_daemon.translate.limits import fit_upstream
from plano_daemon.translate.system_prompt import merge_system_runs
from plano_daemon.upstream import TransportFailure, read_all
from plano_daemon.web.body import read_json_object
from plano_daemon.web.keys import GATEWAY, LISTENER_TIMEOUT
from plano_daemon.wire.model_field import with_model
from plano_daemon.wire.trace import Trace, trace_from_headers

#: The status logged and counted for a request whose client went away (nginx's "client closed request").
CLIENT_CLOSED = 499
#: Client headers forwarded upstream when the client and upstream speak the same API.
_FORWARDED_SAME_API = ("anthropic-beta", "anthropic-version", "openai-beta")


@dataclass(slots=True)
class Choice:
    """The outcome of routing and policy: who to try first, and the facts that led there."""

    channel: Channel
    route: str | None = None
    router: str = "none"
    #: Policy (issue 6) narrows the failover candidates with this; None = every channel is eligible.
    eligible: Callable[[Channel], bool] | None = None


async def handle(request: web.Request, api: str) -> web.StreamResponse:
    """Entry point of the three proxy handlers; every failure becomes JSON in the client's dialect."""
    gateway: Gateway = request.app[GATEWAY]
    rt = gateway.runtime
    services = gateway.services
    loop = asyncio.get_running_loop()
    now = loop.time()
    ctx = Ctx(api=api, trace=trace_from_headers(request.headers), deadline=now + request.app[LISTENER_TIMEOUT])
    if services.tracing is not None:
        ctx.spans = services.tracing.start(request.headers, ctx.trace, api=api, method=request.method,
                                           path=request.path)
    metrics = services.metrics
    metrics.in_flight.inc()
    started = time.perf_counter()  # loop.time() under uvloop counts whole milliseconds
    status = 500
    try:
        response = await _serve(request, rt, services, ctx)
        status = CLIENT_CLOSED if ctx.client_closed else response.status
        return response
    except asyncio.CancelledError:  # the client disconnected (aiohttp cancels the handler)
        status = CLIENT_CLOSED
        raise
    except GatewayError as err:
        status = err.status
        ctx.error = f"{err.code}: {err.message}"
        if isinstance(err, PolicyDenied):
            metrics.policy_denials.labels(err.code).inc()
        return error_response(api, err, ctx.request_id)
    except Exception:  # a bug of ours: logged with its traceback, answered as JSON in the client's dialect
        LOG.exception("internal error serving request %s", ctx.request_id)
        ctx.error = "internal_error"
        return error_response(api, GatewayError("internal error in the gateway; see its log"), ctx.request_id)
    finally:
        metrics.in_flight.dec()
        if ctx.spans is not None:
            ctx.spans.finish(ctx, status)
        # aiohttp writes a returned response in this same task step, so a callback scheduled now runs
        # once it is on the wire: the client never waits for its own log line, metrics and ledger record.
        loop.call_soon(_account, services, ctx, request.method, status, time.perf_counter() - started)


def _account(services: Services, ctx: Ctx, method: str, status: int, elapsed: float) -> None:
    metrics = services.metrics
    metrics.requests.labels(ctx.api, method, status_class(status)).inc()
    metrics.request_duration.labels(ctx.api).observe(elapsed)
    # Counted once the request ends: a stream that broke after its 200 counts as the error it was.
    for channel, attempt in zip(ctx.attempt_channels, ctx.attempts, strict=True):
        code = attempt["status"]
        metrics.upstream_requests.labels(channel.prefix, channel.model, status_class(code) if code else "none",
                                         attempt["error"] or "none").inc()
    _log(ctx, status, elapsed)
    _record_decision(services, ctx, status, elapsed)


async def _serve(request: web.Request, rt: Runtime, services: Services, ctx: Ctx) -> web.StreamResponse:
    raw, body = await read_request(request, ctx, rt)
    inline_routing = any(key in body for key in INLINE_KEYS)
    rewritten = (ctx.api == RESPONSES and services.conversations is not None
                 and await services.conversations.begin(ctx, body))
    with tracing.step(ctx.spans, "routing"):
        choice = await choose(request, rt, services, ctx, body)
    ctx.channel, ctx.route, ctx.router = choice.channel, choice.route, choice.router
    if rt.ratelimits and services.shared is not None and ctx.gate is not None:  # Plano's `ratelimits`
        admitted = await rt.ratelimits.admit(choice.channel, request.headers, services.shared,
                                             estimate=max(1, len(raw) // 4), now=time.time())
        ctx.gate.on_tokens = admitted.settle if admitted is not None else None
    # Inline routing fields were stripped from `body`, a stored conversation added: the raw bytes no longer match.
    return await forward(request, rt, services, ctx, choice, None if inline_routing or rewritten else raw, body)


async def read_request(request: web.Request, ctx: Ctx, rt: Runtime) -> tuple[bytes, dict[str, Any]]:
    """Body bytes and the JSON parsed once; client mistakes become 400/413, never 500."""
    raw, body = await read_json_object(request)
    model = body.get("model")
    if model is None:
        raise BadRequest("`model` is required", extra={"param": "model"})
    if not isinstance(model, str) or not model:
        raise BadRequest("`model` must be a non-empty string", extra={"param": "model"})
    stream = body.get("stream", False)
    if not isinstance(stream, bool) and stream is not None:
        raise BadRequest("`stream` must be a boolean", extra={"param": "stream"})
    _check_shape(ctx.api, body)
    if ctx.api == RESPONSES and body.get("previous_response_id") and rt.config.state_storage is None:
        raise BadRequest("`previous_response_id` needs `state_storage` in the gateway config; without it, "
                         "send the whole conversation in `input`", extra={"param": "previous_response_id"})
    ctx.requested = model
    ctx.stream = bool(stream)
    return raw, body


def _check_shape(api: str, body: dict[str, Any]) -> None:
    if api in (CHAT, MESSAGES):
        messages = body.get("messages")
        if messages is None:
            raise BadRequest("`messages` is required", extra={"param": "messages"})
        if not isinstance(messages, list):
            raise BadRequest("`messages` must be an array", extra={"param": "messages"})
    elif api == RESPONSES and "input" not in body:
        raise BadRequest("`input` is required", extra={"param": "input"})


async def choose(request: web.Request, rt: Runtime, services: Services, ctx: Ctx,
                 body: dict[str, Any]) -> Choice:
    """Routing decision, then model resolution, then policy (which may only narrow)."""
    requested = body["model"]
    usage = services.metrics.budget_usage
    if services.budgets is not None and rt.budgets:
        await services.budgets.sync(rt.budgets)  # other instances' counts, when they are shared
    gate = ctx.gate = RequestGate(policy=rt.policy, budgets=rt.budgets, store=services.budgets,
                                  headers=request.headers,
                                  on_usage=lambda target, kind, total: usage.labels(target, kind).set(total))
    if ctx.confine is not None:
        gate.confine(ctx.confine)
    routed = await rt.routing.route(body, request.headers, services.routing_context(
        gate.may_see if rt.policy is not None else None))
    ctx.route, ctx.router = routed.route, routed.router
    ctx.affinity_key, ctx.router_error = routed.session_id, routed.router_failure
    resolve = rt.catalog.resolve
    name = requested
    allowed: tuple[str, ...] = ()
    if routed.router != NOT_ROUTED:  # SPEC §4.3: routed model, else requested, else the default provider
        default = rt.catalog.default
        allowed = gate.narrow(routed.models, resolve)
        name = decide(allowed, requested=requested, exists=lambda m: resolve(m) is not None,
                      default=default.model if default else None).model or requested
    channel = resolve(name)
    if channel is None:
        raise ModelNotFound(f"model {requested!r} is not configured (no alias, provider or route serves it)",
                            extra={"param": "model"})
    ctx.candidates = gate.names((*routed.models, name), resolve)
    gate.admit(channel)
    ctx.ranked = gate.names(allowed or (name,), resolve)
    return Choice(channel=channel, route=routed.route, router=routed.router, eligible=gate.allows)


async def forward(request: web.Request, rt: Runtime, services: Services, ctx: Ctx, choice: Choice,
                  raw: bytes | None, body: dict[str, Any]) -> web.StreamResponse:
    """Attempts as the retry plan decides (failover/), then relay the answer or the exhaustion error."""
    loop = asyncio.get_running_loop()
    metrics = services.metrics
    plan = Plan(choice.channel, policy=policy_for(choice.channel, rt.config.dubnium.default_retry_policy),
                channels=rt.catalog.channels, resolve=rt.catalog.resolve, blocks=services.blocks,
                health=services.health, clock=loop.time, rng=random.random, eligible=choice.eligible,
                permitted=ctx.gate.permitted if ctx.gate else None)
    channel = plan.start()
    if channel is None:
        raise ctx.gate.deny_unserved() if ctx.gate else PolicyDenied("no eligible upstream may serve this request")
    for skipped in plan.fallbacks:
        metrics.failovers.labels(skipped["reason"]).inc()
    ctx.fallbacks = plan.fallbacks
    while True:
        ctx.channel = channel
        if ctx.gate is not None:
            ctx.gate.count_attempt(channel)  # retries and fallbacks count against budgets too
        with tracing.attempt(ctx.spans, ctx, channel):
            attempt = await _attempt(request, rt, services, ctx, channel, raw, body, plan.retry_codes)
        step = plan.after(attempt.outcome)
        ctx.attempts[-1].update(reason=plan.attempts[-1].reason, delay_ms=plan.attempts[-1].delay_ms)
        if isinstance(step, Stop):
            break
        attempt.discard()
        (metrics.retries if step.retry else metrics.failovers).labels(step.reason).inc()
        if loop.time() + step.delay >= ctx.deadline:
            step = Stop("deadline", exhausted=True)
            break
        await asyncio.sleep(step.delay)
        channel = step.channel
    if step.exhausted:
        attempt.discard()
        metrics.exhausted.inc()
        raise plan.exhaustion_error()
    if attempt.outcome.kind == "ok":
        assert attempt.resp is not None
        with tracing.step(ctx.spans, "relay"):
            if attempt.converter is not None:
                return await relay_stream(request, rt, services, ctx, channel, attempt.resp, attempt.converter,
                                          attempt.sent, head=attempt.head, content_type=attempt.content_type)
            assert attempt.answer is not None
            if ctx.spans is not None:
                ctx.spans.answered(ctx.api, attempt.answer.body)
            return await relay_json(ctx, services, channel, attempt.answer)
    if attempt.outcome.kind == "policy":
        metrics.policy_denials.labels(attempt.outcome.reason or "safety_policy_denial").inc()
    assert attempt.resp is not None
    ctx.error = f"upstream {channel.model} answered HTTP {attempt.resp.status}"
    return relay_upstream_error(attempt.resp, attempt.error_body, ctx, attempt.translation,
                                secrets_for(rt.catalog))


@dataclass(slots=True)
class _Attempt:
    """One upstream try, classified, with what the relay needs if it turns out to be the answer."""

    channel: Channel
    translation: Translation | None
    sent: float
    outcome: Outcome
    resp: aiohttp.ClientResponse | None = None
    error_body: bytes = b""
    #: A stream: its translator (or pass-through watcher), the client bytes read before the client sees
    #: anything, and the Content-Type to answer with.
    converter: StreamTranslator | None = None
    head: bytes = b""
    content_type: str = "text/event-stream"
    answer: Answer | None = None  # a non-streaming answer, read, checked and translated

    def discard(self) -> None:
        if self.resp is not None:
            self.resp.close()


async def _attempt(request: web.Request, rt: Runtime, services: Services, ctx: Ctx, channel: Channel,
                   raw: bytes | None, body: dict[str, Any], retry_codes: frozenset[int]) -> _Attempt:
    """Send once and classify. An answer counts only once it is known good: a whole JSON body read and
    checked, or a stream whose answer has begun; anything less can still fail over. The
    time-to-first-byte limit bounds both."""
    upstream_api = channel.upstream_api(ctx.api)
    translation = translation_for(ctx.api, upstream_api)
    if translation is None:
        merged = merge_system_runs(body) if upstream_api == CHAT else None
        payload = with_model(raw if merged is None else None, merged or body, channel.model_id)
    else:
        translated = translation.request(body, channel.model_id)
        if upstream_api == CHAT:
            fit_upstream(translated, model_id=channel.model_id, field=channel.max_tokens_field,
                         window=await services.windows.window(channel, services.pool))
        payload = json.dumps(translated).encode()
    headers = upstream_headers(channel, request.headers, ctx.trace, same_api=translation is None)
    loop = asyncio.get_running_loop()
    now = loop.time()
    sent = time.perf_counter()  # durations: loop.time() under uvloop counts whole milliseconds
    first_byte_by = min(now + rt.timeouts.first_byte, ctx.deadline)
    result = await services.pool.send(channel.origin, channel.url(upstream_api), headers, payload,
                                      headers_timeout=max(first_byte_by - now, 0.001))
    if isinstance(result, TransportFailure):
        _record_attempt(services, ctx, channel, None, result.kind, time.perf_counter() - sent)
        ctx.attempts[-1]["upstream"] = upstream_host(channel)
        LOG.warning("request %s: upstream %s (%s) failed: %s: %s", ctx.request_id, channel.model,
                    upstream_host(channel), result.kind, result.detail)
        return _Attempt(channel, translation, sent, classify(failure=result))
    _record_attempt(services, ctx, channel, result.status, None, time.perf_counter() - sent)
    try:
        if result.status >= 400:
            data = await _read_error_body(result, first_byte_by)
            outcome = classify(status=result.status, headers=result.headers, body=data,
                               retry_codes=retry_codes, now=time.time())
            return _Attempt(channel, translation, sent, outcome, resp=result, error_body=data)
        answered = _Attempt(channel, translation, sent, classify(status=result.status), resp=result)
        got: bytes | Answer | TransportFailure
        if ctx.stream:
            answered.converter = translation.stream() if translation is not None else PassThroughStream(ctx.api)
            if translation is None:
                answered.content_type = result.headers.get("Content-Type") or answered.content_type
            got = await stream_head(result, answered.converter, first_byte_by)
        else:
            got = await read_answer(result, upstream_api, translation, first_byte_by)
        if isinstance(got, TransportFailure):
            result.close()
            ctx.attempts[-1]["error"] = got.kind
            LOG.warning("request %s: upstream %s (%s) answered %d but %s: %s", ctx.request_id, channel.model,
                        upstream_host(channel), result.status, got.kind, got.detail)
            return _Attempt(channel, translation, sent, classify(failure=got))
        if isinstance(got, Answer):
            result.release()
            answered.answer = got
        else:
            answered.head = got
        return answered
    except BaseException:  # the client left while we waited: drop the upstream connection now
        result.close()
        raise


async def _read_error_body(resp: aiohttp.ClientResponse, deadline: float) -> bytes:
    try:
        async with asyncio.timeout_at(deadline):
            data = await read_all(resp)
    except TimeoutError:
        return b""
    return data if isinstance(data, bytes) else b""


def upstream_headers(channel: Channel, client: Any, trace: Trace, *, same_api: bool) -> dict[str, str]:
    """Auth from config (the client's key is ignored unless passthrough_auth), provider headers, trace."""
    headers = {"Content-Type": JSON}
    if channel.passthrough_auth:
        for name in ("Authorization", "x-api-key"):
            value = client.get(name)
            if value:
                headers[name] = value
    else:
        headers.update(channel.auth_headers)
    headers.update(channel.extra_headers)
    if same_api:
        for name in _FORWARDED_SAME_API:
            value = client.get(name)
            if value:
                headers[name] = value
    headers["traceparent"] = trace.outgoing()
    return headers


def _record_attempt(services: Services, ctx: Ctx, channel: Channel, status: int | None,
                    error: str | None, elapsed: float) -> None:
    ctx.attempts.append({"model": channel.model, "status": status, "error": error,
                         "ms": round(elapsed * 1000, 1)})
    ctx.attempt_channels.append(channel)
    services.metrics.upstream_duration.labels(channel.prefix).observe(elapsed)
    if status is not None and status < 400:
        services.latency.observe(channel.model, elapsed)  # time to the response headers: `prefer: fastest`


def _record_decision(services: Services, ctx: Ctx, status: int, elapsed: float) -> None:
    """One RouteDecision line per proxied request that named a model (SPEC §5)."""
    if services.ledger is None or ctx.requested is None:
        return
    gate = ctx.gate
    denied = gate is not None and gate.denied
    failed = ctx.error is not None or status >= 400
    selected = gate.name(ctx.channel) if gate is not None and ctx.channel is not None and not denied else None
    services.ledger.append(decision_record(
        request_id=ctx.request_id, timestamp=time.time() - elapsed, route=ctx.route,
        requested_model=ctx.requested, selected=selected, candidates=ctx.candidates,
        ranked=ctx.ranked, router=ctx.router, affinity_key=ctx.affinity_key, attempts=ctx.attempts,
        fallbacks=ctx.fallbacks, input_tokens=ctx.input_tokens, output_tokens=ctx.output_tokens,
        latency_ms=round(elapsed * 1000, 2),
        outcome="denied" if denied else "error" if failed else "selected", error=ctx.error,
        router_error=ctx.router_error,
        decision_reasons=[f"router_failed:{ctx.router_error}"] if ctx.router_error else [],
        **(gate.ledger_fields() if gate is not None else {})))
    services.ledger.start()


def _log(ctx: Ctx, status: int, elapsed: float) -> None:
    access_line(status, {
        "request_id": ctx.request_id, "api": ctx.api, "requested": ctx.requested,
        "resolved": ctx.channel.model if ctx.channel else None, "route": ctx.route, "router": ctx.router,
        "stream": ctx.stream, "attempts": ctx.attempts, "status": status,
        "ms": round(elapsed * 1000, 2), "tokens_in": ctx.input_tokens, "tokens_out": ctx.output_tokens,
        "error": ctx.error,
    })


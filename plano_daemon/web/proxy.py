"""One proxied request end to end: read → choose → attempt(s) → relay.

Each step is a named call into the pure core; this module only sequences them and talks to aiohttp.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from plano_daemon import tracing
from plano_daemon.catalog import CHAT, MESSAGES, RESPONSES, Channel
from plano_daemon.errors import BadRequest, GatewayError, ModelNotFound, PolicyDenied
from plano_daemon.exchange import Exchange
from plano_daemon.failover import Outcome, Plan, Seen, Stop, classify, policy_for
from plano_daemon.logs import LOG, access_line, milliseconds
from plano_daemon.metrics import status_class
from plano_daemon.policy.gate import RequestGate
from plano_daemon.relay import (
    EVENT_STREAM,
    JSON,
    Answer,
    OpenStream,
    error_response,
    read_answer,
    relay_json,
    relay_stream,
    relay_upstream_error,
    secrets_for,
    stream_head,
    upstream_host,
)
from plano_daemon.routing.decide import decide
from plano_daemon.routing.engine import NONE, NOT_ROUTED
from plano_daemon.routing.routes import has_inline_routes
from plano_daemon.runtime import Gateway, Runtime, Services
from plano_daemon.translate import PassThroughStream, StreamTranslator, Translation, translation_for
from plano_daemon.translate.limits import fit_upstream
from plano_daemon.translate.system_prompt import merge_system_runs
from plano_daemon.upstream import TransportFailure, UpstreamResponse, read_all
from plano_daemon.web.body import read_json_object
from plano_daemon.web.keys import GATEWAY, LISTENER_TIMEOUT
from plano_daemon.wire.model_field import with_model
from plano_daemon.wire.trace import Trace, trace_from_headers

#: The status logged and counted for a request whose client went away (nginx's "client closed request").
CLIENT_CLOSED = 499
#: Client headers forwarded upstream when the client and upstream speak the same API.
_FORWARDED_SAME_API = ("anthropic-beta", "anthropic-version", "openai-beta")


async def handle(request: web.Request, api: str) -> web.StreamResponse:
    """Entry point of the three proxy handlers; every failure becomes JSON in the client's dialect."""
    gateway: Gateway = request.app[GATEWAY]
    runtime = gateway.runtime
    services = gateway.services
    loop = asyncio.get_running_loop()
    metrics = services.metrics
    usage = metrics.budget_usage
    # Positional, not by keyword: making an object by keyword builds and unpacks a dict (≈ 2 k instructions).
    gate = RequestGate(runtime.policy, runtime.budgets, services.budgets, request.headers,
                       lambda target, kind, total: usage.labels(target, kind).set(total))
    exchange = Exchange(api, trace_from_headers(request.headers), gate, loop.time() + request.app[LISTENER_TIMEOUT],
                        loop.time)
    if services.tracing is not None:
        exchange.spans = services.tracing.start(request.headers, exchange.trace, api=api, method=request.method,
                                                path=request.path)
    metrics.in_flight.inc()
    status = 500
    try:
        response = await _serve(request, runtime, services, exchange)
        status = CLIENT_CLOSED if exchange.client_closed else response.status
        return response
    except asyncio.CancelledError:  # the client disconnected (aiohttp cancels the handler)
        status = CLIENT_CLOSED
        raise
    except GatewayError as err:
        status = err.status
        exchange.error = f"{err.code}: {err.message}"
        if isinstance(err, PolicyDenied):
            metrics.policy_denials.labels(err.code).inc()
        return error_response(api, err, exchange.request_id)
    except Exception:  # a bug of ours: logged with its traceback, answered as JSON in the client's dialect
        LOG.exception("internal error serving request %s", exchange.request_id)
        exchange.error = "internal_error"
        return error_response(api, GatewayError("internal error in the gateway; see its log"),
                              exchange.request_id)
    finally:
        metrics.in_flight.dec()
        if exchange.spans is not None:
            exchange.spans.finish(exchange, status)
        # Done once the response is on the wire (aiohttp writes it in this same task step), with the other
        # requests that finish in the next 2 ms (`accounting`): the client never waits for its own log line,
        # metrics and ledger record.
        services.accounting.defer(loop, _account, services, exchange, request.method, status,
                                  time.perf_counter() - exchange.started, time.time())


def _account(services: Services, exchange: Exchange, method: str, status: int, elapsed: float,
             ended: float) -> None:
    metrics = services.metrics
    metrics.requests.labels(exchange.api, method, status_class(status)).inc()
    metrics.request_duration.labels(exchange.api).observe(elapsed)
    # Counted once the request ends: a stream that broke after its 200 counts as the error it was.
    for attempt in exchange.attempts:
        code = attempt.seen.answered
        metrics.upstream_requests.labels(attempt.prefix, attempt.model, status_class(code) if code else "none",
                                         attempt.error or "none").inc()
    attempts = exchange.attempt_records()
    access_line(status, exchange.access_fields(status, elapsed, attempts))
    if services.ledger is not None and exchange.requested is not None:  # SPEC §5: requests that named a model
        services.ledger.append(exchange.decision(status, elapsed, ended, attempts))


async def _serve(request: web.Request, runtime: Runtime, services: Services,
                 exchange: Exchange) -> web.StreamResponse:
    raw, body = await read_request(request, exchange, runtime)
    inline_routing = has_inline_routes(body)
    rewritten = (exchange.api == RESPONSES and services.conversations is not None
                 and await services.conversations.begin(exchange, body))
    with tracing.step(exchange.spans, "routing"):
        primary = exchange.channel = await choose(request, runtime, services, exchange, body)
    if runtime.ratelimits and services.shared is not None:  # Plano's `ratelimits`
        admitted = await runtime.ratelimits.admit(primary, request.headers, services.shared,
                                                  estimate=max(1, len(raw) // 4), now=time.time())
        exchange.gate.on_tokens = admitted.settle if admitted is not None else None
    # Inline routing fields were stripped from `body`, a stored conversation added: the raw bytes no longer match.
    return await forward(request, runtime, services, exchange, primary, None if inline_routing or rewritten else raw,
                         body)


async def read_request(request: web.Request, exchange: Exchange,
                       runtime: Runtime) -> tuple[bytes, dict[str, Any]]:
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
    _check_shape(exchange.api, body)
    if exchange.api == RESPONSES and body.get("previous_response_id") and runtime.config.state_storage is None:
        raise BadRequest("`previous_response_id` needs `state_storage` in the gateway config; without it, "
                         "send the whole conversation in `input`", extra={"param": "previous_response_id"})
    exchange.requested = model
    exchange.stream = bool(stream)
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


async def choose(request: web.Request, runtime: Runtime, services: Services, exchange: Exchange,
                 body: dict[str, Any]) -> Channel:
    """Routing decision, then model resolution, then policy (which may only narrow): the channel tried
    first; the route, router and candidates are the exchange's."""
    requested = body["model"]
    if services.budgets is not None and runtime.budgets:
        await services.budgets.sync(runtime.budgets)  # other instances' counts, when they are shared
    gate = exchange.gate
    if exchange.confine is not None:
        gate.confine(exchange.confine)
    routing = runtime.routing
    routed = (await routing.route(body, request.headers, services.routing_context(
        gate.may_see if runtime.policy is not None else None)) if routing.decides(body) else NOT_ROUTED)
    exchange.route, exchange.router = routed.route, routed.router
    exchange.affinity_key, exchange.router_error = routed.session_id, routed.router_failure
    resolve = runtime.catalog.resolve
    name = requested
    allowed: tuple[str, ...] = ()
    if routed.router != NONE:  # SPEC §4.3: routed model, else requested, else the default provider
        default = runtime.catalog.default
        allowed = gate.narrow(routed.models, resolve)
        name = decide(allowed, requested=requested, exists=lambda m: resolve(m) is not None,
                      default=default.model if default else None).model or requested
    channel = resolve(name)
    if channel is None:
        raise ModelNotFound(f"model {requested!r} is not configured (no alias, provider or route serves it)",
                            extra={"param": "model"})
    exchange.candidates = gate.names((*routed.models, name), resolve)
    gate.admit(channel)
    exchange.ranked = gate.names(allowed or (name,), resolve)
    return channel


async def forward(request: web.Request, runtime: Runtime, services: Services, exchange: Exchange, primary: Channel,
                  raw: bytes | None, body: dict[str, Any]) -> web.StreamResponse:
    """Attempts as the retry plan decides (failover/), then relay the answer or the exhaustion error."""
    clock = exchange.clock
    metrics = services.metrics
    plan = Plan(primary, policy=policy_for(primary, runtime.config.dubnium.default_retry_policy),
                channels=runtime.catalog.channels, resolve=runtime.catalog.resolve, blocks=services.blocks,
                health=services.health, clock=clock, rng=random.random, eligible=exchange.gate.allows,
                permitted=exchange.gate.permitted)
    exchange.plan = plan
    channel = plan.start()
    if channel is None:
        raise exchange.gate.deny_unserved()
    for skipped in plan.fallbacks:
        metrics.failovers.labels(skipped["reason"]).inc()
    while True:
        exchange.channel = channel
        exchange.gate.count_attempt(channel)  # retries and fallbacks count against budgets too
        with tracing.attempt(exchange.spans, exchange, channel):
            attempt = await _attempt(request, runtime, services, exchange, channel, raw, body, plan.retry_codes)
            step = plan.after(attempt.outcome, attempt.seen)
        if isinstance(step, Stop):
            break
        attempt.discard()
        (metrics.retries if step.retry else metrics.failovers).labels(step.reason).inc()
        if clock() + step.delay >= exchange.deadline:
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
        with tracing.step(exchange.spans, "relay"):
            if attempt.stream is not None:
                return await relay_stream(request, exchange, attempt.stream, services,
                                          idle=runtime.timeouts.stream_idle, secrets=secrets_for(runtime.catalog))
            assert attempt.answer is not None
            if exchange.spans is not None:
                exchange.spans.answered(exchange.api, attempt.answer.body)
            return await relay_json(exchange, services, channel, attempt.answer)
    if attempt.outcome.kind == "policy":
        metrics.policy_denials.labels(attempt.outcome.reason or "safety_policy_denial").inc()
    assert attempt.resp is not None
    exchange.error = f"upstream {channel.model} answered HTTP {attempt.resp.status}"
    return relay_upstream_error(attempt.resp, attempt.error_body, exchange, attempt.translation,
                                secrets_for(runtime.catalog))


@dataclass(slots=True)
class _Attempt:
    """One upstream try, classified, with what the relay needs if it turns out to be the answer."""

    channel: Channel
    translation: Translation | None
    sent: float
    outcome: Outcome
    seen: Seen
    resp: UpstreamResponse | None = None
    error_body: bytes = b""
    stream: OpenStream | None = None  # a stream whose answer has begun
    answer: Answer | None = None  # a non-streaming answer, read, checked and translated

    def discard(self) -> None:
        if self.resp is not None:
            self.resp.close()


async def _attempt(request: web.Request, runtime: Runtime, services: Services, exchange: Exchange,
                   channel: Channel, raw: bytes | None, body: dict[str, Any],
                   retry_codes: frozenset[int]) -> _Attempt:
    """Send once and classify. An answer counts only once it is known good: a whole JSON body read and
    checked, or a stream whose answer has begun; anything less can still fail over. The
    time-to-first-byte limit bounds both."""
    upstream_api = channel.upstream_api(exchange.api)
    translation = translation_for(exchange.api, upstream_api)
    if translation is None:
        merged = merge_system_runs(body) if upstream_api == CHAT else None
        payload = with_model(raw if merged is None else None, merged or body, channel.model_id)
    else:
        translated = translation.request(body, channel.model_id)
        if upstream_api == CHAT:
            fit_upstream(translated, model_id=channel.model_id, field=channel.max_tokens_field,
                         window=await services.windows.window(channel, services.pool))
        payload = json.dumps(translated).encode()
    headers = upstream_headers(channel, request.headers, exchange.trace, same_api=translation is None)
    now = exchange.clock()
    sent = time.perf_counter()  # durations: loop.time() under uvloop counts whole milliseconds
    first_byte_by = min(now + runtime.timeouts.first_byte, exchange.deadline)
    result = await services.pool.send(channel.url(upstream_api), headers, payload,
                                      headers_timeout=max(first_byte_by - now, 0.001))
    if isinstance(result, TransportFailure):
        host = upstream_host(channel)
        ms = _observe(services, channel, None, time.perf_counter() - sent)
        LOG.warning("request %s: upstream %s (%s) failed: %s: %s", exchange.request_id, channel.model,
                    host, result.kind, result.detail)
        return _Attempt(channel, translation, sent, classify(failure=result), Seen(ms=ms, upstream=host))
    seen = Seen(result.status, _observe(services, channel, result.status, time.perf_counter() - sent))
    try:
        if result.status >= 400:
            data = await _read_error_body(result, first_byte_by)
            outcome = classify(status=result.status, headers=result.headers, body=data,
                               retry_codes=retry_codes, now=time.time())
            return _Attempt(channel, translation, sent, outcome, seen, resp=result, error_body=data)
        answered = _Attempt(channel, translation, sent, classify(status=result.status), seen, resp=result)
        got: bytes | Answer | TransportFailure
        if exchange.stream:
            converter: StreamTranslator = (translation.stream() if translation is not None
                                           else PassThroughStream(exchange.api))
            got = await stream_head(result, converter, first_byte_by)
            if isinstance(got, bytes):
                content_type = (result.headers.get("Content-Type") if translation is None else None)
                answered.stream = OpenStream(result, converter, got, sent,
                                             content_type=content_type or EVENT_STREAM)
        else:
            got = await read_answer(result, upstream_api, translation, first_byte_by)
        if isinstance(got, TransportFailure):
            result.close()
            LOG.warning("request %s: upstream %s (%s) answered %d but %s: %s", exchange.request_id,
                        channel.model, upstream_host(channel), result.status, got.kind, got.detail)
            return _Attempt(channel, translation, sent, classify(failure=got), seen)
        if isinstance(got, Answer):
            result.release()
            answered.answer = got
        return answered
    except BaseException:  # the client left while we waited: drop the upstream connection now
        result.close()
        raise


async def _read_error_body(resp: UpstreamResponse, deadline: float) -> bytes:
    resp.limit(deadline, "the error body did not arrive in time")
    data = await read_all(resp)
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


def _observe(services: Services, channel: Channel, status: int | None, elapsed: float) -> float:
    """An attempt's time to its response head (or failure) into the metrics; its ms for the record."""
    services.metrics.upstream_duration.labels(channel.prefix).observe(elapsed)
    if status is not None and status < 400:
        services.latency.observe(channel.model, elapsed)  # time to the response headers: `prefer: fastest`
    return milliseconds(elapsed, 10)

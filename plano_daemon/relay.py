"""Writing an upstream's answer to the client: one JSON body (read, checked and translated before the
answer is chosen, see `read_answer`), an SSE stream relayed whole events at a time (passed through or
translated, its end checked), or an upstream error with every configured secret masked."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

from plano_daemon.catalog import Catalog, Channel
from plano_daemon.errors import GatewayError, UpstreamFailure
from plano_daemon.exchange import Exchange
from plano_daemon.json_codec import dumps, loads
from plano_daemon.runtime import Services
from plano_daemon.translate import StreamTranslator, Translation
from plano_daemon.upstream import (
    STREAM_ERRORS,
    TransportFailure,
    TransportKind,
    UpstreamResponse,
    UpstreamTimeout,
    read_all,
)
from plano_daemon.wire.answers import answer_problem
from plano_daemon.wire.errors import error_bytes
from plano_daemon.wire.usage import Usage, answer_usage

JSON = "application/json"
EVENT_STREAM = "text/event-stream"
MASK = b"[redacted]"
#: Shorter configured values are not masked: they would match ordinary text.
_MIN_SECRET = 6
_STALLED = "the upstream stream stalled or ran past the request deadline"


def upstream_host(channel: Channel) -> str:
    """host:port of a channel, for logs (never the URL's credentials)."""
    parts = urlsplit(channel.origin)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.hostname}:{port}"


_secrets_of: tuple[object, list[bytes]] = (None, [])


def secrets_for(catalog: Catalog) -> list[bytes]:
    """`secret_values` of a config's channels, computed once per config (a reload builds a new catalog)."""
    global _secrets_of
    if _secrets_of[0] is not catalog:
        _secrets_of = (catalog, secret_values(catalog.channels))
    return _secrets_of[1]


def secret_values(channels: Iterable[Channel]) -> list[bytes]:
    """Every configured credential (auth and extra header values, URL passwords), longest first."""
    found: set[str] = set()
    for channel in channels:
        for _, value in (*channel.auth_headers, *channel.extra_headers):
            found.add(value)
            found.add(value.removeprefix("Bearer ").strip())
        password = urlsplit(channel.origin).password
        if password:
            found.add(password)
    return sorted((v.encode() for v in found if len(v) >= _MIN_SECRET), key=len, reverse=True)


def mask(data: bytes, secrets: Iterable[bytes]) -> bytes:
    for secret in secrets:
        if data.find(secret) >= 0:  # not `in`: see wire/sse.LF
            data = data.replace(secret, MASK)
    return data


def relay_upstream_error(resp: UpstreamResponse, data: bytes, exchange: Exchange, translation: Translation | None,
                         secrets: Iterable[bytes]) -> web.Response:
    """Upstream non-2xx: same status; the body as sent, or re-rendered in the client's dialect, with every
    configured secret masked (an upstream may echo the key it rejected)."""
    resp.release()
    data = mask(data, secrets)
    if translation is None:
        return web.Response(status=resp.status, body=data,
                            content_type=(resp.content_type or JSON), headers=trace_headers(exchange))
    err = UpstreamFailure(_upstream_message(data) or f"upstream returned HTTP {resp.status}",
                          status=resp.status, code=f"upstream_{resp.status}")
    return error_response(exchange.api, err, exchange.request_id)


def _upstream_message(data: bytes) -> str | None:
    try:
        parsed = loads(data)
    except ValueError:
        return data[:500].decode("utf-8", errors="replace") or None
    if isinstance(parsed, dict):
        err = parsed.get("error")
        message = err.get("message") if isinstance(err, dict) else err if isinstance(err, str) else None
        if not isinstance(message, str):
            message = parsed.get("message")
        if isinstance(message, str):
            return message
    return None


@dataclass(slots=True)
class Answer:
    """A whole non-streaming answer, checked and already in the client's dialect."""

    status: int
    body: bytes
    usage: Usage


async def read_answer(resp: UpstreamResponse, upstream_api: str, translation: Translation | None,
                      by: float) -> Answer | TransportFailure:
    """Read a 2xx body by `by` (the attempt's first-byte limit: for a non-streaming request, the whole
    generation), check it is an answer of `upstream_api` and translate it. Anything else is a failure
    the retry plan can fail over from, since the client has seen nothing yet."""
    resp.limit(by, "the answer did not arrive in time")
    data = await read_all(resp)
    if isinstance(data, TransportFailure):
        return data
    try:
        parsed = loads(data)
    except (ValueError, RecursionError):
        return TransportFailure("bad_response", "the answer is not JSON")
    problem = answer_problem(upstream_api, parsed)
    if problem is not None:
        return TransportFailure("bad_response", problem)
    usage = answer_usage(upstream_api, parsed)
    if translation is None:
        return Answer(resp.status, data, usage)
    try:
        return Answer(resp.status, dumps(translation.response(parsed)), usage)
    except (GatewayError, ValueError, TypeError, KeyError, AttributeError):
        return TransportFailure("bad_response", "the answer cannot be translated")


async def stream_head(resp: UpstreamResponse, converter: StreamTranslator,
                      by: float) -> bytes | TransportFailure:
    """Read until the stream's answer has begun (the client's first bytes), by `by`. A stream that ends,
    errs or holds no event of its API before then is a failure the plan can still fail over from."""
    out = b""  # keep-alive comments before the first event go out with it
    resp.limit(by, "no stream data in time")
    try:
        while True:
            chunk = await resp.readany()
            out += converter.feed(chunk) if chunk else converter.finish()
            if converter.failure is not None:
                kind: TransportKind = "upstream_error" if chunk and converter.anomalies == 0 else "bad_response"
                return TransportFailure(kind, converter.failure)
            if converter.started:
                return out
            if converter.anomalies or converter.done:
                return TransportFailure("bad_response", "the stream holds no event of its API")
    except UpstreamTimeout as exc:
        return TransportFailure("timeout", str(exc))
    except STREAM_ERRORS as exc:
        return TransportFailure("reset", str(exc))


async def relay_json(exchange: Exchange, services: Services, channel: Channel, answer: Answer) -> web.Response:
    exchange.usage = answer.usage
    count_tokens(services, channel, exchange)
    if exchange.turn is not None:  # state_storage: stored before the client has the answer
        exchange.turn.answered(answer.body)
        await exchange.turn.save(exchange)
    # The Content-Type as a header, not `content_type=`: aiohttp then skips parsing it back (a third of
    # the response object's cost).
    return web.Response(status=answer.status, body=answer.body,
                        headers={"Content-Type": JSON, "X-Request-Id": exchange.request_id})


class _StreamOut(web.StreamResponse):
    """The client's stream, its headers sent with its first bytes (the head) in one write, not two:
    aiohttp (3.12 and later) buffers them until then when a response says so, as `web.Response` does."""

    _send_headers_immediately = False


@dataclass(slots=True)
class OpenStream:
    """An upstream stream whose answer has begun (`stream_head`), not yet relayed."""

    resp: UpstreamResponse
    converter: StreamTranslator  # its translator, or the pass-through watcher
    head: bytes  # what the client gets first: read before the answer was chosen
    sent: float  # `time.perf_counter()` when its request was sent: time to first token
    content_type: str = EVENT_STREAM


async def relay_stream(request: web.Request, exchange: Exchange, stream: OpenStream, services: Services, *,
                       idle: float, secrets: Sequence[bytes]) -> web.StreamResponse:
    """Forward whole events as they arrive, each silent for at most `idle` seconds, with `secrets` masked
    (an error event may quote the key, like an error body). After the first byte, an upstream failure
    (cut, stalled, unreadable, an error event) ends the stream with an error event in the client's dialect
    and is recorded on the exchange; a client that goes away closes the upstream at once."""
    channel, resp, converter, head = exchange.channel, stream.resp, stream.converter, stream.head
    assert channel is not None
    out = _StreamOut(status=resp.status, headers={
        "Content-Type": stream.content_type, "Cache-Control": "no-cache", **trace_headers(exchange)})
    await out.prepare(request)
    services.metrics.ttft.labels(channel.prefix).observe(time.perf_counter() - stream.sent)
    failure: tuple[str, str] | None = None
    try:
        await out.write(mask(head, secrets))
        if exchange.turn is not None:
            exchange.turn.feed(head)
        if exchange.spans is not None:
            exchange.spans.streamed(exchange.api, head)
        resp.pace(idle, exchange.deadline, _STALLED)
        async with asyncio.timeout_at(exchange.deadline):  # also bounds a client that stops reading
            while True:
                chunk = await resp.readany()
                if not chunk:
                    break
                data = converter.feed(chunk)
                if data:
                    if exchange.turn is not None:
                        exchange.turn.feed(data)
                    if exchange.spans is not None:
                        exchange.spans.streamed(exchange.api, data)
                    await out.write(mask(data, secrets))
    except (TimeoutError, UpstreamTimeout):
        failure = ("timeout", _STALLED)
    except ConnectionResetError:  # our write to the client failed: it went away (upstream ones are UpstreamBroken)
        resp.close()
        exchange.client_closed = True
        return out
    except asyncio.CancelledError:
        resp.close()
        raise
    except STREAM_ERRORS as exc:
        failure = ("reset", f"the upstream connection failed mid-stream ({exc})")
    finally:  # what the upstream spent counts against budgets even when the client left early
        exchange.usage = Usage(converter.usage.input_tokens, converter.usage.output_tokens)
        count_tokens(services, channel, exchange)
    if failure is not None:
        resp.close()
        tail = converter.error(failure[1])
    else:
        resp.release()
        ended = converter.done
        tail = converter.finish()
        if converter.failure is not None:
            failure = ("upstream_error" if ended else "truncated", converter.failure)
    if failure is not None:
        exchange.stream_failed(*failure)
    if exchange.spans is not None:
        exchange.spans.streamed(exchange.api, tail)
    try:
        if failure is None and exchange.turn is not None:  # stored before the client sees the stream end
            exchange.turn.feed(tail)
            await exchange.turn.save(exchange)
        await out.write_eof(mask(tail, secrets))  # the last events and the end of the body: one write
    except ConnectionResetError:
        exchange.client_closed = True
    return out


def count_tokens(services: Services, channel: Channel, exchange: Exchange) -> None:
    usage = exchange.usage
    if usage.input_tokens:
        services.metrics.tokens.labels(channel.model, "input").inc(usage.input_tokens)
    if usage.output_tokens:
        services.metrics.tokens.labels(channel.model, "output").inc(usage.output_tokens)
    exchange.gate.count_tokens(channel, usage.input_tokens + usage.output_tokens)


def trace_headers(exchange: Exchange) -> dict[str, str]:
    return {"X-Request-Id": exchange.request_id}


def error_response(api: str, err: GatewayError, request_id: str) -> web.Response:
    """A gateway error as JSON in the client's dialect, named by the request's id."""
    return web.Response(status=err.status, body=error_bytes(api, err), content_type=JSON,
                        headers={**err.headers, "X-Request-Id": request_id})

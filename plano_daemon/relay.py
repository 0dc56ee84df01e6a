"""Writing an upstream's answer to the client: one JSON body, an SSE stream relayed as it arrives (passed
through, or fed through a stream translator), or an upstream error; token usage is read on the way."""

from __future__ import annotations

import asyncio
import json
import re
import time

import aiohttp
from aiohttp import web

from plano_daemon.catalog import Channel
from plano_daemon.errors import GatewayError, UpstreamFailure, UpstreamTimeout
from plano_daemon.request_context import Ctx
from plano_daemon.runtime import Runtime, Services
from plano_daemon.translate import Translation
from plano_daemon.upstream import STREAM_ERRORS, TransportFailure, read_all
from plano_daemon.wire.errors import error_bytes
from plano_daemon.wire.stream_errors import stream_error_event

JSON = "application/json"
_USAGE_IN = re.compile(rb'"(?:prompt_tokens|input_tokens)"\s*:\s*(\d+)')
_USAGE_OUT = re.compile(rb'"(?:completion_tokens|output_tokens)"\s*:\s*(\d+)')


def transport_error(failure: TransportFailure, channel: Channel) -> GatewayError:
    if failure.kind == "timeout":
        return UpstreamTimeout(f"upstream {channel.name} timed out ({failure.detail})")
    return UpstreamFailure(f"upstream {channel.name} failed ({failure.kind}: {failure.detail})")


def relay_upstream_error(resp: aiohttp.ClientResponse, data: bytes, ctx: Ctx,
                          translation: Translation | None) -> web.Response:
    """Upstream non-2xx: same status; the body as sent, or re-rendered in the client's dialect."""
    resp.release()
    if translation is None:
        return web.Response(status=resp.status, body=data,
                            content_type=(resp.content_type or JSON), headers=trace_headers(ctx))
    err = UpstreamFailure(_upstream_message(data) or f"upstream returned HTTP {resp.status}",
                          status=resp.status, code=f"upstream_{resp.status}")
    return error_response(ctx.api, err, ctx.request_id)


def _upstream_message(data: bytes) -> str | None:
    try:
        parsed = json.loads(data)
    except ValueError:
        return data[:500].decode("utf-8", errors="replace") or None
    if isinstance(parsed, dict):
        err = parsed.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return err["message"]
        if isinstance(err, str):
            return err
        if isinstance(parsed.get("message"), str):
            return parsed["message"]
    return None


async def relay_json(ctx: Ctx, services: Services, channel: Channel, resp: aiohttp.ClientResponse,
                     translation: Translation | None) -> web.Response:
    try:
        async with asyncio.timeout_at(ctx.deadline):
            data = await read_all(resp)
    except TimeoutError:
        resp.close()
        raise UpstreamTimeout(f"upstream {channel.name} did not finish within the request deadline") from None
    resp.release()
    if isinstance(data, TransportFailure):
        raise transport_error(data, channel)
    _count_usage(ctx, services, channel, data)
    if translation is not None:
        try:
            parsed = json.loads(data)
        except ValueError:
            raise UpstreamFailure(f"upstream {channel.name} sent a body that is not JSON") from None
        data = json.dumps(translation.response(parsed)).encode()
    if ctx.turn is not None:
        ctx.turn.answered(data)
        await ctx.turn.save(ctx)
    return web.Response(status=resp.status, body=data, content_type=JSON, headers=trace_headers(ctx))


async def relay_stream(request: web.Request, rt: Runtime, services: Services, ctx: Ctx, channel: Channel,
                       resp: aiohttp.ClientResponse, translation: Translation | None,
                       sent: float, *, head: bytes = b"") -> web.StreamResponse:
    """Forward chunks as they arrive; an upstream failure after the first byte ends the stream with an
    error event in the client's dialect, and a client that goes away closes the upstream at once."""
    out = web.StreamResponse(status=resp.status, headers={
        "Content-Type": "text/event-stream" if translation else (resp.headers.get("Content-Type")
                                                                 or "text/event-stream"),
        "Cache-Control": "no-cache", **trace_headers(ctx)})
    await out.prepare(request)
    converter = translation.stream() if translation is not None else None
    sniffer = UsageSniffer()
    loop = asyncio.get_running_loop()
    idle = rt.timeouts.stream_idle
    first = True
    failure: str | None = None
    try:
        async with asyncio.timeout(None) as guard:
            while True:
                guard.reschedule(min(loop.time() + idle, ctx.deadline))
                chunk = head or await resp.content.readany()
                head = b""
                if not chunk:
                    break
                if first:
                    first = False
                    services.metrics.ttft.labels(channel.prefix).observe(time.perf_counter() - sent)
                sniffer.feed(chunk)
                if converter is not None:
                    chunk = converter.feed(chunk)
                    if not chunk:
                        continue
                if ctx.turn is not None:
                    ctx.turn.feed(chunk)
                await out.write(chunk)
    except TimeoutError:
        failure = "the upstream stream stalled or ran past the request deadline"
    except ConnectionResetError:  # our write to the client failed: it went away (upstream errors are aiohttp's)
        resp.close()
        ctx.client_closed = True
        return out
    except asyncio.CancelledError:
        resp.close()
        raise
    except STREAM_ERRORS as exc:
        failure = f"the upstream connection failed mid-stream ({type(exc).__name__})"
    finally:  # what the upstream spent counts against budgets even when the client left early
        ctx.input_tokens, ctx.output_tokens = sniffer.input_tokens, sniffer.output_tokens
        _count_tokens(services, channel, ctx)
    if failure is not None:
        resp.close()
        tail = converter.error(failure) if converter is not None else stream_error_event(ctx.api, failure)
    else:
        resp.release()
        tail = converter.finish() if converter is not None else b""
    try:
        if tail:
            await out.write(tail)
        if failure is None and ctx.turn is not None:  # stored before the client sees the stream end
            ctx.turn.feed(tail)
            await ctx.turn.save(ctx)
        await out.write_eof()
    except ConnectionResetError:
        ctx.client_closed = True
    return out


class UsageSniffer:
    """Token counts from a stream's usage events, looking only at lines that mention usage."""

    __slots__ = ("_tail", "input_tokens", "output_tokens")

    def __init__(self) -> None:
        self._tail = b""
        self.input_tokens = 0
        self.output_tokens = 0

    def feed(self, chunk: bytes) -> None:
        # Usage may straddle chunks: scan when the chunk, the previous one, or their seam mentions it
        # (a number cut in two is read whole in the next window; max() keeps the whole one).
        tail = self._tail
        if (b'"usage"' not in chunk and b'"usage"' not in tail and b"_tokens" not in tail
                and b'"usage"' not in tail[-7:] + chunk[:7]):
            self._tail = chunk[-256:]
            return
        data = self._tail + chunk
        self._tail = chunk[-256:]
        for m in _USAGE_IN.finditer(data):
            self.input_tokens = max(self.input_tokens, int(m.group(1)))
        for m in _USAGE_OUT.finditer(data):
            self.output_tokens = max(self.output_tokens, int(m.group(1)))


def _count_usage(ctx: Ctx, services: Services, channel: Channel, data: bytes) -> None:
    m_in = _USAGE_IN.search(data)
    m_out = _USAGE_OUT.search(data)
    ctx.input_tokens = int(m_in.group(1)) if m_in else 0
    ctx.output_tokens = int(m_out.group(1)) if m_out else 0
    _count_tokens(services, channel, ctx)


def _count_tokens(services: Services, channel: Channel, ctx: Ctx) -> None:
    if ctx.input_tokens:
        services.metrics.tokens.labels(channel.model, "input").inc(ctx.input_tokens)
    if ctx.output_tokens:
        services.metrics.tokens.labels(channel.model, "output").inc(ctx.output_tokens)
    if ctx.gate is not None:
        ctx.gate.count_tokens(channel, ctx.input_tokens + ctx.output_tokens)


def trace_headers(ctx: Ctx) -> dict[str, str]:
    return {"X-Request-Id": ctx.request_id}


def error_response(api: str, err: GatewayError, request_id: str) -> web.Response:
    """A gateway error as JSON in the client's dialect, named by the request's id."""
    return web.Response(status=err.status, body=error_bytes(api, err), content_type=JSON,
                        headers={"X-Request-Id": request_id})

"""OpenTelemetry traces (Plano's `tracing`): one SERVER span per proxied request, with children for the
routing decision, each upstream attempt (CLIENT, its id sent upstream in `traceparent`) and the relay.

Attributes follow the OpenTelemetry GenAI semantic conventions as of semconv 1.37.0 (`SCHEMA_URL`), plus
the `llm.*` names Plano's own spans use where they differ. Spans carry model names, counts, statuses and
routing facts only: never prompt or answer text, never a credential header.
Exported over OTLP/gRPC to `tracing.opentracing_grpc_endpoint` by a background thread (BatchSpanProcessor).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from plano_daemon.catalog import CHAT, MESSAGES, Channel
from plano_daemon.errors import ConfigError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Span, Tracer

    from plano_daemon.config.schema import Tracing as TracingSettings
    from plano_daemon.wire.trace import Trace

#: The semantic-conventions version the attribute names follow (GenAI: `gen_ai.provider.name` era).
SCHEMA_URL = "https://opentelemetry.io/schemas/1.37.0"
#: Seconds one export may take: a collector that is down delays only the exporter thread, and stopping
#: the gateway by at most about this much.
EXPORT_TIMEOUT = 2
#: Never span attributes, whatever `span_attributes.header_prefixes` says.
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "api-key", "cookie",
                                 "set-cookie", "x-goog-api-key"})
#: Provider prefixes → `gen_ai.provider.name` well-known values; any other prefix is used as it is.
_PROVIDER_NAMES = {"openai": "openai", "anthropic": "anthropic", "gemini": "gcp.gemini", "groq": "groq",
                   "mistral": "mistral_ai", "deepseek": "deepseek", "xai": "x_ai",
                   "azure_openai": "azure.ai.openai"}
#: The trace id a new root span takes: the request id the logs and the ledger already use.
_NEXT_TRACE_ID: contextvars.ContextVar[int] = contextvars.ContextVar("plano_next_trace_id", default=0)


def provider_name(channel: Channel) -> str:
    return _PROVIDER_NAMES.get(channel.prefix, channel.prefix)


def finish_reasons(api: str, body: bytes) -> list[str]:
    """Why the model stopped, from a non-streaming answer in the client's dialect."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return []
    if not isinstance(parsed, dict):
        return []
    if api == CHAT:
        choices = parsed.get("choices")
        return [str(c["finish_reason"]) for c in choices if isinstance(c, dict) and c.get("finish_reason")] \
            if isinstance(choices, list) else []
    if api == MESSAGES:
        return [str(parsed["stop_reason"])] if parsed.get("stop_reason") else []
    return [str(parsed["status"])] if parsed.get("status") else []


class StreamFinish:
    """The finish reasons in a stream as the client receives it (chat chunks' `finish_reason`, Anthropic's
    `message_delta.stop_reason`, the Responses terminal event's status); only events naming one are parsed."""

    __slots__ = ("_api", "_buffer", "reasons")
    _MARKERS = (b'"finish_reason"', b'"stop_reason"', b'"response.completed"', b'"response.incomplete"')

    def __init__(self, api: str) -> None:
        self._api = api
        self._buffer = b""
        self.reasons: list[str] = []

    def feed(self, chunk: bytes) -> None:
        *events, self._buffer = (self._buffer + chunk).replace(b"\r\n", b"\n").split(b"\n\n")
        for event in events:
            if any(marker in event for marker in self._MARKERS):
                for line in event.split(b"\n"):
                    if line.startswith(b"data:"):
                        self._read(line[5:].strip())

    def _read(self, data: bytes) -> None:
        try:
            parsed = json.loads(data)
        except ValueError:
            return
        if not isinstance(parsed, dict):
            return
        if self._api == CHAT:
            found = finish_reasons(CHAT, data)
        elif self._api == MESSAGES:
            delta = parsed.get("delta")
            found = [str(delta["stop_reason"])] if isinstance(delta, dict) and delta.get("stop_reason") else []
        else:
            response = parsed.get("response")
            found = [str(response["status"])] if isinstance(response, dict) and response.get("status") else []
        self.reasons.extend(r for r in found if r not in self.reasons)


class Tracing:
    """The exporter and tracer of one gateway process."""

    def __init__(self, settings: TracingSettings) -> None:
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.resources import Resource
            from opentelemetry.sdk.trace import TracerProvider
            from opentelemetry.sdk.trace.export import BatchSpanProcessor
            from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
            from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
            from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
        except ImportError:
            raise ConfigError(["tracing: needs the OpenTelemetry packages (install plano-daemon with its "
                               "`tracing` extra)"]) from None

        class RequestIds(RandomIdGenerator):
            def generate_trace_id(self) -> int:
                return _NEXT_TRACE_ID.get() or super().generate_trace_id()

        endpoint = settings.opentracing_grpc_endpoint
        self._provider: TracerProvider = TracerProvider(
            resource=Resource.create({"service.name": "plano-daemon"}), id_generator=RequestIds(),
            sampler=ParentBased(TraceIdRatioBased(settings.random_sampling / 100)))
        self._provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(
            endpoint=endpoint, insecure=urlsplit(endpoint).scheme == "http", timeout=EXPORT_TIMEOUT),
            export_timeout_millis=EXPORT_TIMEOUT * 1000))
        self.tracer: Tracer = self._provider.get_tracer("plano_daemon", schema_url=SCHEMA_URL)
        self._propagator = TraceContextTextMapPropagator()
        self._prefixes = tuple(p.lower() for p in settings.span_attributes.header_prefixes)
        self._static: dict[str, str] = dict(settings.span_attributes.static)

    def start(self, headers: Mapping[str, str], trace: Trace, *, api: str, method: str, path: str) -> RequestSpans:
        """The request's SERVER span: a child of the client's `traceparent`, else a root whose trace id is
        the request id."""
        from opentelemetry.trace import SpanKind

        parent = self._propagator.extract({k.lower(): v for k, v in headers.items() if k.lower() == "traceparent"})
        token = _NEXT_TRACE_ID.set(int(trace.trace_id, 16))
        try:
            span = self.tracer.start_span(f"{method} {path}", context=parent, kind=SpanKind.SERVER, attributes={
                "http.request.method": method, "url.path": path, "gen_ai.operation.name": "chat",
                "llm.operation_type": "chat", "plano.api": api, **self._static,
                **{f"http.request.header.{k.lower()}": v for k, v in headers.items()
                   if self._prefixes and k.lower().startswith(self._prefixes)
                   and k.lower() not in _CREDENTIAL_HEADERS}})
        finally:
            _NEXT_TRACE_ID.reset(token)
        return RequestSpans(self, span)

    async def flush(self) -> None:
        await asyncio.to_thread(self._provider.force_flush)

    async def close(self) -> None:
        await asyncio.to_thread(self._provider.shutdown)


class RequestSpans:
    """The spans of one request; the proxy calls these at its steps."""

    __slots__ = ("_tracing", "root", "_context", "finish_reasons", "_stream")

    def __init__(self, tracing: Tracing, root: Span) -> None:
        from opentelemetry.trace import set_span_in_context

        self._tracing = tracing
        self.root = root
        self._context = set_span_in_context(root)
        self.finish_reasons: list[str] = []
        self._stream: StreamFinish | None = None

    def answered(self, api: str, body: bytes) -> None:
        """Read the finish reasons of a non-streaming answer (only when this trace is sampled)."""
        if self.root.is_recording():
            self.finish_reasons = finish_reasons(api, body)

    def streamed(self, api: str, chunk: bytes) -> None:
        """A chunk of the stream the client receives, read for its finish reasons (only when sampled)."""
        if self.root.is_recording():
            if self._stream is None:
                self._stream = StreamFinish(api)
            self._stream.feed(chunk)

    @contextmanager
    def step(self, name: str, **attributes: Any) -> Iterator[Span]:
        """An INTERNAL child span (routing, relay) around a block."""
        span = self._tracing.tracer.start_span(name, context=self._context, attributes=attributes)
        try:
            yield span
        finally:
            span.end()

    @contextmanager
    def attempt(self, ctx: Any, channel: Channel, number: int) -> Iterator[Span]:
        """A CLIENT span around one upstream attempt; while it is open, the request's trace names it, so
        the upstream's `traceparent` is this span. Its status comes from the attempt's record."""
        from opentelemetry.trace import SpanKind

        provider = provider_name(channel)
        host = urlsplit(channel.origin).hostname or ""
        span = self._tracing.tracer.start_span(f"chat {channel.model_id}", context=self._context,
                                               kind=SpanKind.CLIENT, attributes={
            "gen_ai.operation.name": "chat", "gen_ai.provider.name": provider,
            "gen_ai.request.model": channel.model_id, "llm.model": channel.model_id, "llm.provider": provider,
            "llm.is_streaming": bool(ctx.stream), "server.address": host, "plano.channel": channel.model,
            "plano.attempt": number})
        sc = span.get_span_context()
        outer: Trace = ctx.trace
        ctx.trace = replace(outer, span_id=f"{sc.span_id:016x}", flags=f"{int(sc.trace_flags):02x}")
        try:
            yield span
        finally:
            ctx.trace = outer
            record = ctx.attempts[number - 1].record() if len(ctx.attempts) >= number else {}
            if record.get("status") is not None:
                span.set_attribute("http.response.status_code", record["status"])
            if record.get("error") or (record.get("status") or 0) >= 400:
                span.set_attribute("error.type", str(record.get("error") or record.get("status")))
                _set_error(span)
            if record.get("reason"):
                span.set_attribute("plano.retry_reason", str(record["reason"]))
            span.end()

    def finish(self, ctx: Any, status: int) -> None:
        """End the request span with what the request became (models, tokens, status)."""
        span = self.root
        attributes: dict[str, Any] = {"http.response.status_code": status, "llm.is_streaming": bool(ctx.stream),
                                      "plano.request_id": ctx.request_id, "plano.attempts": len(ctx.attempts)}
        if ctx.requested is not None:
            attributes["gen_ai.request.model"] = ctx.requested
        if ctx.channel is not None:
            provider = provider_name(ctx.channel)
            attributes.update({"gen_ai.provider.name": provider, "llm.provider": provider,
                               "gen_ai.response.model": ctx.channel.model_id, "llm.model": ctx.channel.model_id})
        if ctx.route:
            attributes["plano.route"] = ctx.route
        attributes["plano.router"] = ctx.router
        tokens_in, tokens_out = ctx.usage.input_tokens, ctx.usage.output_tokens
        if tokens_in or tokens_out:
            attributes.update({
                "gen_ai.usage.input_tokens": tokens_in, "gen_ai.usage.output_tokens": tokens_out,
                "llm.usage.prompt_tokens": tokens_in, "llm.usage.completion_tokens": tokens_out,
                "llm.usage.total_tokens": tokens_in + tokens_out})
        reasons = self._stream.reasons if self._stream is not None else self.finish_reasons
        if reasons:
            attributes["gen_ai.response.finish_reasons"] = reasons
        span.set_attributes(attributes)
        if status >= 500 or (status < 400 and ctx.error):  # a client's 4xx is not the server's error
            span.set_attribute("error.type", str(status))
            _set_error(span)
        span.end()


def _set_error(span: Span) -> None:
    from opentelemetry.trace import Status, StatusCode

    span.set_status(Status(StatusCode.ERROR))


#: What `step` and `attempt` give when tracing is off: one shared no-op context (it holds no state).
_OFF: AbstractContextManager[Any] = nullcontext()


def step(spans: RequestSpans | None, name: str) -> AbstractContextManager[Any]:
    """`spans.step(name)`, or nothing when tracing is off."""
    return spans.step(name) if spans is not None else _OFF


def attempt(spans: RequestSpans | None, ctx: Any, channel: Channel) -> AbstractContextManager[Any]:
    """`spans.attempt(...)` for the request's next attempt, or nothing when tracing is off."""
    return spans.attempt(ctx, channel, len(ctx.attempts) + 1) if spans is not None else _OFF


def build_tracing(settings: TracingSettings | None) -> Tracing | None:
    return Tracing(settings) if settings is not None else None

"""A real OTLP/gRPC trace receiver on 127.0.0.1: the collector's TraceService, keeping every span it gets."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span


def value(v: AnyValue) -> Any:
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [value(x) for x in v.array_value.values]
    return getattr(v, kind) if kind else None


class Received:
    """One decoded span: its ids as hex, name, kind, status and attributes as a plain dict."""

    def __init__(self, span: Span) -> None:
        self.trace_id = span.trace_id.hex()
        self.span_id = span.span_id.hex()
        self.parent_id = span.parent_span_id.hex()
        self.name = span.name
        self.kind = Span.SpanKind.Name(span.kind)
        self.error = span.status.code == 2
        self.attributes = {a.key: value(a.value) for a in span.attributes}

    def __repr__(self) -> str:
        return f"<{self.kind} {self.name} {self.span_id} ← {self.parent_id}>"


class OtlpReceiver(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.spans: list[Received] = []
        self.raw: list[bytes] = []  # every export request as sent, to search for what must never be there
        self._server: grpc.aio.Server | None = None
        self.port = 0

    async def Export(self, request: Any, context: Any) -> Any:  # noqa: N802 (the gRPC method's name)
        self.raw.append(request.SerializeToString())
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                self.spans.extend(Received(s) for s in scope_spans.spans)
        return trace_service_pb2.ExportTraceServiceResponse()

    async def start(self) -> None:
        self._server = grpc.aio.server()
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self, self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        await self._server.start()

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(None)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        async with asyncio.timeout(timeout):
            while len(self.spans) < count:
                await asyncio.sleep(0.02)
        return self.spans

"""OpenTelemetry traces end to end: the official SDKs → the gateway → fake upstreams, spans exported over
OTLP/gRPC to a real receiver on 127.0.0.1 and decoded there."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.conftest import config, provider
from tests.fakes.upstream import reply_status
from tests.tracing.otlp_receiver import OtlpReceiver, Received

PROMPT = "the secret plan for tuesday"
CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN = "00f067aa0ba902b7"


@pytest.fixture
async def receiver() -> AsyncIterator[OtlpReceiver]:
    rx = OtlpReceiver()
    await rx.start()
    yield rx
    await rx.stop()


async def spans_of(gw: Any, rx: OtlpReceiver, count: int) -> list[Received]:
    await gw.server.gateway.services.tracing.flush()
    return await rx.wait_for(count)


def traceparent_sent(rec: Any) -> tuple[str, str, str]:
    _, trace_id, span_id, flags = rec.headers["traceparent"].split("-")
    return trace_id, span_id, flags


async def test_a_failed_over_request_has_one_span_per_attempt_and_upstreams_see_their_attempt_span(
        fake_upstream, gateway, openai_client, receiver):
    a, b = await fake_upstream("a"), await fake_upstream("b")
    a.script(reply_status(503))
    gw = await gateway(config(provider("a/m", a, retry_policy={"fallback_models": ["b/m"]}), provider("b/m", b),
                              tracing={"random_sampling": 100, "opentracing_grpc_endpoint": receiver.endpoint}))
    client = openai_client(gw)

    reply = await client.chat.completions.create(
        model="a/m", messages=[{"role": "user", "content": PROMPT}],
        extra_headers={"traceparent": f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"})
    assert reply.choices[0].message.content == f"echo: {PROMPT}"

    spans = await spans_of(gw, receiver, 5)
    assert {s.trace_id for s in spans} == {CLIENT_TRACE}
    (root,) = [s for s in spans if s.kind == "SPAN_KIND_SERVER"]
    assert root.parent_id == CLIENT_SPAN
    attempts = [s for s in spans if s.kind == "SPAN_KIND_CLIENT"]
    assert [s.attributes["gen_ai.request.model"] for s in attempts] == ["m", "m"]
    assert [s.attributes["plano.channel"] for s in attempts] == ["a/m", "b/m"]
    assert [s.attributes.get("http.response.status_code") for s in attempts] == [503, 200]
    assert [s.error for s in attempts] == [True, False]
    assert sorted(s.name for s in spans if s.kind == "SPAN_KIND_INTERNAL") == ["relay", "routing"]
    assert all(s.parent_id == root.span_id for s in spans if s is not root)
    # W3C continuity: each upstream was called as a child of its own attempt span.
    assert traceparent_sent(a.received[0]) == (CLIENT_TRACE, attempts[0].span_id, "01")
    assert traceparent_sent(b.received[0]) == (CLIENT_TRACE, attempts[1].span_id, "01")

    attrs = root.attributes
    assert attrs["gen_ai.operation.name"] == "chat" and attrs["gen_ai.provider.name"] == "b"
    assert (attrs["gen_ai.request.model"], attrs["gen_ai.response.model"]) == ("a/m", "m")
    assert (attrs["gen_ai.usage.input_tokens"], attrs["gen_ai.usage.output_tokens"]) == (11, 7)
    assert (attrs["llm.usage.prompt_tokens"], attrs["llm.usage.total_tokens"]) == (11, 18)
    assert attrs["gen_ai.response.finish_reasons"] == ["stop"]
    assert attrs["http.response.status_code"] == 200 and attrs["plano.attempts"] == 2
    exported = b"".join(receiver.raw)
    assert PROMPT.encode() not in exported and b"key-for-" not in exported


async def test_without_a_client_traceparent_the_trace_id_is_the_request_id(
        fake_upstream, gateway, anthropic_client, receiver):
    up = await fake_upstream()
    gw = await gateway(config(provider("anthropic/claude-x", up),
                              tracing={"opentracing_grpc_endpoint": receiver.endpoint,
                                       "span_attributes": {"header_prefixes": ["x-team", "x-api"],
                                                           "static": {"deployment": "laptop"}}}))
    raw = await anthropic_client(gw).messages.with_raw_response.create(
        model="anthropic/claude-x", max_tokens=20, messages=[{"role": "user", "content": PROMPT}],
        stream=True, extra_headers={"X-Team": "infra"})
    async for _ in await raw.parse():
        pass

    spans = await spans_of(gw, receiver, 4)
    (root,) = [s for s in spans if s.kind == "SPAN_KIND_SERVER"]
    assert root.trace_id == raw.headers["x-request-id"] and root.parent_id == ""
    assert root.attributes["gen_ai.provider.name"] == "anthropic" and root.attributes["llm.is_streaming"] is True
    assert root.attributes["gen_ai.response.finish_reasons"] == ["end_turn"]
    assert root.attributes["http.request.header.x-team"] == "infra" and root.attributes["deployment"] == "laptop"
    assert not any("x-api-key" in k for k in root.attributes)  # a credential header, whatever the prefixes say


async def test_random_sampling_zero_exports_nothing_and_says_so_upstream(
        fake_upstream, gateway, openai_client, receiver):
    up = await fake_upstream()
    gw = await gateway(config(provider("local/qwen", up),
                              tracing={"random_sampling": 0, "opentracing_grpc_endpoint": receiver.endpoint}))
    client = openai_client(gw)
    for _ in range(3):
        await client.chat.completions.create(model="local/qwen", messages=[{"role": "user", "content": "hi"}])

    await gw.server.gateway.services.tracing.flush()
    assert receiver.spans == []
    assert {int(traceparent_sent(r)[2], 16) & 1 for r in up.received} == {0}  # the sampled bit is off


async def test_an_unreachable_collector_costs_requests_nothing_and_stopping_stays_quick(
        fake_upstream, gateway, openai_client):
    up = await fake_upstream()
    gw = await gateway(config(provider("local/qwen", up),
                              tracing={"opentracing_grpc_endpoint": "http://127.0.0.1:9"}))  # discard port: closed
    client = openai_client(gw)
    for _ in range(5):
        reply = await client.chat.completions.create(model="local/qwen", messages=[{"role": "user", "content": "hi"}])
        assert reply.choices[0].message.content == "echo: hi"

    started = time.monotonic()
    await gw.server.stop()
    assert time.monotonic() - started < 5

"""Retries and failover through real sockets: the OpenAI SDK → gateway → one fake server per channel."""

from __future__ import annotations

import json
import logging
import socket
import time
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest
import yaml

from tests.conftest import config, provider
from tests.fakes.upstream import (
    chat_chunks,
    hang,
    reply_sse,
    reply_status,
    reset_connection,
    sse_then_reset,
)

SEED = Path(__file__).parent.parent / "fixtures" / "seed-retry-failover.yaml"
HELLO = [{"role": "user", "content": "hello"}]
#: Routes to seed 001's "code generation" preference, whose model is the primary with the retry_policy.
CODE = [{"role": "user", "content": "Write a Python function that implements a new feature: parse a CSV file"}]


def text_of(reply: Any) -> str:
    return reply.choices[0].message.content


def closed_port_url() -> str:
    """A loopback URL nothing listens on: connection refused."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/v1"


async def three(fake_upstream: Any) -> tuple[Any, Any, Any]:
    return await fake_upstream("a"), await fake_upstream("b"), await fake_upstream("c")


async def test_429_with_retry_after_fails_over_to_second_channel(fake_upstream, gateway, openai_client):
    a, b, _ = await three(fake_upstream)
    a.script(reply_status(429, retry_after="30"))
    gw = await gateway(config(
        provider("a/opus", a, retry_policy={"fallback_models": ["b/opus"]}), provider("b/opus", b)))

    reply = await openai_client(gw).chat.completions.create(model="a/opus", messages=HELLO)

    assert text_of(reply) == "echo: hello"
    assert [len(a.received), len(b.received)] == [1, 1]
    assert b.received[0].headers["Authorization"] == "Bearer key-for-b/opus"
    # Retry-After blocked a/opus globally: the next request goes straight to b.
    await openai_client(gw).chat.completions.create(model="a/opus", messages=HELLO)
    assert [len(a.received), len(b.received)] == [1, 2]


async def test_same_model_waits_the_retry_after_floor(fake_upstream, gateway, openai_client):
    a, b, _ = await three(fake_upstream)
    a.script(reply_status(429, retry_after="1"))
    gw = await gateway(config(
        provider("a/opus", a, retry_policy={"default_strategy": "same_model",
                                            "backoff": {"base_ms": 1, "max_ms": 1}}),
        provider("b/opus", b)))

    started = time.monotonic()
    reply = await openai_client(gw).chat.completions.create(model="a/opus", messages=HELLO)

    assert text_of(reply) == "echo: hello"
    assert len(a.received) == 2 and not b.received
    assert a.received[1].at - a.received[0].at >= 1.0
    assert time.monotonic() - started >= 1.0


async def test_503_fails_over_in_configured_order(fake_upstream, gateway, openai_client):
    a, b, c = await three(fake_upstream)
    a.script(reply_status(503))
    c.script(reply_status(503))
    gw = await gateway(config(
        provider("a/m", a, retry_policy={"fallback_models": ["c/m", "b/m"], "default_max_attempts": 3}),
        provider("b/m", b), provider("c/m", c)))

    reply = await openai_client(gw).chat.completions.create(model="a/m", messages=HELLO)

    assert text_of(reply) == "echo: hello"
    order = sorted([(r.at, up.name) for up in (a, b, c) for r in up.received])
    assert [name for _, name in order] == ["a", "c", "b"]


async def test_all_channels_failing_gives_exhaustion_listing_every_attempt(fake_upstream, gateway, openai_client):
    a, b, c = await three(fake_upstream)
    a.script(reply_status(503))
    b.script(reply_status(500))
    c.script(reply_status(429))
    gw = await gateway(config(
        provider("a/m", a, retry_policy={"default_max_attempts": 3}), provider("b/m", b), provider("c/m", c)))

    with pytest.raises(openai.RateLimitError) as err:
        await openai_client(gw).chat.completions.create(model="a/m", messages=HELLO)

    assert err.value.status_code == 429  # the last upstream status
    body = err.value.response.json()
    assert body["error"]["code"] == "upstream_exhausted"
    attempts = body["error"]["attempts"]
    assert [(x["model"], x["status"], x["reason"]) for x in attempts] == [
        ("a/m", 503, "provider_5xx"), ("b/m", 500, "provider_5xx"), ("c/m", 429, "rate_limited")]
    assert all("delay_ms" in x for x in attempts)
    assert "key-for" not in err.value.response.text
    assert "plano_failover_exhausted_total 1.0" in await scrape(gw)


async def test_max_attempts_per_status_is_respected(fake_upstream, gateway, openai_client):
    a, b, c = await three(fake_upstream)
    for up in (a, b, c):
        up.script(reply_status(503))
    gw = await gateway(config(
        provider("a/m", a, retry_policy={"default_max_attempts": 3,
                                         "on_status_codes": [{"codes": ["500-504"], "max_attempts": 2}]}),
        provider("b/m", b), provider("c/m", c)))

    with pytest.raises(openai.InternalServerError) as err:
        await openai_client(gw).chat.completions.create(model="a/m", messages=HELLO)

    assert err.value.status_code == 503
    assert [len(a.received), len(b.received), len(c.received)] == [1, 1, 0]


async def test_strategy_filters_are_respected(fake_upstream, gateway, openai_client):
    a1, b, a2 = await three(fake_upstream)
    a1.script(reply_status(503))
    gw = await gateway(config(
        provider("a/m1", a1, retry_policy={"default_strategy": "same_provider"}),
        provider("b/m1", b), provider("a/m2", a2)))

    await openai_client(gw).chat.completions.create(model="a/m1", messages=HELLO)

    assert [len(a1.received), len(b.received), len(a2.received)] == [1, 0, 1]
    assert a2.received[0].json["model"] == "m2"


async def test_400_is_returned_at_once_and_no_other_channel_is_called(fake_upstream, gateway, openai_client):
    a, b, _ = await three(fake_upstream)
    a.script(reply_status(400, body={"error": {"message": "bad max_tokens", "type": "invalid_request_error",
                                               "code": "invalid_value"}}))
    gw = await gateway(config(
        provider("a/m", a, retry_policy={"default_max_attempts": 3}), provider("b/m", b)))

    with pytest.raises(openai.BadRequestError) as err:
        await openai_client(gw).chat.completions.create(model="a/m", messages=HELLO)

    assert err.value.response.json()["error"]["message"] == "bad max_tokens"
    assert [len(a.received), len(b.received)] == [1, 0]


@pytest.mark.parametrize(("status", "body", "exc"), [
    (400, {"error": {"message": "flagged", "type": "invalid_request_error", "code": "content_filter"}},
     openai.BadRequestError),
    (400, {"error": {"message": "rejected", "type": "invalid_request_error", "code": "content_policy_violation"}},
     openai.BadRequestError),
    (403, {"error": {"message": "forbidden", "type": "permission_error"}}, openai.PermissionDeniedError),
])
async def test_safety_refusal_or_403_is_returned_at_once_without_failover(
        fake_upstream, gateway, openai_client, status, body, exc):
    a, b, _ = await three(fake_upstream)
    a.script(reply_status(status, body=body))
    gw = await gateway(config(
        provider("a/m", a, retry_policy={"default_max_attempts": 3,
                                         "on_status_codes": [{"codes": [400, 403]}]}),
        provider("b/m", b)))

    with pytest.raises(exc) as err:
        await openai_client(gw).chat.completions.create(model="a/m", messages=HELLO)

    assert err.value.status_code == status
    assert err.value.response.json() == body
    assert [len(a.received), len(b.received)] == [1, 0]


async def test_connection_refused_fails_over(fake_upstream, gateway, openai_client):
    b = await fake_upstream("b")
    gw = await gateway(config(
        {"model": "a/m", "base_url": closed_port_url(), "retry_policy": {}}, provider("b/m", b)))

    reply = await openai_client(gw).chat.completions.create(model="a/m", messages=HELLO)

    assert text_of(reply) == "echo: hello" and len(b.received) == 1


async def test_reset_connection_fails_over(fake_upstream, gateway, openai_client):
    a, b, _ = await three(fake_upstream)
    a.script(reset_connection())
    gw = await gateway(config(provider("a/m", a, retry_policy={}), provider("b/m", b)))

    reply = await openai_client(gw).chat.completions.create(model="a/m", messages=HELLO)

    assert text_of(reply) == "echo: hello" and len(b.received) == 1


async def test_hung_upstream_times_out_and_fails_over(fake_upstream, gateway, openai_client):
    a, b, _ = await three(fake_upstream)
    a.script(hang(30))
    gw = await gateway(config(
        provider("a/m", a, retry_policy={"on_timeout": {"max_attempts": 2}}), provider("b/m", b),
        dubnium={"timeouts": {"first_byte": "300ms"}}))

    started = time.monotonic()
    reply = await openai_client(gw).chat.completions.create(model="a/m", messages=HELLO)

    assert text_of(reply) == "echo: hello" and len(b.received) == 1
    assert time.monotonic() - started < 5


async def test_without_retry_policy_a_failure_is_not_retried(fake_upstream, gateway, openai_client):
    a, b, _ = await three(fake_upstream)
    a.script(reply_status(503))
    gw = await gateway(config(provider("a/m", a), provider("b/m", b)))

    with pytest.raises(openai.InternalServerError) as err:
        await openai_client(gw).chat.completions.create(model="a/m", messages=HELLO)

    assert err.value.response.json()["error"]["message"] == "fake upstream says 503"  # passed through
    assert [len(a.received), len(b.received)] == [1, 0]


async def test_gateway_default_retry_policy_applies(fake_upstream, gateway, openai_client):
    a, b, _ = await three(fake_upstream)
    a.script(reply_status(503))
    gw = await gateway(config(provider("a/m", a), provider("b/m", b),
                              dubnium={"default_retry_policy": {"fallback_models": ["b/m"]}}))

    await openai_client(gw).chat.completions.create(model="a/m", messages=HELLO)

    assert [len(a.received), len(b.received)] == [1, 1]


async def test_stream_failing_before_first_chunk_fails_over(fake_upstream, gateway, openai_client):
    a, b, _ = await three(fake_upstream)
    a.script(sse_then_reset([]))
    b.script(reply_sse(chat_chunks("m", ["from ", "b"])))
    gw = await gateway(config(provider("a/m", a, retry_policy={}), provider("b/m", b)))

    stream = await openai_client(gw).chat.completions.create(model="a/m", messages=HELLO, stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

    assert text == "from b"
    assert [len(a.received), len(b.received)] == [1, 1]


async def test_stream_with_503_before_first_byte_fails_over(fake_upstream, gateway, openai_client):
    a, b, _ = await three(fake_upstream)
    a.script(reply_status(503))
    b.script(reply_sse(chat_chunks("m", ["ok"])))
    gw = await gateway(config(provider("a/m", a, retry_policy={}), provider("b/m", b)))

    stream = await openai_client(gw).chat.completions.create(model="a/m", messages=HELLO, stream=True)
    assert "".join([c.choices[0].delta.content or "" async for c in stream if c.choices]) == "ok"


async def test_stream_failing_mid_way_ends_with_an_error_and_no_content_from_another_channel(
        fake_upstream, gateway, openai_client):
    a, b, _ = await three(fake_upstream)
    a.script(sse_then_reset(chat_chunks("m", ["from ", "a"], usage=False)[:2]))
    b.script(reply_sse(chat_chunks("m", ["from ", "b"])))
    gw = await gateway(config(provider("a/m", a, retry_policy={"default_max_attempts": 3}), provider("b/m", b)))

    stream = await openai_client(gw).chat.completions.create(model="a/m", messages=HELLO, stream=True)
    got: list[str] = []
    with pytest.raises(openai.APIError) as err:
        async for chunk in stream:
            if chunk.choices:
                got.append(chunk.choices[0].delta.content or "")

    assert "".join(got) == "from "
    assert "mid-stream" in str(err.value)
    assert not b.received


async def test_fallback_receives_the_original_body_except_the_model_id(fake_upstream, gateway):
    a, b, _ = await three(fake_upstream)
    a.script(reply_status(429))
    gw = await gateway(config(
        provider("a/model-a", a, retry_policy={"fallback_models": ["b/model-b"]}), provider("b/model-b", b)))
    raw = (b'{"model" : "a/model-a", "messages": [{"role": "user", "content": "caf\\u00e9 \\"model\\": 1"}],'
           b' "temperature": 0.70, "vendor": {"model": "keep-me", "n": [1, 2.50, null]}, "stream": false}')

    async with aiohttp.ClientSession() as s:
        async with s.post(f"{gw.base_url}/chat/completions", data=raw,
                          headers={"Content-Type": "application/json"}) as resp:
            assert resp.status == 200

    expected_b = raw.replace(b'"model" : "a/model-a"', b'"model" : "model-b"')
    assert b.received[0].body == expected_b
    assert a.received[0].body == raw.replace(b'"model" : "a/model-a"', b'"model" : "model-a"')


async def test_seed_001_config_fails_over_through_its_channels(fake_upstream, gateway, openai_client, caplog):
    custom, aws, official = await three(fake_upstream)
    custom.script(reply_status(429, retry_after="1"))
    aws.script(reply_status(503))
    doc = yaml.safe_load(SEED.read_text())
    # Routing (issue 5) would send "hello" to the seed's quick-tasks route; this test is about failover.
    doc.pop("routing_preferences")
    urls = {"custom": custom.base_url, "custom-aws": aws.base_url, "custom-offcial": official.base_url}
    for p in doc["model_providers"]:
        p["base_url"] = urls[p["model"].split("/")[0]]
    doc["listeners"][0].update(address="127.0.0.1", port=0)
    env = {"CLAUDE_API_KEY": "k-claude", "CLAUDE_AWS_API_KEY": "k-aws", "CLAUDE_OFFCIAL_API_KEY": "k-off",
           "CODEX_API_KEY": "k-codex"}
    gw = await gateway(yaml.safe_dump(doc), env=env)

    with caplog.at_level(logging.INFO, logger="plano_daemon.access"):
        reply = await openai_client(gw).chat.completions.create(model="custom/claude-opus-4-6", messages=CODE)
        gw.accounted()

    assert text_of(reply) == f"echo: {CODE[0]['content']}"
    assert [r.headers["Authorization"] for r in custom.received + aws.received + official.received] == [
        "Bearer k-claude", "Bearer k-aws", "Bearer k-off"]
    assert {r.json["model"] for r in custom.received + aws.received + official.received} == {"claude-opus-4-6"}
    line = json.loads(next(r.getMessage() for r in caplog.records if r.name == "plano_daemon.access"))
    assert [(x["model"], x["status"], x["reason"]) for x in line["attempts"]] == [
        ("custom/claude-opus-4-6", 429, "rate_limited"), ("custom-aws/claude-opus-4-6", 503, "provider_5xx"),
        ("custom-offcial/claude-opus-4-6", 200, None)]
    assert "k-claude" not in caplog.text and "k-aws" not in caplog.text

    metrics = await scrape(gw)
    assert 'plano_failovers_total{reason="rate_limited"} 1.0' in metrics
    assert 'plano_failovers_total{reason="provider_5xx"} 1.0' in metrics


async def test_a_dead_channel_cools_down_and_later_requests_skip_it(fake_upstream, gateway, openai_client):
    b = await fake_upstream("b")
    gw = await gateway(config(
        {"model": "a/m", "base_url": closed_port_url(), "retry_policy": {}}, provider("b/m", b),
        dubnium={"health": {"failure_threshold": 1, "cooldown_seconds": 60}}))
    client = openai_client(gw)

    for _ in range(3):
        assert text_of(await client.chat.completions.create(model="a/m", messages=HELLO)) == "echo: hello"

    metrics = await scrape(gw)
    # one failed attempt, then skipped while cooling down
    assert 'plano_upstream_requests_total{error_class="connect",model="a/m",provider="a",status_class="none"} 1.0' \
        in metrics
    assert 'status_class="2xx"} 3.0' in metrics
    assert 'plano_failovers_total{reason="transient_network_failure"} 3.0' in metrics


async def scrape(gw: Any) -> str:
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{gw.url}/metrics") as resp:
            return await resp.text()


async def test_models_endpoint_works_with_a_retry_policy_configured(fake_upstream, gateway):
    a, b, _ = await three(fake_upstream)
    gw = await gateway(config(provider("a/m", a, retry_policy={"fallback_models": ["b/m"]}), provider("b/m", b),
                              overrides={"llm_routing_model": "b/m"}))
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{gw.base_url}/models") as resp:
            assert resp.status == 200
            assert [m["id"] for m in (await resp.json())["data"]] == ["a/m"]

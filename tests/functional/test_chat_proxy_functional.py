"""The OpenAI SDK → gateway → fake upstream, through real sockets."""

from __future__ import annotations

import asyncio
import json
import time

import openai
import pytest

from tests.conftest import CLIENT_KEY, config, provider
from tests.fakes.upstream import chat_chunks, chat_completion, reply_json, reply_sse, reply_status

TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


async def test_non_stream_reaches_upstream_with_bare_model_and_configured_key(fake_upstream, gateway, openai_client):
    up = await fake_upstream()
    gw = await gateway(config(provider("openai/gpt-4o-mini", up)))
    client = openai_client(gw)

    reply = await client.chat.completions.create(
        model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "hello"}])

    assert reply.choices[0].message.content == "echo: hello"
    (rec,) = up.received
    assert rec.path == "/v1/chat/completions"
    assert rec.json["model"] == "gpt-4o-mini"
    assert rec.headers["Authorization"] == "Bearer key-for-openai/gpt-4o-mini"
    assert CLIENT_KEY not in json.dumps(rec.headers)


async def test_body_is_forwarded_byte_identical_except_model(fake_upstream, gateway):
    import aiohttp

    up = await fake_upstream()
    gw = await gateway(config(provider("custom/m-1", up)))
    raw = b'{"model": "custom/m-1", "messages": [{"role": "user", "content": "x \\"model\\": \\"custom/m-1\\""}],' \
          b' "vendor_ext": {"a": [1, 2.50, null]}, "tools": [], "reasoning_effort": "high"}'
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{gw.base_url}/chat/completions", data=raw,
                          headers={"Content-Type": "application/json"}) as resp:
            assert resp.status == 200
    assert up.received[0].body == raw.replace(b'"model": "custom/m-1"', b'"model": "m-1"', 1)


async def test_unknown_fields_and_tools_pass_through(fake_upstream, gateway, openai_client):
    up = await fake_upstream()
    tool_call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}
    up.script(reply_json(chat_completion("gpt-4o", None, tool_calls=[tool_call], finish_reason="tool_calls")))
    gw = await gateway(config(provider("openai/gpt-4o", up)))
    client = openai_client(gw)

    reply = await client.chat.completions.create(
        model="openai/gpt-4o", messages=[{"role": "user", "content": "weather in Oslo?"}], tools=TOOLS,
        tool_choice="auto", response_format={"type": "text"}, extra_body={"vendor_flag": {"x": 1}})

    call = reply.choices[0].message.tool_calls[0]
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_weather", {"city": "Oslo"})
    sent = up.received[0].json
    assert sent["tools"] == TOOLS and sent["tool_choice"] == "auto"
    assert sent["vendor_flag"] == {"x": 1} and sent["response_format"] == {"type": "text"}

    await client.chat.completions.create(model="openai/gpt-4o", tools=TOOLS, messages=[
        {"role": "user", "content": "weather in Oslo?"},
        {"role": "assistant", "content": None, "tool_calls": [tool_call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}])
    assert up.received[1].json["messages"][2] == {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}


async def test_stream_with_usage(fake_upstream, gateway, openai_client):
    up = await fake_upstream()
    gw = await gateway(config(provider("openai/gpt-4o", up)))
    client = openai_client(gw)

    stream = await client.chat.completions.create(
        model="openai/gpt-4o", messages=[{"role": "user", "content": "stream me"}], stream=True,
        stream_options={"include_usage": True})
    text, usage = "", None
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage:
            usage = chunk.usage
    assert text == "echo: stream me"
    assert usage is not None and usage.prompt_tokens == 11
    assert up.received[0].json["stream_options"] == {"include_usage": True}


async def test_stream_is_not_buffered(fake_upstream, gateway, openai_client):
    up = await fake_upstream()
    up.script(reply_sse(chat_chunks("m", ["first", " second"]), gaps={2: 1.0}))
    gw = await gateway(config(provider("openai/m", up)))
    client = openai_client(gw)

    started = time.monotonic()
    stream = await client.chat.completions.create(model="openai/m", stream=True,
                                                  messages=[{"role": "user", "content": "x"}])
    arrivals = []
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append((chunk.choices[0].delta.content, time.monotonic() - started))
    assert [a[0] for a in arrivals] == ["first", " second"]
    # "first" left the upstream before its 1 s pause; the client must hold it well before "second".
    assert arrivals[0][1] < 0.8 <= arrivals[1][1]


async def test_upstream_error_passes_through_with_status_and_body(fake_upstream, gateway, openai_client):
    up = await fake_upstream()
    up.script(reply_status(422, body={"error": {"message": "bad schema", "type": "invalid", "code": "x"}}))
    gw = await gateway(config(provider("openai/m", up)))
    with pytest.raises(openai.UnprocessableEntityError) as info:
        await openai_client(gw).chat.completions.create(model="openai/m", messages=[{"role": "user", "content": "x"}])
    assert info.value.body["message"] == "bad schema"


async def test_aliases_names_bare_ids_and_wildcards(fake_upstream, gateway, openai_client):
    a, b, c = await fake_upstream("a"), await fake_upstream("b"), await fake_upstream("c")
    gw = await gateway(config(
        provider("chan1/shared-model", a), provider("chan2/shared-model", b, default=True),
        provider("wild/*", c), provider("named/x", a, name="friendly"),
        model_aliases={"fast": {"target": "chan1/shared-model"}}))
    client = openai_client(gw)
    msgs = [{"role": "user", "content": "hi"}]

    await client.chat.completions.create(model="fast", messages=msgs)
    await client.chat.completions.create(model="shared-model", messages=msgs)
    await client.chat.completions.create(model="wild/some/deep-model", messages=msgs)
    await client.chat.completions.create(model="friendly", messages=msgs)

    assert [r.json["model"] for r in a.received] == ["shared-model", "x"]
    assert [r.json["model"] for r in b.received] == ["shared-model"]
    assert [r.json["model"] for r in c.received] == ["some/deep-model"]


async def test_provider_headers_and_passthrough_auth(fake_upstream, gateway, openai_client):
    up = await fake_upstream()
    gw = await gateway(config(
        provider("p/headers", up, headers={"X-Extra": "1"}),
        {"model": "q/pass", "base_url": up.base_url, "passthrough_auth": True}))
    client = openai_client(gw)
    msgs = [{"role": "user", "content": "hi"}]
    await client.chat.completions.create(model="p/headers", messages=msgs)
    await client.chat.completions.create(model="q/pass", messages=msgs)
    assert up.received[0].headers["X-Extra"] == "1"
    assert up.received[1].headers["Authorization"] == f"Bearer {CLIENT_KEY}"


async def test_empty_key_sends_no_auth_header(fake_upstream, gateway, openai_client):
    up = await fake_upstream()
    gw = await gateway(config({"model": "openai/local", "base_url": up.base_url, "access_key": "EMPTY"}))
    await openai_client(gw).chat.completions.create(model="openai/local", messages=[{"role": "user", "content": "x"}])
    assert "Authorization" not in up.received[0].headers


async def test_client_disconnect_cancels_upstream(fake_upstream, gateway):
    import aiohttp
    from aiohttp import web

    up = await fake_upstream()
    cancelled = asyncio.Event()

    async def slow(request, rec):
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return web.json_response({})

    up.script(slow)
    gw = await gateway(config(provider("openai/m", up)))
    async with aiohttp.ClientSession() as s:
        with pytest.raises(asyncio.TimeoutError):
            async with asyncio.timeout(0.3):
                await s.post(f"{gw.base_url}/chat/completions",
                             json={"model": "openai/m", "messages": [{"role": "user", "content": "x"}]})
    async with asyncio.timeout(5):
        await cancelled.wait()


async def test_client_leaving_mid_stream_is_a_499_and_its_tokens_still_count(fake_upstream, gateway,
                                                                             anthropic_client):
    import aiohttp
    from aiohttp import web

    from tests.fakes.upstream import anthropic_stream

    up = await fake_upstream()
    writes_failed = asyncio.Event()
    start, block, delta = anthropic_stream("claude", "x")[:3]

    async def endless(request, rec):
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        try:
            await resp.write(start + block)
            while True:
                await resp.write(delta)
                await asyncio.sleep(0.01)
        except asyncio.CancelledError:  # the fake's handler is cancelled when the gateway hangs up
            writes_failed.set()
            raise

    up.script(endless)
    gw = await gateway(config(provider("anthropic/claude", up),
                              dubnium={"budgets": [{"target": "anthropic/claude", "daily_tokens": 1000}]}))
    async with anthropic_client(gw).messages.stream(model="anthropic/claude", max_tokens=50,
                                                    messages=[{"role": "user", "content": "x"}]) as stream:
        async for event in stream:
            if event.type == "content_block_delta":
                break
    async with asyncio.timeout(5):
        await writes_failed.wait()
        async with aiohttp.ClientSession() as s:
            while True:
                async with s.get(f"{gw.url}/metrics") as r:
                    text = await r.text()
                if 'plano_requests_total{handler="messages"' in text:
                    break
                await asyncio.sleep(0.01)
    assert 'plano_requests_total{handler="messages",method="POST",status_class="4xx"} 1.0' in text
    assert 'plano_budget_usage{kind="tokens",target="anthropic/claude"} 11.0' in text

"""The official OpenAI SDK (chat) → gateway → Anthropic-style fake upstream, through real sockets."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from tests.conftest import CLIENT_KEY, config, provider
from tests.fakes.upstream import anthropic_message, reply_json, reply_sse, reply_status

TOOLS: list[Any] = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


def ev(data: dict[str, Any]) -> bytes:
    return f"event: {data['type']}\ndata: {json.dumps(data)}\n\n".encode()


TOOL_STREAM = [
    ev({"type": "message_start", "message": {"id": "msg_9", "type": "message", "role": "assistant",
                                             "model": "claude-x", "content": [], "stop_reason": None,
                                             "usage": {"input_tokens": 30, "output_tokens": 1}}}),
    ev({"type": "ping"}),
    ev({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    ev({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Checking."}}),
    ev({"type": "content_block_stop", "index": 0}),
    ev({"type": "content_block_start", "index": 1,
        "content_block": {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}}),
    ev({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"ci'}}),
    ev({"type": "content_block_delta", "index": 1,
        "delta": {"type": "input_json_delta", "partial_json": 'ty": "Oslo"}'}}),
    ev({"type": "content_block_stop", "index": 1}),
    ev({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {"output_tokens": 17}}),
    ev({"type": "message_stop"}),
]


def anthropic_config(up: Any) -> dict[str, Any]:
    return config(provider("anthropic/claude-x", up))


async def test_non_stream_maps_system_max_tokens_and_auth(fake_upstream, gateway, openai_client):
    up = await fake_upstream()
    gw = await gateway(anthropic_config(up))
    client = openai_client(gw)

    reply = await client.chat.completions.create(
        model="anthropic/claude-x", stop="END",
        messages=[{"role": "system", "content": "Be terse."}, {"role": "developer", "content": "No emoji."},
                  {"role": "user", "content": "hello"}])

    assert reply.object == "chat.completion"
    assert reply.choices[0].message.content == "echo: hello"
    assert reply.choices[0].finish_reason == "stop"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (11, 7)
    (rec,) = up.received
    assert rec.path == "/v1/messages"
    assert rec.json == {"model": "claude-x", "max_tokens": 4096, "stop_sequences": ["END"],
                        "system": [{"type": "text", "text": "Be terse."}, {"type": "text", "text": "No emoji."}],
                        "messages": [{"role": "user", "content": "hello"}]}
    assert rec.headers["x-api-key"] == "key-for-anthropic/claude-x"
    assert rec.headers["anthropic-version"] == "2023-06-01"
    assert "Authorization" not in rec.headers and CLIENT_KEY not in json.dumps(rec.headers)


async def test_stream_ends_with_done_and_reports_usage(fake_upstream, gateway, openai_client):
    up = await fake_upstream()
    gw = await gateway(anthropic_config(up))
    client = openai_client(gw)

    stream = await client.chat.completions.create(
        model="anthropic/claude-x", max_tokens=64, stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "stream please"}])
    chunks = [c async for c in stream]

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: stream please"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (11, 7)
    assert up.received[0].json["max_tokens"] == 64 and up.received[0].json["stream"] is True


async def test_raw_stream_is_chunks_then_done(fake_upstream, gateway):
    import aiohttp

    up = await fake_upstream()
    gw = await gateway(anthropic_config(up))
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{gw.base_url}/chat/completions", json={
                "model": "anthropic/claude-x", "stream": True, "messages": [{"role": "user", "content": "x"}]}) as resp:
            assert resp.headers["Content-Type"].startswith("text/event-stream")
            body = await resp.read()

    events = [e for e in body.split(b"\n\n") if e]
    assert events[-1] == b"data: [DONE]"
    assert all(json.loads(e[len(b"data: "):])["object"] == "chat.completion.chunk" for e in events[:-1])


async def test_tools_stream_as_tool_call_deltas(fake_upstream, gateway, openai_client):
    up = await fake_upstream()
    up.script(reply_sse(TOOL_STREAM))
    gw = await gateway(anthropic_config(up))
    client = openai_client(gw)

    stream = await client.chat.completions.create(
        model="anthropic/claude-x", stream=True, tools=TOOLS, tool_choice="required", parallel_tool_calls=False,
        messages=[{"role": "user", "content": "Weather in Oslo?"}])
    chunks = [c async for c in stream]

    calls = [tc for c in chunks for tc in (c.choices[0].delta.tool_calls or [])]
    assert (calls[0].index, calls[0].id, calls[0].function.name) == (0, "toolu_1", "get_weather")
    assert "".join(tc.function.arguments or "" for tc in calls) == '{"city": "Oslo"}'
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    sent = up.received[0].json
    assert sent["tools"] == [{"name": "get_weather", "description": "Weather for a city",
                              "input_schema": TOOLS[0]["function"]["parameters"]}]
    assert sent["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}


async def test_tool_call_and_result_round_trip_non_stream(fake_upstream, gateway, openai_client):
    up = await fake_upstream()
    tool_reply = {**anthropic_message("claude-x", ""), "stop_reason": "tool_use", "content": [
        {"type": "tool_use", "id": "toolu_7", "name": "get_weather", "input": {"city": "Oslo"}}]}
    up.script(reply_json(tool_reply), reply_json(anthropic_message("claude-x", "Sunny.")))
    gw = await gateway(anthropic_config(up))
    client = openai_client(gw)
    question = {"role": "user", "content": "Weather in Oslo?"}

    first = await client.chat.completions.create(model="anthropic/claude-x", tools=TOOLS, messages=[question])
    assert first.choices[0].finish_reason == "tool_calls"
    (call,) = first.choices[0].message.tool_calls or []
    assert (call.id, call.function.name, json.loads(call.function.arguments)) == ("toolu_7", "get_weather",
                                                                                  {"city": "Oslo"})

    second = await client.chat.completions.create(model="anthropic/claude-x", tools=TOOLS, messages=[
        question, first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21C"}])
    assert second.choices[0].message.content == "Sunny."
    assert up.received[1].json["messages"][1:] == [
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_7", "name": "get_weather",
                                           "input": {"city": "Oslo"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_7", "content": "sunny, 21C"}]}]


async def test_upstream_error_is_rendered_in_openai_dialect(fake_upstream, gateway, openai_client):
    up = await fake_upstream()
    up.script(reply_status(429, body={"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}))
    gw = await gateway(anthropic_config(up))
    client = openai_client(gw)

    with pytest.raises(openai.RateLimitError) as info:
        await client.chat.completions.create(model="anthropic/claude-x", messages=[{"role": "user", "content": "x"}])

    body: Any = info.value.body
    assert "slow down" in body["message"]

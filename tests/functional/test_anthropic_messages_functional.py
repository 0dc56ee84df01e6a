"""The official Anthropic SDK → gateway (/v1/messages) → OpenAI-style fake upstream, through real sockets."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest

from tests.conftest import config, provider
from tests.fakes.upstream import chat_completion, reply_json, reply_sse, reply_status, sse_then_reset

TOOLS: list[Any] = [{"name": "get_weather", "description": "Weather for a city",
                     "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                                      "required": ["city"]}}]


def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    obj = {"id": "chatcmpl-7", "object": "chat.completion.chunk", "created": 1700000000, "model": "qwen",
           "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(obj)}\n\n".encode()


USAGE = (b'data: {"id":"chatcmpl-7","object":"chat.completion.chunk","created":1700000000,"model":"qwen",'
         b'"choices":[],"usage":{"prompt_tokens":21,"completion_tokens":9,"total_tokens":30}}\n\n')

TOOL_STREAM = [
    chunk({"role": "assistant", "content": ""}),
    chunk({"content": "Let me check."}),
    chunk({"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                           "function": {"name": "get_weather", "arguments": ""}}]}),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Oslo"}'}}]}),
    chunk({"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                           "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'}}]}),
    chunk({}, "tool_calls"),
    USAGE,
    b"data: [DONE]\n\n",
]


async def test_non_stream_text_is_mapped_both_ways(fake_upstream, gateway, anthropic_client):
    up = await fake_upstream()
    gw = await gateway(config(provider("local/qwen", up)))
    client = anthropic_client(gw)

    reply = await client.messages.create(
        model="local/qwen", max_tokens=300, system="Be terse.", stop_sequences=["END"], extra_body={"temperature": 0.2},
        messages=[{"role": "user", "content": "hello"}])

    assert reply.type == "message" and reply.role == "assistant"
    assert [b.type for b in reply.content] == ["text"]
    assert reply.content[0].text == "echo: hello"
    assert reply.stop_reason == "end_turn"
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (11, 7)
    (rec,) = up.received
    assert rec.path == "/v1/chat/completions"
    assert rec.json == {"model": "qwen", "max_tokens": 300, "temperature": 0.2, "stop": ["END"],
                        "messages": [{"role": "system", "content": "Be terse."},
                                     {"role": "user", "content": "hello"}]}
    assert rec.headers["Authorization"] == "Bearer key-for-local/qwen"


async def test_stream_and_its_final_message(fake_upstream, gateway, anthropic_client):
    up = await fake_upstream()
    gw = await gateway(config(provider("local/qwen", up)))
    client = anthropic_client(gw)

    async with client.messages.stream(model="local/qwen", max_tokens=100,
                                      messages=[{"role": "user", "content": "stream please"}]) as stream:
        kinds = [event.type async for event in stream]
        final = await stream.get_final_message()

    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert kinds.count("message_stop") == 1
    assert final.content[0].type == "text" and final.content[0].text == "echo: stream please"
    assert final.stop_reason == "end_turn"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (11, 2)
    assert up.received[0].json["stream_options"] == {"include_usage": True}


async def test_tool_use_and_tool_result_round_trip(fake_upstream, gateway, anthropic_client):
    up = await fake_upstream()
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}
    up.script(reply_json(chat_completion("qwen", None, tool_calls=[call], finish_reason="tool_calls")),
              reply_json(chat_completion("qwen", "It is sunny in Oslo.")))
    gw = await gateway(config(provider("local/qwen", up)))
    client = anthropic_client(gw)
    question = {"role": "user", "content": "Weather in Oslo?"}

    first = await client.messages.create(model="local/qwen", max_tokens=200, tools=TOOLS,
                                         tool_choice={"type": "any", "disable_parallel_tool_use": True},
                                         messages=[question])
    assert first.stop_reason == "tool_use"
    (use,) = first.content
    assert use.type == "tool_use" and (use.id, use.name, use.input) == ("call_1", "get_weather", {"city": "Oslo"})

    second = await client.messages.create(
        model="local/qwen", max_tokens=200, tools=TOOLS,
        messages=[question, {"role": "assistant", "content": first.content},
                  {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny"}]}])
    assert second.content[0].text == "It is sunny in Oslo."

    sent_first, sent_second = (r.json for r in up.received)
    assert sent_first["tools"] == [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather for a city", "parameters": TOOLS[0]["input_schema"]}}]
    assert (sent_first["tool_choice"], sent_first["parallel_tool_calls"]) == ("required", False)
    assert sent_second["messages"][1:] == [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}]


async def test_streamed_tool_calls_become_separate_blocks_with_json_input(fake_upstream, gateway, anthropic_client):
    up = await fake_upstream()
    up.script(reply_sse(TOOL_STREAM))
    gw = await gateway(config(provider("local/qwen", up)))
    client = anthropic_client(gw)

    async with client.messages.stream(model="local/qwen", max_tokens=100, tools=TOOLS,
                                      messages=[{"role": "user", "content": "Oslo and Rome?"}]) as stream:
        events = [event async for event in stream]
        final = await stream.get_final_message()

    starts = [e for e in events if e.type == "content_block_start"]
    assert [(e.index, e.content_block.type) for e in starts] == [(0, "text"), (1, "tool_use"), (2, "tool_use")]
    assert [b.type for b in final.content] == ["text", "tool_use", "tool_use"]
    assert final.content[0].text == "Let me check."
    assert [(b.id, b.input) for b in final.content[1:]] == [("call_a", {"city": "Oslo"}), ("call_b", {"city": "Rome"})]
    assert final.stop_reason == "tool_use"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (21, 9)


async def test_images_base64_and_url_reach_upstream_as_image_parts(fake_upstream, gateway, anthropic_client):
    up = await fake_upstream()
    gw = await gateway(config(provider("local/qwen", up)))
    client = anthropic_client(gw)

    await client.messages.create(model="local/qwen", max_tokens=50, messages=[{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "image", "source": {"type": "url", "url": "https://example.invalid/cat.jpg"}},
        {"type": "text", "text": "what is this?"}]}])

    assert up.received[0].json["messages"] == [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.invalid/cat.jpg"}},
        {"type": "text", "text": "what is this?"}]}]


async def test_upstream_error_is_rendered_in_anthropic_dialect(fake_upstream, gateway, anthropic_client):
    up = await fake_upstream()
    up.script(reply_status(400, body={"error": {"message": "context too long", "type": "invalid_request_error"}}))
    gw = await gateway(config(provider("local/qwen", up)))
    client = anthropic_client(gw)

    with pytest.raises(anthropic.BadRequestError) as info:
        await client.messages.create(model="local/qwen", max_tokens=10, messages=[{"role": "user", "content": "x"}])

    body: Any = info.value.body
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert "context too long" in body["error"]["message"]


async def test_unknown_model_is_an_anthropic_not_found_error(fake_upstream, gateway, anthropic_client):
    up = await fake_upstream()
    gw = await gateway(config(provider("local/qwen", up)))
    client = anthropic_client(gw)

    with pytest.raises(anthropic.NotFoundError) as info:
        await client.messages.create(model="nope", max_tokens=10, messages=[{"role": "user", "content": "x"}])

    body: Any = info.value.body
    assert body["type"] == "error" and body["error"]["type"] == "not_found_error"
    assert up.received == []


async def test_upstream_dying_mid_stream_ends_with_an_anthropic_error_event(fake_upstream, gateway, anthropic_client):
    up = await fake_upstream()
    up.script(sse_then_reset(TOOL_STREAM[:3]))
    gw = await gateway(config(provider("local/qwen", up)))
    client = anthropic_client(gw)

    seen: list[str] = []
    with pytest.raises(anthropic.APIStatusError) as info:
        async with client.messages.stream(model="local/qwen", max_tokens=100,
                                          messages=[{"role": "user", "content": "x"}]) as stream:
            async for event in stream:
                seen.append(event.type)

    assert seen[0] == "message_start" and "message_stop" not in seen
    assert "mid-stream" in str(info.value)

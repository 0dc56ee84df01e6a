"""The official OpenAI SDK's Responses API → gateway → chat-style (and Anthropic-style) fake upstreams."""

from __future__ import annotations

import json
from typing import Any

import openai
import pytest

from tests.conftest import config, provider
from tests.fakes.upstream import chat_completion, reply_json, reply_sse

TOOLS: list[Any] = [
    {"type": "function", "name": "get_weather", "description": "Weather for a city",
     "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
    {"type": "custom", "name": "apply_patch", "description": "Apply a patch"},
]


def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    obj = {"id": "chatcmpl-r1", "object": "chat.completion.chunk", "created": 1700000000, "model": "qwen",
           "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(obj)}\n\n".encode()


CALL_STREAM = [
    chunk({"role": "assistant", "content": ""}),
    chunk({"content": "Patching."}),
    chunk({"tool_calls": [{"index": 0, "id": "call_w", "type": "function",
                           "function": {"name": "get_weather", "arguments": '{"city":'}}]}),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Oslo"}'}}]}),
    chunk({"tool_calls": [{"index": 1, "id": "call_p", "type": "function",
                           "function": {"name": "apply_patch", "arguments": json.dumps({"input": "*** Begin"})}}]}),
    chunk({}, "tool_calls"),
    b'data: {"id":"chatcmpl-r1","choices":[],"usage":{"prompt_tokens":40,"completion_tokens":12}}\n\n',
    b"data: [DONE]\n\n",
]


async def test_text_non_stream(fake_upstream, gateway, openai_client):
    up = await fake_upstream()
    gw = await gateway(config(provider("local/qwen", up)))
    client = openai_client(gw)

    reply = await client.responses.create(model="local/qwen", instructions="Be terse.", input="hello",
                                          max_output_tokens=99, reasoning={"effort": "low"})

    assert reply.status == "completed"
    assert reply.output_text == "echo: hello"
    assert reply.output[0].type == "message"
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (11, 7)
    (rec,) = up.received
    assert rec.path == "/v1/chat/completions"
    assert rec.json == {"model": "qwen", "max_tokens": 99, "reasoning_effort": "low",
                        "messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "hello"}]}


async def test_stream_events_are_accepted_by_the_sdk_with_increasing_sequence_numbers(
        fake_upstream, gateway, openai_client):
    up = await fake_upstream()
    gw = await gateway(config(provider("local/qwen", up)))
    client = openai_client(gw)

    stream = await client.responses.create(model="local/qwen", input="stream please", stream=True)
    events = [e async for e in stream]

    kinds = [e.type for e in events]
    assert kinds == ["response.created", "response.in_progress", "response.output_item.added",
                     "response.content_part.added", "response.output_text.delta", "response.output_text.delta",
                     "response.output_text.done", "response.content_part.done", "response.output_item.done",
                     "response.completed"]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert events[-1].response.output_text == "echo: stream please"


async def test_stream_helper_accumulates_function_and_custom_tool_calls(fake_upstream, gateway, openai_client):
    up = await fake_upstream()
    up.script(reply_sse(CALL_STREAM))
    gw = await gateway(config(provider("local/qwen", up)))
    client = openai_client(gw)

    async with client.responses.stream(model="local/qwen", input="fix it", tools=TOOLS) as stream:
        kinds = [e.type async for e in stream]
        final = await stream.get_final_response()

    assert "response.function_call_arguments.delta" in kinds
    assert "response.custom_tool_call_input.done" in kinds
    assert kinds[-1] == "response.completed"
    assert [o.type for o in final.output] == ["message", "function_call", "custom_tool_call"]
    call, patch = final.output[1], final.output[2]
    assert (call.call_id, call.name, json.loads(call.arguments)) == ("call_w", "get_weather", {"city": "Oslo"})
    assert (patch.call_id, patch.name, patch.input) == ("call_p", "apply_patch", "*** Begin")
    assert (final.usage.input_tokens, final.usage.output_tokens) == (40, 12)
    custom = up.received[0].json["tools"][1]["function"]
    assert custom["name"] == "apply_patch"
    assert custom["parameters"]["properties"] == {"input": {"type": "string"}}


async def test_function_call_output_fed_back_in_second_turn(fake_upstream, gateway, openai_client):
    up = await fake_upstream()
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}
    up.script(reply_json(chat_completion("qwen", None, tool_calls=[call], finish_reason="tool_calls")),
              reply_json(chat_completion("qwen", "Sunny in Oslo.")))
    gw = await gateway(config(provider("local/qwen", up)))
    client = openai_client(gw)
    question = {"role": "user", "content": "Weather in Oslo?"}

    first = await client.responses.create(model="local/qwen", input=[question], tools=TOOLS[:1])
    (fc,) = first.output
    assert fc.type == "function_call" and (fc.call_id, fc.name) == ("call_1", "get_weather")

    second = await client.responses.create(model="local/qwen", tools=TOOLS[:1], input=[
        question, fc.model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": fc.call_id, "output": "sunny"}])
    assert second.output_text == "Sunny in Oslo."
    assert up.received[1].json["messages"] == [
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}]


async def test_length_stop_is_status_incomplete(fake_upstream, gateway, openai_client):
    up = await fake_upstream()
    up.script(reply_json(chat_completion("qwen", "cut sho", finish_reason="length")))
    gw = await gateway(config(provider("local/qwen", up)))
    client = openai_client(gw)

    reply = await client.responses.create(model="local/qwen", input="long story", max_output_tokens=3)

    assert reply.status == "incomplete"
    assert reply.incomplete_details is not None and reply.incomplete_details.reason == "max_output_tokens"


async def test_previous_response_id_without_state_storage_is_400(fake_upstream, gateway, openai_client):
    up = await fake_upstream()
    gw = await gateway(config(provider("local/qwen", up)))
    client = openai_client(gw)

    with pytest.raises(openai.BadRequestError) as info:
        await client.responses.create(model="local/qwen", input="more", previous_response_id="resp_123")

    assert "state_storage" in str(info.value)
    assert up.received == []


async def test_responses_client_against_anthropic_upstream(fake_upstream, gateway, openai_client):
    up = await fake_upstream()
    gw = await gateway(config(provider("anthropic/claude-x", up)))
    client = openai_client(gw)

    reply = await client.responses.create(model="anthropic/claude-x", input="hello", instructions="Be terse.")
    stream = await client.responses.create(model="anthropic/claude-x", input="again", stream=True)
    events = [e async for e in stream]

    assert reply.output_text == "echo: hello"
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == "echo: again"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    first, second = (r.json for r in up.received)
    assert up.received[0].path == "/v1/messages"
    assert (first["system"], first["max_tokens"]) == ("Be terse.", 4096)
    assert second["stream"] is True

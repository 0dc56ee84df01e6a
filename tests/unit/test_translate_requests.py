"""Request and response translation between Anthropic Messages, OpenAI Chat and OpenAI Responses."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plano_daemon.catalog import CHAT, MESSAGES, RESPONSES
from plano_daemon.errors import BadRequest, GatewayError
from plano_daemon.translate import translation_for
from plano_daemon.translate.anthropic_to_chat import MessagesToChat
from plano_daemon.translate.chat_to_anthropic import ChatToMessages
from plano_daemon.translate.responses_to_chat import ResponsesToChat

# --- strategies: valid Anthropic requests made of what chat can express ------------------------------

ids = st.from_regex(r"[a-z][a-z0-9_]{0,9}", fullmatch=True)
texts = st.text(max_size=12)
json_values = st.one_of(st.integers(-5, 5), st.text(max_size=5), st.booleans(), st.none())
inputs = st.dictionaries(st.text(min_size=1, max_size=4), json_values, max_size=3)
images = st.one_of(
    st.builds(lambda mt, data: {"type": "image", "source": {"type": "base64", "media_type": mt, "data": data}},
              st.sampled_from(["image/png", "image/jpeg"]), st.from_regex(r"[A-Za-z0-9+/]{4,12}=?", fullmatch=True)),
    st.builds(lambda path: {"type": "image", "source": {"type": "url", "url": f"https://example.invalid/{path}"}},
              ids))
text_blocks = st.builds(lambda t: {"type": "text", "text": t}, texts)
tool_result_content = st.one_of(texts, st.lists(text_blocks, max_size=2))


@st.composite
def conversations(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Alternating user/assistant turns; tool results answer the previous assistant's tool uses, in order."""
    messages: list[dict[str, Any]] = []
    pending: list[str] = []
    for turn in range(draw(st.integers(1, 6))):
        if turn % 2 == 0:
            results = [{"type": "tool_result", "tool_use_id": i, "content": draw(tool_result_content)}
                       for i in pending]
            rest = draw(st.lists(st.one_of(text_blocks, images), max_size=3))
            if not results and draw(st.booleans()):
                messages.append({"role": "user", "content": draw(texts)})
            else:
                messages.append({"role": "user", "content": results + rest})
        else:
            if draw(st.booleans()):
                messages.append({"role": "assistant", "content": draw(texts)})
                pending = []
                continue
            uses = [{"type": "tool_use", "id": draw(ids) + str(n), "name": draw(ids), "input": draw(inputs)}
                    for n in range(draw(st.integers(0, 3)))]
            messages.append({"role": "assistant", "content": draw(st.lists(text_blocks, max_size=2)) + uses})
            pending = [u["id"] for u in uses]
            continue
        pending = []
    return messages


tools = st.lists(st.builds(
    lambda name, desc, props: {"name": name, **({"description": desc} if desc is not None else {}),
                               "input_schema": {"type": "object", "properties": props}},
    ids, st.none() | texts, st.dictionaries(ids, st.just({"type": "string"}), max_size=2)),
    min_size=1, max_size=3, unique_by=lambda t: t["name"])
tool_choices = st.one_of(
    st.sampled_from([{"type": "auto"}, {"type": "any"}, {"type": "none"}]),
    st.builds(lambda n: {"type": "tool", "name": n}, ids),
).flatmap(lambda c: st.sampled_from([c, {**c, "disable_parallel_tool_use": True}]))


@st.composite
def anthropic_requests(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "m", "max_tokens": draw(st.integers(1, 8192)), "messages": draw(conversations())}
    system = draw(st.none() | st.text(min_size=1, max_size=12) | st.lists(text_blocks, min_size=1, max_size=2))
    if system is not None:
        body["system"] = system
    optional = {
        "stop_sequences": st.lists(st.text(min_size=1, max_size=4), min_size=1, max_size=2),
        "temperature": st.floats(0, 1), "top_p": st.floats(0, 1), "stream": st.booleans(),
        "tools": tools, "tool_choice": tool_choices, "metadata": st.builds(lambda u: {"user_id": u}, ids)}
    for key, strategy in optional.items():
        if draw(st.booleans()):
            body[key] = draw(strategy)
    return body


@settings(max_examples=150, deadline=None)
@given(anthropic_requests())
def test_anthropic_request_survives_a_round_trip_through_chat(body: dict[str, Any]) -> None:
    chat = MessagesToChat().request(body, "m")
    assert ChatToMessages().request(json.loads(json.dumps(chat)), "m") == body


@settings(max_examples=100, deadline=None)
@given(anthropic_requests())
def test_tool_results_become_tool_messages_in_order_right_after_their_calls(body: dict[str, Any]) -> None:
    chat = MessagesToChat().request(body, "m")["messages"]
    expected = [b["tool_use_id"] for m in body["messages"] if isinstance(m["content"], list)
                for b in m["content"] if b["type"] == "tool_result"]
    assert [m["tool_call_id"] for m in chat if m["role"] == "tool"] == expected
    for i, msg in enumerate(chat):
        if msg["role"] == "tool":
            assert chat[i - 1]["role"] in ("tool", "assistant")


# --- Responses requests ------------------------------------------------------------------------------

@st.composite
def responses_inputs(draw: st.DrawFn) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["user", "assistant", "calls"]))
        if kind == "user":
            items.append({"role": "user", "content": draw(texts)})
        elif kind == "assistant":
            items.append({"type": "message", "role": "assistant",
                          "content": [{"type": "output_text", "text": draw(texts)}]})
        else:
            calls = [{"type": "function_call", "call_id": draw(ids) + str(n), "name": draw(ids),
                      "arguments": json.dumps(draw(inputs))} for n in range(draw(st.integers(1, 3)))]
            items.extend(calls)
            items.extend({"type": "function_call_output", "call_id": c["call_id"], "output": draw(texts)}
                         for c in calls)
    return items


@settings(max_examples=100, deadline=None)
@given(responses_inputs(), st.none() | st.text(min_size=1, max_size=10))
def test_responses_input_keeps_calls_and_outputs_in_order(items: list[dict[str, Any]], instructions: Any) -> None:
    messages = ResponsesToChat().request({"model": "x", "input": items, "instructions": instructions}, "m")["messages"]
    if instructions:
        assert messages[0] == {"role": "system", "content": instructions}
    calls = [(tc["id"], tc["function"]["name"], tc["function"]["arguments"])
             for m in messages if m["role"] == "assistant" for tc in m.get("tool_calls", [])]
    assert calls == [(i["call_id"], i["name"], i["arguments"]) for i in items if i.get("type") == "function_call"]
    outputs = [(m["tool_call_id"], m["content"]) for m in messages if m["role"] == "tool"]
    assert outputs == [(i["call_id"], i["output"]) for i in items if i.get("type") == "function_call_output"]
    texts_in: list[tuple[str, list[str]]] = []  # consecutive user items become one user message
    for i in items:
        if "role" not in i:
            texts_in.append(("", []))
            continue
        text = i["content"] if isinstance(i["content"], str) else i["content"][0]["text"]
        if i["role"] == "user" and texts_in and texts_in[-1][0] == "user":
            texts_in[-1][1].append(text)
        else:
            texts_in.append((i["role"], [text]))
    expected = ["\n\n".join(t for t in run if t) if role == "user" else run[0] for role, run in texts_in if role]
    assert [m["content"] for m in messages if m["role"] in ("user", "assistant") and "tool_calls" not in m] == expected


def test_responses_request_maps_tools_options_and_custom_tools() -> None:
    body = {"model": "x", "input": "hi", "max_output_tokens": 50, "reasoning": {"effort": "high"},
            "parallel_tool_calls": False, "tool_choice": {"type": "function", "name": "f"},
            "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}}},
            "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}},
                      {"type": "custom", "name": "apply_patch"}, {"type": "web_search"}]}

    out = ResponsesToChat().request(body, "m")

    assert out["max_tokens"] == 50 and out["reasoning_effort"] == "high"
    assert out["parallel_tool_calls"] is False
    assert out["tool_choice"] == {"type": "function", "function": {"name": "f"}}
    assert out["response_format"] == {"type": "json_schema", "json_schema": {"name": "out", "schema": {"type": "object"}}}
    assert [t["function"]["name"] for t in out["tools"]] == ["f", "apply_patch"]
    assert out["tools"][1]["function"]["parameters"]["required"] == ["input"]


def test_custom_tool_call_in_input_is_sent_as_json_arguments() -> None:
    items = [{"type": "custom_tool_call", "call_id": "c1", "name": "apply_patch", "input": "*** patch"},
             {"type": "custom_tool_call_output", "call_id": "c1", "output": "done"}]
    messages = ResponsesToChat().request({"model": "x", "input": items}, "m")["messages"]
    assert json.loads(messages[0]["tool_calls"][0]["function"]["arguments"]) == {"input": "*** patch"}
    assert messages[1] == {"role": "tool", "tool_call_id": "c1", "content": "done"}


def test_previous_response_id_cannot_be_translated() -> None:
    with pytest.raises(BadRequest, match="previous_response_id"):
        ResponsesToChat().request({"model": "x", "input": "hi", "previous_response_id": "resp_1"}, "m")


# --- chat → Anthropic specifics -----------------------------------------------------------------------

def test_chat_request_defaults_max_tokens_and_collects_system_and_developer() -> None:
    out = ChatToMessages().request({"model": "x", "temperature": 1.7, "messages": [
        {"role": "system", "content": "A"}, {"role": "user", "content": "hi"},
        {"role": "developer", "content": [{"type": "text", "text": "B"}]}]}, "claude")
    assert out == {"model": "claude", "max_tokens": 4096, "temperature": 1.0,
                   "system": [{"type": "text", "text": "A"}, {"type": "text", "text": "B"}],
                   "messages": [{"role": "user", "content": "hi"}]}


def test_chat_max_completion_tokens_wins_and_stop_string_becomes_a_list() -> None:
    out = ChatToMessages().request({"model": "x", "max_completion_tokens": 77, "max_tokens": 5, "stop": "X",
                                    "messages": [{"role": "user", "content": "hi"}]}, "c")
    assert (out["max_tokens"], out["stop_sequences"]) == (77, ["X"])


def test_malformed_messages_are_a_bad_request_not_a_crash() -> None:
    with pytest.raises(BadRequest):
        MessagesToChat().request({"model": "x", "max_tokens": 1, "messages": [{"role": "tool", "content": "x"}]}, "m")
    with pytest.raises(BadRequest):
        ChatToMessages().request({"model": "x", "messages": "hello"}, "m")
    with pytest.raises(BadRequest):
        ResponsesToChat().request({"model": "x", "input": [42]}, "m")


# --- responses (non-stream) ---------------------------------------------------------------------------

def chat_reply(message: dict[str, Any], finish: str, **choice: Any) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "model": "qwen", "choices": [{"index": 0, "message": message,
                                                             "finish_reason": finish, **choice}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 4}}


@pytest.mark.parametrize(("finish", "stop"), [("stop", "end_turn"), ("length", "max_tokens"),
                                              ("tool_calls", "tool_use"), ("content_filter", "refusal")])
def test_finish_reason_maps_to_stop_reason(finish: str, stop: str) -> None:
    out = MessagesToChat().response(chat_reply({"role": "assistant", "content": "x"}, finish))
    assert out["stop_reason"] == stop
    assert out["usage"] == {"input_tokens": 3, "output_tokens": 4}


def test_matched_stop_sequence_is_reported_when_the_upstream_names_it() -> None:
    t = MessagesToChat()
    t.request({"model": "x", "max_tokens": 5, "stop_sequences": ["END"], "messages": []}, "m")
    out = t.response(chat_reply({"role": "assistant", "content": "x"}, "stop", stop_reason="END"))
    assert (out["stop_reason"], out["stop_sequence"]) == ("stop_sequence", "END")


def test_tool_calls_with_broken_json_keep_their_arguments() -> None:
    message = {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{not json"}}]}
    out = MessagesToChat().response(chat_reply(message, "stop"))
    assert out["content"] == [{"type": "tool_use", "id": "c1", "name": "f", "input": {"arguments": "{not json"}}]
    assert out["stop_reason"] == "tool_use"


@pytest.mark.parametrize(("stop", "finish"), [("end_turn", "stop"), ("stop_sequence", "stop"),
                                              ("max_tokens", "length"), ("tool_use", "tool_calls")])
def test_stop_reason_maps_to_finish_reason(stop: str, finish: str) -> None:
    body = {"id": "msg_1", "model": "c", "content": [{"type": "text", "text": "hi"}], "stop_reason": stop,
            "usage": {"input_tokens": 5, "output_tokens": 2, "cache_read_input_tokens": 10}}
    out = ChatToMessages(created=1).response(body)
    assert out["choices"][0]["finish_reason"] == finish
    assert out["usage"] == {"prompt_tokens": 15, "completion_tokens": 2, "total_tokens": 17,
                            "prompt_tokens_details": {"cached_tokens": 10}}


def test_responses_output_items_and_incomplete_status() -> None:
    t = ResponsesToChat(created=1)
    t.request({"model": "x", "input": "hi", "tools": [{"type": "custom", "name": "apply_patch"}]}, "m")
    message = {"role": "assistant", "content": "partial", "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "apply_patch", "arguments": '{"input":"diff"}'}}]}
    out = t.response(chat_reply(message, "length"))
    assert out["status"] == "incomplete" and out["incomplete_details"] == {"reason": "max_output_tokens"}
    assert [o["type"] for o in out["output"]] == ["message", "custom_tool_call"]
    assert out["output"][1]["input"] == "diff" and out["output"][1]["call_id"] == "c1"
    assert out["usage"]["total_tokens"] == 7


def test_translation_for_same_api_is_none_and_unknown_pair_is_an_error() -> None:
    assert translation_for(CHAT, CHAT) is None
    assert translation_for(MESSAGES, CHAT) is not translation_for(MESSAGES, CHAT)
    with pytest.raises(GatewayError):
        translation_for(CHAT, RESPONSES)

"""Which routes apply (configured vs inline, stripped from the body) and what the user said, per API shape."""

from __future__ import annotations

import pytest

from plano_daemon.errors import BadRequest
from plano_daemon.routing.conversation import Turn, extract_conversation, latest_user_text
from plano_daemon.routing.routes import Route, pop_inline_routes


def test_inline_routing_preferences_replace_and_are_stripped():
    body = {"model": "m", "messages": [], "routing_preferences": [
        {"name": "coding", "description": "code", "models": ["openai/gpt-4o"],
         "selection_policy": {"prefer": "cheapest"}}]}
    assert pop_inline_routes(body) == (Route("coding", "code", ("openai/gpt-4o",), "cheapest"),)
    assert body == {"model": "m", "messages": []}


def test_routing_policy_0_4_12_form_groups_preferences_by_name():
    body = {"model": "m", "routing_policy": [
        {"model": "openai/gpt-4o", "routing_preferences": [{"name": "coding", "description": "code"}]},
        {"model": "openai/gpt-4o-mini", "routing_preferences": [
            {"name": "general", "description": "chat"}, {"name": "coding", "description": "code"}]}]}
    assert pop_inline_routes(body) == (Route("coding", "code", ("openai/gpt-4o", "openai/gpt-4o-mini")),
                                       Route("general", "chat", ("openai/gpt-4o-mini",)))
    assert "routing_policy" not in body


def test_no_inline_fields_means_the_configured_set():
    body = {"model": "m"}
    assert pop_inline_routes(body) is None and body == {"model": "m"}


@pytest.mark.parametrize("bad", [
    {"routing_preferences": "code"},
    {"routing_preferences": [{"name": "x", "description": "d"}]},
    {"routing_preferences": [{"name": "x", "description": "d", "models": ["a/b"],
                              "selection_policy": {"prefer": "best"}}]},
    {"routing_policy": [{"routing_preferences": []}]},
])
def test_malformed_inline_preferences_are_a_bad_request(bad: dict):
    with pytest.raises(BadRequest):
        pop_inline_routes(bad)


def test_chat_messages_keep_user_and_assistant_text_only():
    body = {"messages": [
        {"role": "system", "content": "be nice"},
        {"role": "user", "content": [{"type": "text", "text": "look"}, {"type": "image_url", "image_url": {}}]},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]},
        {"role": "tool", "content": "result"},
        {"role": "user", "content": "   "},
        {"role": "user", "content": "write a parser"}]}
    assert extract_conversation(body) == [Turn("user", "look"), Turn("user", "write a parser")]


def test_anthropic_blocks_skip_tool_traffic():
    body = {"system": "sys", "messages": [
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": [{"type": "text", "text": "calling"}, {"type": "tool_use", "id": "t"}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "42"}]},
        {"role": "user", "content": [{"type": "text", "text": "explain it"}]}]}
    turns = extract_conversation(body)
    assert turns == [Turn("user", "hello"), Turn("assistant", "calling"), Turn("user", "explain it")]
    assert latest_user_text(turns) == "explain it"


def test_responses_input_as_string_or_items():
    assert extract_conversation({"input": "Build a React component"}) == [Turn("user", "Build a React component")]
    body = {"instructions": "sys", "input": [
        {"role": "user", "content": "first"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok"}]},
        {"type": "function_call", "name": "f", "arguments": "{}"},
        {"type": "function_call_output", "output": "x"},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "second"}]}]}
    assert extract_conversation(body) == [Turn("user", "first"), Turn("assistant", "ok"), Turn("user", "second")]


def test_no_messages_means_no_conversation():
    assert extract_conversation({"model": "m"}) == []
    assert extract_conversation({"messages": "nope"}) == []
    assert latest_user_text([]) == ""

"""The strict fake LLM's own rules: each refuses what a real chat template or the Anthropic API refuses, and
accepts a well-formed tool round trip (so a client test failing on it means the request really was wrong)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.strict_llm import Rejected, check_chat, check_messages

M = "served-model"
CALL = {"id": "call_1", "type": "function", "function": {"name": "write", "arguments": "{}"}}
TOOL = {"type": "function", "function": {"name": "write", "parameters": {"type": "object"}}}


def chat(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"model": M, "messages": list(messages), "tools": [TOOL], **extra}


def test_a_tool_round_trip_with_one_leading_system_message_is_accepted() -> None:
    check_chat(chat({"role": "system", "content": "s"}, {"role": "user", "content": "u"},
                    {"role": "assistant", "content": None, "tool_calls": [CALL]},
                    {"role": "tool", "tool_call_id": "call_1", "content": "ok"}, max_tokens=100),
               M, 4096, alternate=True)


@pytest.mark.parametrize(("body", "message"), [
    (chat({"role": "user", "content": "u"}, {"role": "system", "content": "late"}),
     "System message must be at the beginning"),
    (chat({"role": "system", "content": "a"}, {"role": "system", "content": "b"}, {"role": "user", "content": "u"}),
     "System message must be at the beginning"),
    (chat({"role": "developer", "content": "d"}, {"role": "user", "content": "u"}), "unknown role"),
    (chat({"role": "user", "content": "u"}, {"role": "tool", "tool_call_id": "call_1", "content": "x"}),
     "does not answer a tool call"),
    (chat({"role": "user", "content": "u"}, {"role": "assistant", "content": None, "tool_calls": [CALL]},
          {"role": "user", "content": "again"}), "were not answered"),
    (chat({"role": "user", "content": "u"}, max_tokens=4090), "maximum context length is 4096"),
    ({**chat({"role": "user", "content": "u"}), "model": f"vllm/{M}"}, "does not exist"),
    ({**chat({"role": "user", "content": "u"}), "tools": [TOOL, TOOL]}, "duplicate function name"),
])
def test_chat_requests_a_template_or_vllm_refuses_are_refused(body: dict[str, Any], message: str) -> None:
    with pytest.raises(Rejected, match=message):
        check_chat(body, M, 4096, alternate=False)


def test_alternation_is_enforced_when_the_template_requires_it() -> None:
    body = chat({"role": "user", "content": "a"}, {"role": "user", "content": "b"})
    check_chat(body, M, 4096, alternate=False)
    with pytest.raises(Rejected, match="must alternate"):
        check_chat(body, M, 4096, alternate=True)


def messages(*msgs: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"model": M, "max_tokens": 100, "messages": list(msgs), **extra}


def test_an_anthropic_tool_round_trip_is_accepted() -> None:
    use = {"type": "tool_use", "id": "t1", "name": "w", "input": {}}
    result = {"type": "tool_result", "tool_use_id": "t1", "content": "ok"}
    check_messages(messages({"role": "user", "content": "u"}, {"role": "assistant", "content": [use]},
                            {"role": "user", "content": [result]}), M, 1000)


@pytest.mark.parametrize(("body", "message"), [
    (messages({"role": "system", "content": "s"}, {"role": "user", "content": "u"}), "Input should be 'user'"),
    (messages({"role": "assistant", "content": "a"}), "first message"),
    (messages({"role": "user", "content": ""}), "non-empty"),
    (messages({"role": "user", "content": "u"},
              {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "w", "input": {}}]},
              {"role": "user", "content": "no result"}), "without `tool_result`"),
    (messages({"role": "user", "content": "u"}, max_tokens=5000), "maximum allowed"),
])
def test_anthropic_requests_the_api_refuses_are_refused(body: dict[str, Any], message: str) -> None:
    with pytest.raises(Rejected, match=message):
        check_messages(body, M, 1000)

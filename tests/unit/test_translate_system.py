"""System messages anywhere in a conversation: one system message first, a stable prefix, no 400."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from plano_daemon.translate.anthropic_to_chat import MessagesToChat
from plano_daemon.translate.chat_to_anthropic import ChatToMessages
from plano_daemon.translate.responses_to_anthropic import ResponsesToMessages
from plano_daemon.translate.responses_to_chat import ResponsesToChat
from plano_daemon.translate.system_prompt import merge_system_runs


def claude_code_request(*turns: dict[str, Any]) -> dict[str, Any]:
    """Claude Code 2.1's shape: top-level system blocks, and a system message at messages[1]."""
    return {"model": "claude-sonnet-4-5", "max_tokens": 32000,
            "system": [{"type": "text", "text": "You are Claude Code."}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "<system-reminder>ctx"}]},
                         {"role": "system", "content": [{"type": "text", "text": "cwd: /tmp/x"}]},
                         {"role": "user", "content": [{"type": "text", "text": "write a.txt"}]}, *turns]}


def roles(messages: list[dict[str, Any]]) -> list[str]:
    return [m["role"] for m in messages]


def test_claude_codes_system_message_joins_the_leading_one() -> None:
    out = MessagesToChat().request(claude_code_request(), "qwen")["messages"]

    assert roles(out) == ["system", "user"]
    assert out[0] == {"role": "system", "content": "You are Claude Code.\n\ncwd: /tmp/x"}
    assert out[1]["content"] == [{"type": "text", "text": "<system-reminder>ctx"},
                                 {"type": "text", "text": "write a.txt"}]


def test_a_late_system_message_is_folded_into_the_next_user_turn() -> None:
    late = [{"role": "assistant", "content": "ok"}, {"role": "system", "content": "budget low"},
            {"role": "user", "content": "go on"}]
    out = MessagesToChat().request(claude_code_request(*late), "qwen")["messages"]

    assert roles(out) == ["system", "user", "assistant", "user"]
    assert out[-1]["content"] == "<system-reminder>\nbudget low\n</system-reminder>\n\ngo on"


def test_a_late_system_message_right_after_a_user_turn_joins_that_turn() -> None:
    late = [{"role": "assistant", "content": "ok"}, {"role": "user", "content": "go on"},
            {"role": "system", "content": "budget low"}]
    out = MessagesToChat().request(claude_code_request(*late), "qwen")["messages"]

    assert roles(out) == ["system", "user", "assistant", "user"]
    assert out[-1]["content"] == "go on\n\n<system-reminder>\nbudget low\n</system-reminder>"


later_turns = st.lists(st.sampled_from(["user", "assistant", "system"]), max_size=8)


@settings(max_examples=100, deadline=None)
@given(later_turns, later_turns)
def test_the_translated_prefix_stays_the_same_as_the_conversation_grows(
        first: list[str], more: list[str]) -> None:
    """What vLLM's prefix cache needs: turn N+1's translation starts with turn N's, but for its last message."""
    def turns(names: list[str], start: int) -> list[dict[str, Any]]:
        return [{"role": r, "content": f"{r} {start + i}"} for i, r in enumerate(names)]
    earlier = claude_code_request({"role": "assistant", "content": "a"}, *turns(first, 0))
    grown = claude_code_request({"role": "assistant", "content": "a"}, *turns(first, 0),
                                *turns(more, len(first)))

    before = MessagesToChat().request(earlier, "m")["messages"]
    after = MessagesToChat().request(grown, "m")["messages"]

    assert after[:len(before) - 1] == before[:-1]
    assert roles(after).count("system") == 1 and after[0]["role"] == "system"
    assert all(not (a == b == "user") for a, b in zip(roles(after), roles(after)[1:], strict=False))


def test_codex_instructions_and_developer_messages_become_one_system_message() -> None:
    body = {"model": "gpt-5.4", "instructions": "You are Codex.", "input": [
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "sandbox: rw"}]},
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "AGENTS.md"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}]}

    out = ResponsesToChat().request(body, "m")["messages"]

    assert out == [{"role": "system", "content": "You are Codex.\n\nsandbox: rw\n\nAGENTS.md"},
                   {"role": "user", "content": [{"type": "text", "text": "hi"}]}]


def test_toward_anthropic_consecutive_same_role_turns_are_merged() -> None:
    out = ChatToMessages().request({"model": "x", "messages": [
        {"role": "user", "content": "a"}, {"role": "user", "content": [{"type": "text", "text": "b"}]},
        {"role": "assistant", "content": "c"}, {"role": "assistant", "content": "d"}]}, "claude")

    assert out["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "c"}, {"type": "text", "text": "d"}]}]


def test_codex_toward_anthropic_sends_alternating_turns_and_one_system() -> None:
    body = {"model": "gpt-5.4", "instructions": "You are Codex.", "input": [
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "rules"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "env"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}]}

    out = ResponsesToMessages().request(body, "claude")

    assert out["system"] == "You are Codex.\n\nrules"
    assert roles(out["messages"]) == ["user"]


def test_a_chat_clients_consecutive_system_messages_become_one() -> None:
    body = {"model": "m", "messages": [{"role": "system", "content": "A"},
                                       {"role": "system", "content": [{"type": "text", "text": "B"}]},
                                       {"role": "user", "content": "hi"}]}
    assert merge_system_runs(body) == {"model": "m", "messages": [{"role": "system", "content": "A\n\nB"},
                                                                  {"role": "user", "content": "hi"}]}
    assert merge_system_runs({"model": "m", "messages": [{"role": "system", "content": "A"},
                                                         {"role": "user", "content": "hi"}]}) is None


def test_claude_codes_server_tools_are_left_out_and_the_model_told() -> None:
    body = claude_code_request()
    body["tools"] = [{"name": "Write", "input_schema": {"type": "object"}},
                     {"type": "web_search_20250305", "name": "web_search", "max_uses": 8}]

    out = MessagesToChat().request(body, "qwen")

    assert [t["function"]["name"] for t in out["tools"]] == ["Write"]
    assert roles(out["messages"]) == ["system", "user"]
    assert "web_search" in out["messages"][0]["content"] and "You are Claude Code." in out["messages"][0]["content"]

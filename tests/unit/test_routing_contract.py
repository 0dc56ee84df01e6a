"""Router prompt building and answer parsing (SPEC §4.2), against golden files in tests/golden/routing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plano_daemon.routing.conversation import Turn
from plano_daemon.routing.router_contract import (
    DEFAULT_TEMPLATE,
    MAX_MESSAGES,
    TRIM_MARKER,
    Answer,
    TemplateError,
    build_prompt,
    check_template,
    fit_conversation,
    middle_trim,
    parse_answer,
)
from plano_daemon.routing.routes import Route

GOLDEN = Path(__file__).parent.parent / "golden" / "routing"
ROUTES = (
    Route("complex_reasoning", "complex reasoning tasks, multi-step analysis", ("openai/gpt-4o",)),
    Route("code_generation", "generating new code, writing functions", ("anthropic/claude-sonnet-4-20250514",)),
)


def golden(name: str) -> str:
    return (GOLDEN / name).read_text(encoding="utf-8")


def section(prompt: str, tag: str) -> object:
    start = prompt.index(f"<{tag}>") + len(tag) + 2
    return json.loads(prompt[start:prompt.index(f"</{tag}>")])


def test_prompt_for_one_user_message_matches_golden():
    prompt = build_prompt(ROUTES, [Turn("user", "Write a Python function that implements binary search")])
    assert prompt == golden("prompt_single_turn.txt")


def test_prompt_for_a_multi_turn_conversation_matches_golden():
    turns = [Turn("user", "I have a Flask app."), Turn("assistant", "Great, what do you need?"),
             Turn("user", "Add a /health endpoint that returns \"ok\" — in JSON, ünïcode kept.")]
    assert build_prompt(ROUTES, turns) == golden("prompt_multi_turn.txt")


def test_routes_and_conversation_are_json_lists_inside_their_tags():
    prompt = build_prompt(ROUTES, [Turn("user", "hi"), Turn("assistant", "hello"), Turn("user", "bye")])
    assert section(prompt, "routes") == [{"name": r.name, "description": r.description} for r in ROUTES]
    assert section(prompt, "conversation") == [
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "bye"}]


def test_only_the_last_16_messages_are_sent():
    turns = [Turn("user" if i % 2 == 0 else "assistant", f"message {i}") for i in range(40)]
    conversation = section(build_prompt(ROUTES, turns), "conversation")
    assert len(conversation) == MAX_MESSAGES
    assert conversation[-1]["content"] == "message 39" and conversation[0]["content"] == "message 24"


def test_older_messages_are_dropped_to_fit_the_token_budget():
    turns = [Turn("user", "x" * 3000), Turn("assistant", "y" * 3000), Turn("user", "latest question")]
    kept = fit_conversation(turns, budget_bytes=4000)
    assert [t.content[:1] for t in kept] == ["y", "l"]


def test_a_huge_last_user_message_is_trimmed_in_the_middle_and_matches_golden():
    text = "Please refactor this module.\n" + "filler line\n" * 5000 + "Keep the public API unchanged."
    prompt = build_prompt(ROUTES, [Turn("user", "earlier turn"), Turn("user", text)], context_tokens=512)
    conversation = section(prompt, "conversation")
    assert len(conversation) == 1
    content = conversation[0]["content"]
    assert content.startswith("Please refactor this module.") and content.endswith("Keep the public API unchanged.")
    assert TRIM_MARKER in content
    assert len(prompt.encode()) <= 512 * 4
    assert prompt == golden("prompt_trimmed.txt")


def test_middle_trim_respects_utf8_and_the_byte_budget():
    text = "é" * 10_000
    trimmed = middle_trim(text, 1000)
    assert len(trimmed.encode()) <= 1000
    assert trimmed.startswith("é") and trimmed.endswith("é")
    assert middle_trim("short", 1000) == "short"


def test_template_override_replaces_placeholders_and_keeps_other_braces():
    template = 'Routes: {routes}\nChat: {conversation}\nAnswer like {"route": "x"}'
    prompt = build_prompt(ROUTES[:1], [Turn("user", "hi")], template=template)
    assert prompt == ('Routes: [{"name": "complex_reasoning", "description": "complex reasoning tasks, '
                      'multi-step analysis"}]\nChat: [{"role": "user", "content": "hi"}]\n'
                      'Answer like {"route": "x"}')


def test_a_template_without_placeholders_is_rejected():
    with pytest.raises(TemplateError, match="conversation"):
        check_template("only {routes} here")
    assert check_template(DEFAULT_TEMPLATE) == DEFAULT_TEMPLATE


NAMES = ("code generation", "analysis", "quick tasks")
PARSER_CASES = [line.split(" => ") for line in golden("parser_cases.txt").splitlines()
                if " => " in line and not line.startswith("#")]


@pytest.mark.parametrize(("raw", "expected"), PARSER_CASES, ids=[c[0][:40] for c in PARSER_CASES])
def test_parser_cases_from_golden_file(raw: str, expected: str):
    answer = parse_answer(raw.encode().decode("unicode_escape"), NAMES)
    shown = "GARBAGE" if not answer.understood else ("NO_ROUTE" if answer.route is None else answer.route)
    assert shown == expected


def test_parser_returns_the_configured_spelling_of_the_name():
    assert parse_answer('{"route": "Code_Generation"}', NAMES) == Answer(True, "code generation")

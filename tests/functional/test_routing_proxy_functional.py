"""Intent routing on the proxy path: SDK → gateway → fake router model → routed fake upstream."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import config, provider
from tests.fakes.router_model import answer_text, route_by_keywords
from tests.fakes.upstream import hang, reply_status

CODE = "Write a Python function that implements binary search"
ROUTES = [
    {"name": "code_generation", "description": "generating new code, writing functions",
     "models": ["anthropic/claude-sonnet-4-20250514", "openai/gpt-4o"]},
    {"name": "complex_reasoning", "description": "complex reasoning tasks, multi-step analysis",
     "models": ["openai/gpt-4o"]},
]
RULES = {"function": "code_generation", "trade-off": "complex_reasoning"}


async def setup(fake_upstream: Any, gateway: Any, *, with_router: bool = True, **extra: Any) -> tuple[Any, ...]:
    mini, big, claude, router = [await fake_upstream(n) for n in ("mini", "gpt-4o", "claude", "router")]
    providers = [provider("openai/gpt-4o-mini", mini, default=True), provider("openai/gpt-4o", big),
                 provider("anthropic/claude-sonnet-4-20250514", claude, provider_interface="openai")]
    settings: dict[str, Any] = {"routing_preferences": ROUTES, "routing": {"router_timeout": "300ms"}, **extra}
    if with_router:
        providers.append(provider("local/arch-router", router))
        settings["overrides"] = {"llm_routing_model": "local/arch-router"}
    gw = await gateway(config(*providers, **settings))
    return gw, mini, big, claude, router


async def ledger_lines(gw: Any) -> list[dict[str, Any]]:
    gw.accounted()
    ledger = gw.server.gateway.services.ledger
    await ledger.flush()
    return [json.loads(line) for line in Path(ledger.path).read_text().splitlines()]


def ask(client: Any, text: str, model: str = "gpt-4o-mini", **kw: Any) -> Any:
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": text}], **kw)


async def test_code_prompt_is_routed_by_the_router_model_to_the_code_routes_model(
        fake_upstream, gateway, openai_client):
    gw, mini, big, claude, router = await setup(fake_upstream, gateway)
    router.default = route_by_keywords(RULES)

    reply = await ask(openai_client(gw), CODE)

    assert reply.choices[0].message.content == f"echo: {CODE}"
    (rec,) = claude.received
    assert rec.json["model"] == "claude-sonnet-4-20250514"
    assert not mini.received and not big.received
    (call,) = router.received
    assert call.json["temperature"] == 0.01 and call.json["model"] == "arch-router"
    assert "<routes>" in call.json["messages"][0]["content"]
    (line,) = await ledger_lines(gw)
    assert (line["router"], line["task"], line["selected_source"]) == (
        "llm", "code_generation", "anthropic/claude-sonnet-4-20250514")
    assert CODE not in json.dumps(line)


async def test_list_shaped_answers_route_too(fake_upstream, gateway, openai_client):
    gw, mini, big, claude, router = await setup(fake_upstream, gateway)
    router.default = route_by_keywords(RULES, as_list=True)

    await ask(openai_client(gw), "Explain the trade-offs of sharding")

    assert [r.json["model"] for r in big.received] == ["gpt-4o"]


async def test_other_keeps_the_requested_model(fake_upstream, gateway, openai_client):
    gw, mini, big, claude, router = await setup(fake_upstream, gateway)
    router.default = route_by_keywords(RULES)

    await ask(openai_client(gw), "hello there", model="openai/gpt-4o")

    assert len(big.received) == 1 and not mini.received and not claude.received


async def test_no_route_and_an_unknown_model_uses_the_default_provider(fake_upstream, gateway, openai_client):
    gw, mini, big, claude, router = await setup(fake_upstream, gateway)
    router.default = route_by_keywords(RULES)

    await ask(openai_client(gw), "hello there", model="no-such-model")

    assert [r.json["model"] for r in mini.received] == ["gpt-4o-mini"]


@pytest.mark.parametrize("failure", ["garbage", "status_500", "timeout"])
async def test_a_failing_router_model_falls_back_to_the_embedded_router(
        failure, fake_upstream, gateway, openai_client):
    gw, mini, big, claude, router = await setup(fake_upstream, gateway)
    router.default = {"garbage": answer_text("I would say it is probably about code?"),
                      "status_500": reply_status(500), "timeout": hang(5)}[failure]

    reply = await ask(openai_client(gw), CODE)

    assert reply.choices[0].message.content == f"echo: {CODE}"
    assert [r.json["model"] for r in claude.received] == ["claude-sonnet-4-20250514"]
    assert len(router.received) == 1
    (line,) = await ledger_lines(gw)
    assert (line["router"], line["task"]) == ("embedded", "code_generation")
    why = {"garbage": "unreadable_answer", "status_500": "status_500", "timeout": "timeout"}[failure]
    assert line["router_error"] == why and line["decision_reasons"] == [f"router_failed:{why}"]


async def test_without_a_router_model_the_embedded_router_decides(fake_upstream, gateway, openai_client):
    gw, mini, big, claude, router = await setup(fake_upstream, gateway, with_router=False)

    await ask(openai_client(gw), CODE)
    await ask(openai_client(gw), "What is the capital of France?")

    assert len(claude.received) == 1 and len(mini.received) == 1 and not router.received
    lines = await ledger_lines(gw)
    assert [(x["router"], x["task"]) for x in lines] == [("embedded", "code_generation"), ("embedded", "none")]


async def test_inline_routing_preferences_replace_the_config_and_are_not_forwarded(
        fake_upstream, gateway, openai_client):
    gw, mini, big, claude, router = await setup(fake_upstream, gateway, with_router=False)
    inline = [{"name": "everything", "description": "binary search functions", "models": ["openai/gpt-4o"]}]

    await ask(openai_client(gw), CODE, extra_body={"routing_preferences": inline, "vendor_field": 1})

    (rec,) = big.received
    assert "routing_preferences" not in rec.json and rec.json["vendor_field"] == 1
    assert not claude.received


async def test_inline_routing_policy_0_4_12_form(fake_upstream, gateway, openai_client):
    gw, mini, big, claude, router = await setup(fake_upstream, gateway, with_router=False)
    policy = [{"model": "openai/gpt-4o", "routing_preferences": [
        {"name": "coding", "description": "code generation and debugging"}]}]

    await ask(openai_client(gw), "Write quicksort in Go", extra_body={"routing_policy": policy})

    (rec,) = big.received
    assert "routing_policy" not in rec.json


async def test_a_pinned_session_skips_the_router_model(fake_upstream, gateway, openai_client):
    gw, mini, big, claude, router = await setup(fake_upstream, gateway)
    router.default = route_by_keywords(RULES)
    client = openai_client(gw)
    pin = {"X-Model-Affinity": "session-1"}

    await ask(client, CODE, extra_headers=pin)
    await ask(client, "Now explain the trade-offs of merge sort", extra_headers=pin)

    assert len(router.received) == 1
    assert len(claude.received) == 2 and not big.received
    lines = await ledger_lines(gw)
    assert [(x["router"], x["affinity_key"]) for x in lines] == [("llm", "session-1"), ("pinned", "session-1")]


async def test_a_router_prompt_file_replaces_our_template(fake_upstream, gateway, openai_client, tmp_path):
    template = tmp_path / "router-prompt.txt"
    template.write_text("ROUTES={routes}\n<conversation>{conversation}</conversation>\nanswer {\"route\": name}")
    gw, mini, big, claude, router = await setup(
        fake_upstream, gateway, routing={"router_timeout": "300ms", "router_prompt_file": str(template)})
    router.default = route_by_keywords(RULES)

    await ask(openai_client(gw), CODE)

    (call,) = router.received
    assert call.json["messages"][0]["content"].startswith('ROUTES=[{"name": "code_generation"')
    assert len(claude.received) == 1

"""/routing/v1/* through real sockets: the decision shapes of SPEC §4.4 in three API formats, pinning."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from plano_daemon.routing.affinity import SessionPins
from tests.conftest import FIXTURES
from tests.fakes.router_model import route_by_keywords
from tests.fakes.upstream import reply_status

CODE_MODELS = ["anthropic/claude-sonnet-4-20250514", "openai/gpt-4o"]
REASONING_MODELS = ["openai/gpt-4o", "openai/gpt-4o-mini"]
ENV = {"OPENAI_API_KEY": "sk-openai-secret", "ANTHROPIC_API_KEY": "sk-ant-secret"}


async def seed_gateway(gateway: Any, fake_upstream: Any, *, router: Any = None) -> tuple[Any, list[Any]]:
    """seed-routing-service.yaml with every provider (and the optional router model) on a fake upstream."""
    doc = yaml.safe_load((FIXTURES / "seed-routing-service.yaml").read_text())
    doc["listeners"][0]["port"] = 0
    fakes = []
    for p in doc["model_providers"]:
        fake = await fake_upstream(p["model"])
        p["base_url"] = fake.base_url
        fakes.append(fake)
    if router is not None:
        doc["model_providers"].append({"model": "local/arch-router", "base_url": router.base_url})
        doc["overrides"] = {"llm_routing_model": "local/arch-router"}
    return await gateway(yaml.safe_dump(doc), env=ENV), fakes


async def post(gw: Any, path: str, body: dict[str, Any], **headers: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{gw.url}{path}", json=body, headers=headers) as resp:
            assert resp.status == 200, await resp.text()
            return await resp.json()


def chat(text: str) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}


async def test_chat_format_returns_ranked_models_route_and_trace_id(gateway, fake_upstream):
    gw, fakes = await seed_gateway(gateway, fake_upstream)

    out = await post(gw, "/routing/v1/chat/completions", chat("Write a Python function that implements binary search"))

    assert out["models"] == CODE_MODELS and out["route"] == "code_generation"
    assert re.fullmatch(r"[0-9a-f]{32}", out["trace_id"])
    assert set(out) == {"models", "route", "trace_id", "switched"} and out["switched"] is False
    assert not any(f.received for f in fakes)  # a decision, never an LLM call


async def test_anthropic_format(gateway, fake_upstream):
    gw, _ = await seed_gateway(gateway, fake_upstream)
    body = {"model": "gpt-4o-mini", "max_tokens": 1024, "system": "be brief", "messages": [
        {"role": "user", "content": [{"type": "text", "text":
                                      "Create a REST API endpoint in Rust using actix-web that handles user registration"}]}]}

    out = await post(gw, "/routing/v1/messages", body)

    assert (out["models"], out["route"]) == (CODE_MODELS, "code_generation")


async def test_responses_format_with_string_and_item_input(gateway, fake_upstream):
    gw, _ = await seed_gateway(gateway, fake_upstream)

    as_string = await post(gw, "/routing/v1/responses",
                           {"model": "gpt-4o-mini", "input": "Build a React component that renders a sortable data table"})
    as_items = await post(gw, "/routing/v1/responses", {"model": "gpt-4o-mini", "input": [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text":
                                                         "Explain the trade-offs between microservices and monoliths"}]}]})

    assert (as_string["models"], as_string["route"]) == (CODE_MODELS, "code_generation")
    assert (as_items["models"], as_items["route"]) == (REASONING_MODELS, "complex_reasoning")


async def test_no_match_gives_none_and_null(gateway, fake_upstream):
    gw, _ = await seed_gateway(gateway, fake_upstream)

    out = await post(gw, "/routing/v1/chat/completions", chat("What is the capital of France?"))

    assert out["models"] == ["none"] and out["route"] is None


async def test_trace_id_comes_from_the_incoming_traceparent(gateway, fake_upstream):
    gw, _ = await seed_gateway(gateway, fake_upstream)
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"

    out = await post(gw, "/routing/v1/chat/completions", chat("hi"), traceparent=f"00-{trace}-00f067aa0ba902b7-01")

    assert out["trace_id"] == trace


async def test_pinning_first_fresh_then_pinned_without_a_router_call(gateway, fake_upstream):
    router = await fake_upstream("router")
    router.default = route_by_keywords({"function": "code_generation", "trade-off": "complex_reasoning"})
    gw, _ = await seed_gateway(gateway, fake_upstream, router=router)

    first = await post(gw, "/routing/v1/chat/completions", chat("Write a Python function for binary search"),
                       **{"X-Model-Affinity": "my-session-123"})
    second = await post(gw, "/routing/v1/chat/completions", chat("Now explain the trade-offs of merge sort"),
                        **{"X-Model-Affinity": "my-session-123"})

    assert (first["route"], first["session_id"], first["pinned"]) == ("code_generation", "my-session-123", False)
    assert "model" not in first
    assert (second["model"], second["route"], second["pinned"]) == (CODE_MODELS[0], "code_generation", True)
    assert len(router.received) == 1  # the second call never reached the router model

    other = await post(gw, "/routing/v1/chat/completions", chat("Explain the trade-offs of merge sort"),
                       **{"X-Model-Affinity": "demo-session-002"})
    assert (other["route"], other["pinned"], other["models"]) == ("complex_reasoning", False, REASONING_MODELS)
    assert len(router.received) == 2

    metrics = await get_metrics(gw)
    assert 'plano_session_cache_total{result="hit"} 1.0' in metrics
    assert 'plano_session_cache_total{result="miss"} 2.0' in metrics
    assert 'backend="llm",model="anthropic/claude-sonnet-4-20250514",route="code_generation"' in metrics
    assert 'backend="pinned"' in metrics


async def test_a_pin_expires_after_the_ttl(gateway, fake_upstream):
    gw, _ = await seed_gateway(gateway, fake_upstream)
    now = [0.0]
    gw.server.gateway.services.pins = SessionPins(ttl=600, max_entries=100, clock=lambda: now[0])
    key = {"X-Session-Id": "s-1"}

    await post(gw, "/routing/v1/chat/completions", chat("Write a Python function for binary search"), **key)
    now[0] = 599.0
    assert (await post(gw, "/routing/v1/chat/completions", chat("What is the capital of France?"), **key))["pinned"]
    now[0] = 600.0
    expired = await post(gw, "/routing/v1/chat/completions", chat("What is the capital of France?"), **key)

    assert (expired["pinned"], expired["route"], expired["models"]) == (False, None, ["none"])


async def test_every_decision_is_one_ledger_line_without_prompt_text_or_keys(gateway, fake_upstream):
    gw, _ = await seed_gateway(gateway, fake_upstream)
    prompts = ["Write a Python function for binary search", "What is the capital of France?"]
    for text in prompts:
        await post(gw, "/routing/v1/chat/completions", chat(text), **{"X-Model-Affinity": "k"})
    ledger = gw.server.gateway.services.ledger
    await ledger.flush()

    raw = Path(ledger.path).read_text()
    lines = [json.loads(line) for line in raw.splitlines()]
    assert [(x["task"], x["router"]) for x in lines] == [("code_generation", "embedded"), ("code_generation", "pinned")]
    assert all(x["affinity_key"] == "k" and x["requested_model"] == "gpt-4o-mini" for x in lines)
    for secret in [*prompts, *ENV.values()]:
        assert secret not in raw


async def get_metrics(gw: Any) -> str:
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{gw.url}/metrics") as resp:
            return await resp.text()


async def test_a_failing_router_model_is_named_in_the_ledger_line(gateway, fake_upstream):
    router = await fake_upstream("router")
    router.default = reply_status(500)
    gw, _ = await seed_gateway(gateway, fake_upstream, router=router)

    out = await post(gw, "/routing/v1/chat/completions", chat("Write a Python function for binary search"))

    assert out["route"] == "code_generation"  # the embedded router decided instead
    ledger = gw.server.gateway.services.ledger
    await ledger.flush()
    (line,) = [json.loads(x) for x in Path(ledger.path).read_text().splitlines()]
    assert (line["router"], line["router_error"]) == ("embedded", "status_500")

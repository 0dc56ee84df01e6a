"""Plano's `routing.route_on_user_only`: an agent's tool-result turns replay the session's last decision (no
router call, no re-route), a new user turn routes again, and `switched` says when the model changed."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from plano_daemon.routing.affinity import implicit_key, is_user_turn
from tests.conftest import FIXTURES
from tests.fakes.router_model import route_by_keywords
from tests.functional.test_routing_api_functional import ENV, post

ASK = {"role": "user", "content": "Write a Python function for binary search"}
CALL = {"role": "assistant", "content": None, "tool_calls": [
    {"id": "c1", "type": "function", "function": {"name": "run", "arguments": "{}"}}]}
RESULT = {"role": "tool", "tool_call_id": "c1", "content": "the trade-offs of merge sort are explained here"}
NEXT = {"role": "user", "content": "Now explain the trade-offs of merge sort"}


def chat(*messages: dict[str, Any]) -> dict[str, Any]:
    return {"model": "openai/gpt-4o", "messages": list(messages)}


async def routed_gateway(gateway: Any, fake_upstream: Any, *, on: bool) -> tuple[Any, Any]:
    """The routing seed with a router model that would re-route the tool step if asked (the last turn it
    sees names merge sort)."""
    router = await fake_upstream("router")
    router.default = route_by_keywords({"merge sort": "complex_reasoning", "function": "code_generation"})
    doc = yaml.safe_load((FIXTURES / "seed-routing-service.yaml").read_text())
    doc["listeners"][0]["port"] = 0
    for p in doc["model_providers"]:
        p["base_url"] = (await fake_upstream(p["model"])).base_url
    doc["model_providers"].append({"model": "local/arch-router", "base_url": router.base_url})
    doc["overrides"] = {"llm_routing_model": "local/arch-router"}
    doc["routing"] = {"route_on_user_only": on}
    return await gateway(yaml.safe_dump(doc), env=ENV), router


async def test_tool_result_turns_keep_the_last_route_without_asking_the_router(gateway, fake_upstream):
    gw, router = await routed_gateway(gateway, fake_upstream, on=True)
    path = "/routing/v1/chat/completions"

    first = await post(gw, path, chat(ASK))
    step = await post(gw, path, chat(ASK, CALL, RESULT))
    again = await post(gw, path, chat(ASK, CALL, RESULT, NEXT))

    assert (first["route"], first["switched"]) == ("code_generation", False)
    assert step["route"] == "code_generation" and step["switched"] is False
    assert len(router.received) == 2  # the first user turn and the new one; never the tool step
    assert (again["route"], again["switched"]) == ("complex_reasoning", True)


async def test_without_the_setting_every_step_asks_the_router(gateway, fake_upstream):
    gw, router = await routed_gateway(gateway, fake_upstream, on=False)
    path = "/routing/v1/chat/completions"

    await post(gw, path, chat(ASK))
    await post(gw, path, chat(ASK, CALL, RESULT))

    assert len(router.received) == 2


@pytest.mark.parametrize(("body", "user"), [
    (chat(ASK), True),
    (chat(ASK, CALL, RESULT), False),
    (chat(ASK, CALL), False),
    ({"messages": [ASK, {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "x", "input": {}}]},
                   {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "ok"}]}]},
     False),
    ({"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "ok"},
                                                {"type": "text", "text": "and now do X"}]}]}, True),
    ({"input": "hello"}, True),
    ({"input": [{"type": "message", "role": "user", "content": "hi"},
                {"type": "function_call_output", "call_id": "c", "output": "ok"}]}, False),
    ({"messages": []}, False),
])
def test_a_user_turn_in_each_api_shape(body: dict[str, Any], user: bool) -> None:
    assert is_user_turn(body) is user


def test_the_implicit_session_is_the_conversations_start() -> None:
    assert implicit_key(chat(ASK)) == implicit_key(chat(ASK, CALL, RESULT, NEXT))
    assert implicit_key(chat(ASK)) != implicit_key(chat(NEXT))
    assert implicit_key({"input": "hello"}) is None

"""The routing engine: its prompt template (a broken override never stops routing) and the decision itself."""

from __future__ import annotations

from typing import Any

from plano_daemon.catalog import Catalog
from plano_daemon.config.load import load_config
from plano_daemon.metrics import Metrics
from plano_daemon.routing.affinity import SessionPins
from plano_daemon.routing.engine import NOT_ROUTED, RoutingContext, RoutingEngine, load_template
from plano_daemon.routing.router_contract import DEFAULT_TEMPLATE
from plano_daemon.upstream import UpstreamPool


def test_no_file_means_our_template():
    assert load_template(None) == DEFAULT_TEMPLATE


def test_a_file_with_both_placeholders_is_used(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("R {routes} C {conversation}")
    assert load_template(str(path)) == "R {routes} C {conversation}"


def test_a_missing_or_incomplete_file_falls_back_to_our_template(tmp_path, caplog):
    incomplete = tmp_path / "t.txt"
    incomplete.write_text("only {routes}")
    assert load_template(str(incomplete)) == DEFAULT_TEMPLATE
    assert load_template(str(tmp_path / "missing.txt")) == DEFAULT_TEMPLATE
    assert "router_prompt_file" in caplog.text


# --- the decision: pins, route_on_user_only, the router model withheld, switched -----------------------

CONFIG = """
version: v0.4.0
listeners: [{type: model, name: m, address: 127.0.0.1, port: 0}]
model_providers:
  - {model: local/coder, base_url: "http://127.0.0.1:9/v1", default: true}
  - {model: cloud/big, base_url: "http://127.0.0.1:9/v1", access_key: k}
  - {model: cloud/router, base_url: "http://127.0.0.1:9/v1", access_key: k}
overrides: {llm_routing_model: cloud/router}
routing: {route_on_user_only: true}
routing_preferences:
  - {name: code_generation, description: "writing new code, functions and scripts", models: [local/coder]}
  - {name: travel_planning, description: "planning trips, flights, hotels and itineraries", models: [cloud/big]}
"""


def engine_and_context(*, may_see: bool) -> tuple[RoutingEngine, RoutingContext]:
    config = load_config(None, text=CONFIG, environ={}).config
    engine = RoutingEngine(config, Catalog(config))
    ctx = RoutingContext(UpstreamPool(connect_timeout=1.0), SessionPins(ttl=600, max_entries=100), Metrics(),
                         may_see=lambda channel: may_see)
    return engine, ctx


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


async def test_a_router_model_the_request_may_not_see_is_not_asked_and_the_embedded_router_decides() -> None:
    engine, ctx = engine_and_context(may_see=False)  # port 9 would refuse: asking it would fail differently
    result = await engine.route({"messages": [user("write a python function that parses dates")]}, {}, ctx)
    assert (result.route, result.models, result.router) == ("code_generation", ("local/coder",), "embedded")
    assert result.router_failure == "withheld_by_privacy_policy"


async def test_a_pinned_session_replays_its_decision_and_a_new_one_reports_switched() -> None:
    engine, ctx = engine_and_context(may_see=False)
    session = {"X-Session-Id": "s1"}
    first = await engine.route({"messages": [user("write a bash script to rotate logs")]}, session, ctx)
    again = await engine.route({"messages": [user("book me a hotel in Lisbon for the trip")]}, session, ctx)
    assert (first.route, first.pinned) == ("code_generation", False)
    assert (again.route, again.router, again.pinned, again.session_id) == ("code_generation", "pinned", True, "s1")


async def test_route_on_user_only_replays_the_decision_for_a_tool_result_turn_without_a_session() -> None:
    engine, ctx = engine_and_context(may_see=False)
    start = [user("plan a trip to Japan with flights and hotels")]
    first = await engine.route({"messages": start}, {}, ctx)
    tool_turn = [*start, {"role": "assistant", "content": None, "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "search", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "def parse(): pass  # code in the tool result"}]
    replay = await engine.route({"messages": tool_turn}, {}, ctx)
    assert first.route == "travel_planning"
    assert (replay.route, replay.router) == ("travel_planning", "pinned")


async def test_no_routes_or_no_conversation_is_not_routed() -> None:
    engine, ctx = engine_and_context(may_see=False)
    assert (await engine.route({"messages": []}, {}, ctx)).router == "none"
    empty_inline = {"messages": [user("hello")], "routing_preferences": []}
    assert await engine.route(empty_inline, {}, ctx) == NOT_ROUTED  # the request's own (empty) routes win

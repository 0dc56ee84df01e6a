"""SPEC §4.3 outcome rules and selection_policy ordering."""

from __future__ import annotations

from plano_daemon.routing.decide import decide, rank
from plano_daemon.routing.routes import Route

MODELS = ("openai/gpt-4o", "local/qwen", "openai/gpt-4o-mini")
COST = {"openai/gpt-4o": 10.0, "local/qwen": 0.0, "openai/gpt-4o-mini": 1.0}.get
LATENCY = {"openai/gpt-4o": 0.9, "openai/gpt-4o-mini": 0.3}.get


def test_without_a_policy_the_configured_order_is_kept():
    assert rank(Route("r", "d", MODELS), cost=COST, latency=LATENCY) == MODELS


def test_cheapest_sorts_by_cost():
    assert rank(Route("r", "d", MODELS, prefer="cheapest"), cost=COST) == (
        "local/qwen", "openai/gpt-4o-mini", "openai/gpt-4o")


def test_fastest_sorts_by_latency_and_unknown_models_keep_their_place_last():
    assert rank(Route("r", "d", MODELS, prefer="fastest"), latency=LATENCY) == (
        "openai/gpt-4o-mini", "openai/gpt-4o", "local/qwen")


def test_a_policy_without_estimates_changes_nothing():
    assert rank(Route("r", "d", MODELS, prefer="cheapest")) == MODELS


def test_a_route_replaces_the_requested_model():
    out = decide(("anthropic/claude", "openai/gpt-4o"), requested="gpt-4o-mini", exists=lambda m: True,
                 default="openai/gpt-4o-mini")
    assert (out.model, out.ranked, out.reason) == ("anthropic/claude", ("anthropic/claude", "openai/gpt-4o"), "routed")


def test_no_route_keeps_the_requested_model_when_it_exists():
    out = decide((), requested="gpt-4o", exists={"gpt-4o"}.__contains__, default="openai/gpt-4o-mini")
    assert (out.model, out.reason) == ("gpt-4o", "requested")


def test_no_route_and_an_unknown_model_uses_the_default_provider():
    out = decide((), requested="nope", exists=lambda m: False, default="openai/gpt-4o-mini")
    assert (out.model, out.reason) == ("openai/gpt-4o-mini", "default")
    assert decide((), requested="nope", exists=lambda m: False, default=None).model is None

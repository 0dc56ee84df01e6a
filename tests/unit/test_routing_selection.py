"""`selection_policy: {prefer: cheapest|fastest}` and the profile's affinity key sources, on the user's
own config and profile: ranking takes the numbers (cost classes, observed latency) as inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from plano_daemon.catalog import Catalog
from plano_daemon.config.load import load_config
from plano_daemon.config.profile import load_profile, parse_profile
from plano_daemon.config.schema import Config
from plano_daemon.errors import ConfigError
from plano_daemon.failover import Latency
from plano_daemon.policy.eligibility import Policy
from plano_daemon.routing.affinity import DEFAULT_KEY_HEADERS, affinity_key, key_headers
from plano_daemon.routing.engine import RoutingEngine
from plano_daemon.routing.routes import Route

FIXTURES = Path(__file__).parents[1] / "fixtures"
KEYS = {name: f"test-{name.lower()}" for name in (
    "OPENROUTER_API_KEY", "NOUS_API_KEY", "OPENCODE_API_KEY", "NVIDIA_API_KEY", "KIMI_API_KEY")}
METERED, LOW, FREE = "openrouter/anthropic/claude-3.5-sonnet", "opencode/default", "local-code"
UNCONFIGURED = "nowhere/model"


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(None, text=(FIXTURES / "dubnium-vllm.yaml").read_text(), environ=KEYS).config


@pytest.fixture(scope="module")
def catalog(config: Config) -> Catalog:
    return Catalog(config)


@pytest.fixture(scope="module")
def policy(catalog: Catalog) -> Policy:
    return Policy(load_profile(FIXTURES / "local-first-dev.yaml"), catalog)


def route(prefer: str, *models: str) -> Route:
    return Route("work", "any work", models, prefer)


def test_cheapest_orders_by_the_profiles_cost_class_unknown_last(config: Config, catalog: Catalog,
                                                                 policy: Policy) -> None:
    engine = RoutingEngine(config, catalog, cost=policy.cost_rank)
    ranked = engine.rank(route("cheapest", UNCONFIGURED, METERED, LOW, FREE))
    assert ranked == (FREE, LOW, METERED, UNCONFIGURED)


def test_cheapest_without_a_profile_keeps_the_configured_order(config: Config, catalog: Catalog) -> None:
    engine = RoutingEngine(config, catalog)
    assert engine.rank(route("cheapest", METERED, LOW, FREE)) == (METERED, LOW, FREE)


def test_fastest_orders_by_observed_latency_unmeasured_after_in_their_order(config: Config,
                                                                             catalog: Catalog) -> None:
    engine = RoutingEngine(config, catalog)
    latency = Latency()
    latency.observe("opencode/default", 0.9)
    latency.observe("openai/qwen2.5-coder-14b-instruct", 0.2)  # local-code's channel
    models = ("nvidia/nemotron-4-340b-instruct", METERED, LOW, FREE)
    assert engine.rank(route("fastest", *models), latency) == (FREE, LOW, "nvidia/nemotron-4-340b-instruct", METERED)
    assert engine.rank(route("fastest", *models), Latency()) == models
    assert engine.rank(route("none", *models), latency) == models


def test_latency_is_a_moving_average_weighted_to_recent_attempts() -> None:
    latency = Latency(alpha=0.5)
    assert latency.estimate("a/b") is None
    latency.observe("a/b", 1.0)
    latency.observe("a/b", 3.0)
    assert latency.estimate("a/b") == 2.0


def test_key_sources_follow_the_profile_order_or_disable_pinning() -> None:
    headers = {"X-Session-Id": "session", "X-Model-Affinity": "explicit", "X-Anthesis-Execution-Id": "exec"}
    assert key_headers(None) == DEFAULT_KEY_HEADERS
    assert affinity_key(headers, key_headers(None)) == "exec"
    assert affinity_key(headers, key_headers(["explicit_affinity_key", "session_id"])) == "explicit"
    assert affinity_key({"X-Anthesis-Execution-Id": "exec"}, key_headers(["session_id"])) is None
    assert key_headers(["session_id"], enabled=False) == ()


def test_an_unknown_key_source_in_the_profile_is_a_config_error_with_its_path() -> None:
    text = (FIXTURES / "local-first-dev.yaml").read_text().replace("    - session_id\n", "    - session\n")
    with pytest.raises(ConfigError) as err:
        parse_profile(text)
    assert err.value.problems == ["<profile>: affinity: key_sources[1]: unknown key source 'session'; "
                                  "known: anthesis_execution_id, session_id, explicit_affinity_key"]

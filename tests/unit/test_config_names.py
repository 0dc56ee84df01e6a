"""One model-name resolver for validation and serving: Plano configs load as Plano loads them."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from plano_daemon.catalog import Catalog
from plano_daemon.config.load import load_config
from plano_daemon.errors import ConfigError, GatewayError
from plano_daemon.wire.apis import CHAT
from tests.conftest import FIXTURES

PLANO_ENV = {name: f"test-{name.lower()}" for name in (
    "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "AZURE_API_KEY", "AWS_BEARER_TOKEN_BEDROCK", "GROK_API_KEY")}


def test_planos_config_with_aliases_loads_unchanged_and_serves_its_aliases() -> None:
    loaded = load_config(str(FIXTURES / "plano" / "config_with_aliases.yaml"), environ=PLANO_ENV)
    catalog = Catalog(loaded.config)

    served = {alias: getattr(catalog.resolve(alias), "model", None) for alias in loaded.config.model_aliases}
    assert served == {
        "arch.summarize.v1": "openai/gpt-5-mini-2025-08-07", "arch.v1": "openai/o3",
        "arch.reasoning.v1": "openai/gpt-4o", "arch.creative.v1": "anthropic/claude-sonnet-4-6",
        "arch.fast.v1": "anthropic/claude-3-haiku-20240307", "summary-model": "openai/gpt-5-mini-2025-08-07",
        "chat-model": "openai/gpt-5-mini-2025-08-07", "creative-model": "anthropic/claude-sonnet-4-6",
        "coding-model": "amazon_bedrock/us.amazon.nova-premier-v1:0", "arch.grok.v1": "xai/grok-4-0709"}
    assert any("amazon_bedrock" in w and "does not" in w for w in loaded.warnings)


def test_a_bedrock_channel_is_refused_with_an_error_naming_the_provider() -> None:
    loaded = load_config(str(FIXTURES / "plano" / "config_with_aliases.yaml"), environ=PLANO_ENV)
    channel = Catalog(loaded.config).resolve("coding-model")
    assert channel is not None
    with pytest.raises(GatewayError, match="amazon_bedrock") as err:
        channel.upstream_api(CHAT)
    assert err.value.status == 501


PROVIDERS = [{"model": "openai/gpt-4o", "access_key": "k"},
             {"model": "local/qwen3", "name": "coder", "base_url": "http://127.0.0.1:8000/v1"},
             {"model": "backup/qwen3", "base_url": "http://127.0.0.1:8001/v1", "default": True},
             {"model": "openrouter/*", "access_key": "k"}]
NAMES = ["gpt-4o", "openai/gpt-4o", "coder", "qwen3", "local/qwen3", "backup/qwen3", "openrouter/x/y",
         "openrouter/", "nope", "local/gpt-4o", "gpt-4o-mini", "fast", "openai/*"]


def load(**extra: Any) -> Catalog:
    cfg = {"version": "v0.4.0", "listeners": [{"type": "model", "port": 0}], "model_providers": PROVIDERS,
           "model_aliases": {"fast": {"target": "coder"}}, **extra}
    return Catalog(load_config(None, text=yaml.safe_dump(cfg), environ={}).config)


@pytest.mark.parametrize("name", NAMES)
def test_validation_accepts_exactly_the_names_serving_resolves(name: str) -> None:
    served = load().resolve(name) is not None
    places: list[dict[str, Any]] = [
        {"model_aliases": {"fast": {"target": "coder"}, "x": {"target": name}}},
        {"routing_preferences": [{"name": "r", "description": "d", "models": [name]}]},
        {"dubnium": {"default_retry_policy": {"fallback_models": [name]}}},
        {"dubnium": {"budgets": [{"target": name, "daily_requests": 5}]}}]
    for extra in places:
        if name == "fast" and "model_aliases" in extra:
            continue  # an alias's target is a model, not another alias
        try:
            load(**extra)
            accepted = True
        except ConfigError:
            accepted = False
        assert accepted == (served or (name == "openai/*" and "budgets" in str(extra))), (name, extra)


def test_a_bare_id_resolves_to_the_default_channel_first() -> None:
    ch = load().resolve("qwen3")
    assert ch is not None and ch.model == "backup/qwen3"


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(NAMES))
def test_an_alias_resolves_like_its_target(name: str) -> None:
    catalog = load()
    if catalog.resolve(name) is None or name == "fast":
        return
    aliased = load(model_aliases={"fast": {"target": "coder"}, "via": {"target": name}})
    assert aliased.resolve("via") == catalog.resolve(name)


def test_upstream_model_settings_must_name_a_provider() -> None:
    with pytest.raises(ConfigError, match="upstream_models"):
        load(dubnium={"upstream_models": {"gpt-4o": {"context_window": 1000}}})
    assert load(dubnium={"upstream_models": {"coder": {"context_window": 1000}}}).resolve("fast").context_window == 1000

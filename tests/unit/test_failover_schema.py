"""The retry_policy config of SPEC §3: seed 001 loads as written; mistakes are rejected with their path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from plano_daemon.config.schema import Config, RetryPolicy

SEED = Path(__file__).parent.parent / "fixtures" / "seed-retry-failover.yaml"


def config(policy: dict[str, Any], *, where: str = "provider") -> Config:
    providers: list[dict[str, Any]] = [
        {"model": "a/m1", "base_url": "http://127.0.0.1:9/v1"},
        {"model": "b/m1", "base_url": "http://127.0.0.1:9/v1"},
    ]
    doc: dict[str, Any] = {"listeners": [{"port": 12000}], "model_providers": providers}
    if where == "provider":
        providers[0]["retry_policy"] = policy
    else:
        doc["dubnium"] = {"default_retry_policy": policy}
    return Config.model_validate(doc)


def test_seed_001_policy_loads_with_its_values() -> None:
    cfg = Config.model_validate(yaml.safe_load(SEED.read_text()))
    policy = cfg.model_providers[0].retry_policy
    assert policy is not None
    assert policy.fallback_models == ["custom-aws/claude-opus-4-6", "custom-offcial/claude-opus-4-6"]
    assert (policy.default_strategy, policy.default_max_attempts) == ("different_provider", 3)
    assert policy.on_status_codes[0].codes == [401, 429, 503]
    assert policy.on_status_codes[0].max_attempts == 3


def test_defaults_match_the_spec() -> None:
    p = RetryPolicy()
    assert (p.default_strategy, p.default_max_attempts) == ("different_provider", 2)
    assert (p.backoff.base_ms, p.backoff.max_ms, p.backoff.jitter) == (100, 5000, True)
    assert (p.retry_after_handling.scope, p.retry_after_handling.apply_to,
            p.retry_after_handling.max_retry_after_seconds) == ("model", "global", 300)


def test_status_ranges_expand() -> None:
    cfg = config({"on_status_codes": [{"codes": ["500-504", 429]}]})
    assert cfg.model_providers[0].retry_policy.on_status_codes[0].codes == [500, 501, 502, 503, 504, 429]


@pytest.mark.parametrize("codes", [["504-500"], ["5xx"], [True], [99], ["600"]])
def test_bad_status_codes_are_rejected(codes: list[Any]) -> None:
    with pytest.raises(ValidationError, match="on_status_codes"):
        config({"on_status_codes": [{"codes": codes}]})


@pytest.mark.parametrize("policy", [
    {"default_strategy": "round_robin"},
    {"on_status_codes": [{"codes": [429], "strategy": "other_model"}]},
    {"on_timeout": {"strategy": "anywhere"}},
])
def test_unknown_strategies_are_rejected(policy: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="strategy"):
        config(policy)


@pytest.mark.parametrize("where", ["provider", "default"])
def test_unconfigured_fallback_models_are_rejected_with_their_path(where: str) -> None:
    with pytest.raises(ValidationError) as err:
        config({"fallback_models": ["b/m1", "z/nope"]}, where=where)
    text = str(err.value)
    assert "fallback_models[1]" in text and "z/nope" in text
    assert "fallback_models[0]" not in text


def test_unknown_policy_keys_are_rejected() -> None:
    with pytest.raises(ValidationError, match="max_atempts"):
        config({"on_timeout": {"max_atempts": 2}})


def test_zero_attempts_is_rejected() -> None:
    with pytest.raises(ValidationError, match="default_max_attempts"):
        config({"default_max_attempts": 0})

"""Config loading: the user's files load unchanged, legacy forms migrate, bad configs name their path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from plano_daemon.catalog import Catalog
from plano_daemon.config.envsubst import parse_env_file
from plano_daemon.config.load import load_config
from plano_daemon.config.schema import parse_duration
from plano_daemon.errors import ConfigError
from tests.conftest import FIXTURES, child_env

ENV = {name: f"secret-value-of-{name.lower()}" for name in (
    "OPENROUTER_API_KEY", "NOUS_API_KEY", "OPENCODE_API_KEY", "NVIDIA_API_KEY", "KIMI_API_KEY",
    "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "CLAUDE_API_KEY", "CLAUDE_AWS_API_KEY", "CLAUDE_OFFCIAL_API_KEY",
    "CODEX_API_KEY")}
CONFIG_FIXTURES = sorted(p for p in FIXTURES.glob("*.yaml") if p.name != "local-first-dev.yaml")


@pytest.mark.parametrize("path", CONFIG_FIXTURES, ids=lambda p: p.name)
def test_every_user_config_loads_unchanged(path: Path) -> None:
    loaded = load_config(str(path), environ=ENV)
    assert loaded.config.model_providers
    assert Catalog(loaded.config).channels


def test_unknown_prefix_with_base_url_is_an_openai_channel() -> None:
    cfg = load_config(str(FIXTURES / "dubnium-vllm.yaml"), environ=ENV).config
    ch = Catalog(cfg).resolve("nous/hermes-3-llama-3.1-405b")
    assert ch is not None and ch.interface == "openai"
    assert ch.url("chat") == "https://api.nousresearch.com/v1/chat/completions"
    assert ch.auth_headers == (("Authorization", "Bearer secret-value-of-nous_api_key"),)


def test_legacy_inline_preferences_are_lifted_in_declaration_order() -> None:
    cfg = load_config(str(FIXTURES / "seed-legacy-inline.yaml"), environ=ENV).config
    assert cfg.version == "v0.4.0"
    assert [(p.name, p.models) for p in cfg.routing_preferences] == [
        ("complex_reasoning", ["openai/gpt-4o"]), ("code_generation", ["anthropic/claude-sonnet-4-20250514"])]


def test_llm_providers_and_legacy_listener_object_migrate() -> None:
    text = yaml.safe_dump({
        "version": "v0.1",
        "listeners": {"egress_traffic": {"address": "127.0.0.1", "port": 12001, "message_format": "openai",
                                         "timeout": "60s"}},
        "llm_providers": [{"model": "openai/gpt-4o", "access_key": "$OPENAI_API_KEY", "routing_preferences": [
            {"name": "code", "description": "code"}]}, {"model": "openai/gpt-4o-mini", "routing_preferences": [
                {"name": "code", "description": "code"}]}]})
    loaded = load_config(None, text=text, environ=ENV)
    cfg = loaded.config
    assert (cfg.listeners[0].type, cfg.listeners[0].port, cfg.listeners[0].timeout) == ("model", 12001, 60.0)
    assert cfg.routing_preferences[0].models == ["openai/gpt-4o", "openai/gpt-4o-mini"]
    assert any("llm_providers" in w for w in loaded.warnings)


def test_env_file_values_and_braced_references() -> None:
    text = "version: v0.4.0\nmodel_providers:\n  - model: x/m\n    base_url: http://${HOST}:8000/v1\n" \
           "    access_key: ${KEY}\n"
    env_file, problems = parse_env_file('# comment\nexport HOST=127.0.0.1\nKEY="quoted value"\n')
    assert problems == []
    cfg = load_config(None, text=text, environ=env_file).config
    ch = Catalog(cfg).resolve("x/m")
    assert ch is not None and ch.url("chat") == "http://127.0.0.1:8000/v1/chat/completions"
    assert ch.auth_headers == (("Authorization", "Bearer quoted value"),)


BAD = {
    "unknown key": ("model_providers:\n  - model: openai/m\n    acess_key: x\n",
                    "model_providers[0].acess_key: unknown key"),
    "missing var": ("model_providers:\n  - model: openai/m\n    access_key: $NOT_SET_ANYWHERE\n",
                    "model_providers[0].access_key: environment variable NOT_SET_ANYWHERE is not set"),
    "duplicate names": ("model_providers:\n  - {model: a/m, name: same, base_url: 'http://h'}\n"
                        "  - {model: b/m, name: same, base_url: 'http://h'}\n",
                        "model_providers[1].name: duplicate name 'same'"),
    "alias to missing model": ("model_providers:\n  - model: openai/m\nmodel_aliases:\n  fast: {target: openai/nope}\n",
                               "model_aliases.fast.target: 'openai/nope' is not a configured model"),
    "base_url without scheme": ("model_providers:\n  - {model: x/m, base_url: 'api.example.com/v1'}\n",
                                "model_providers[0].base_url: base_url must be an absolute http"),
    "unknown prefix without base_url": ("model_providers:\n  - model: mystery/m\n",
                                        "model_providers[0]: provider prefix 'mystery' is not a known provider"),
    "bad duration": ("listeners: [{type: model, name: x, timeout: soon}]\nmodel_providers:\n  - model: openai/m\n",
                     "listeners[0].timeout: expected a duration"),
    "fallback to missing": ("model_providers:\n  - model: openai/m\n    retry_policy: {fallback_models: [openai/zz]}\n",
                            "model_providers[0].retry_policy.fallback_models[0]: 'openai/zz' is not a configured"),
    "unknown strategy": ("model_providers:\n  - model: openai/m\n    retry_policy: {default_strategy: sideways}\n",
                         "model_providers[0].retry_policy.default_strategy:"),
    "route to missing model": ("model_providers:\n  - model: openai/m\nrouting_preferences:\n"
                               "  - {name: r, description: d, models: [openai/q]}\n",
                               "routing_preferences[0].models[0]: 'openai/q' is not a configured model"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_config_names_the_path(name: str) -> None:
    text, expected = BAD[name]
    with pytest.raises(ConfigError) as info:
        load_config(None, text="version: v0.4.0\n" + text, environ={"SECRET": "hunter2-very-secret"})
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems


def test_every_problem_is_reported_at_once() -> None:
    text = "model_providers:\n  - {model: openai/m, access_key: $A1}\n  - {model: openai/n, access_key: $A2, typo: 1}\n"
    with pytest.raises(ConfigError) as info:
        load_config(None, text=text, environ={})
    joined = "\n".join(info.value.problems)
    assert "A1 is not set" in joined and "A2 is not set" in joined and "typo: unknown key" in joined


def test_yaml_syntax_error_has_a_position() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, text="model_providers: [\n", environ={})
    assert "line " in info.value.problems[0]


@pytest.mark.parametrize("value,seconds", [("120s", 120.0), ("500ms", 0.5), ("5m", 300.0), (30, 30.0), ("1h", 3600.0)])
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


def _validate(tmp_path: Path, text: str, env_text: str = "") -> subprocess.CompletedProcess[str]:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(text)
    env_file = tmp_path / "env"
    env_file.write_text(env_text)
    return subprocess.run([sys.executable, "-m", "plano_daemon", "validate", "--config", str(cfg),
                           "--env-file", str(env_file)], capture_output=True, text=True, timeout=60,
                          env=child_env())


def test_validate_cli_prints_problems_exits_2_and_never_a_secret(tmp_path: Path) -> None:
    secret = "sk-live-abcdefghijklmnopqrstuvwxyz"
    text = ("version: v0.4.0\nmodel_providers:\n  - model: openai/m\n    access_key: $KEY\n"
            "    base_url: not-a-url\n    headers: {X-Token: $KEY}\n  - {model: openai/n, typo: 1}\n")
    result = _validate(tmp_path, text, f"KEY={secret}\n")
    assert result.returncode == 2
    assert "model_providers[0].base_url" in result.stderr
    assert "model_providers[1].typo: unknown key" in result.stderr
    assert "Traceback" not in result.stderr
    assert secret not in result.stdout + result.stderr


def test_validate_cli_accepts_the_users_config(tmp_path: Path) -> None:
    env_text = "".join(f"{k}={v}\n" for k, v in ENV.items())
    result = _validate(tmp_path, (FIXTURES / "dubnium-vllm.yaml").read_text(), env_text)
    assert result.returncode == 0, result.stderr
    assert "6 providers, 8 aliases, 7 routing preferences" in result.stdout
    assert all(v not in result.stdout + result.stderr for v in ENV.values())


def test_validate_cli_missing_file_exits_2(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "plano_daemon", "validate", "--config",
                             str(tmp_path / "absent.yaml")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "cannot read" in result.stderr


@pytest.mark.parametrize("listen", ["localhost", "127.0.0.1:metrics", "127.0.0.1:70000"])
def test_a_metrics_listen_that_is_not_host_port_is_a_validation_error(listen: str) -> None:
    text = yaml.safe_dump({"listeners": [{"port": 0}], "dubnium": {"metrics": {"listen": listen}},
                           "model_providers": [{"model": "local/m", "base_url": "http://127.0.0.1:8000/v1"}]})
    with pytest.raises(ConfigError) as info:
        load_config(None, text=text, environ={})
    assert any(p.startswith("dubnium.metrics.listen: expected host:port") for p in info.value.problems)


def test_plano_settings_the_gateway_does_not_act_on_are_named_at_load() -> None:
    text = yaml.safe_dump({
        "listeners": [{"port": 0, "max_retries": 3}],
        "model_providers": [{"model": "local/m", "base_url": "http://127.0.0.1:8000/v1"}],
        "prompt_guards": {"input_guards": {}}, "routing": {"model": "Arch-Router"}})
    warnings = load_config(None, text=text, environ={}).warnings
    for where in ("listeners[0].max_retries", "prompt_guards", "routing.model"):
        assert any(w.startswith(f"{where}: ") for w in warnings), where
    plain = yaml.safe_dump({"listeners": [{"port": 0}],
                            "model_providers": [{"model": "local/m", "base_url": "http://127.0.0.1:8000/v1"}]})
    assert load_config(None, text=plain, environ={}).warnings == []


def test_session_cache_and_ratelimits_follow_planos_schema() -> None:
    base = {"listeners": [{"port": 0}], "model_providers": [{"model": "local/m", "base_url": "http://127.0.0.1:8000/v1"}]}
    with pytest.raises(ConfigError) as info:
        load_config(None, text=yaml.safe_dump({**base, "routing": {"session_cache": {"type": "redis"}}}), environ={})
    assert any("url` is required when type is redis" in p for p in info.value.problems)
    with pytest.raises(ConfigError) as info:
        load_config(None, text=yaml.safe_dump({**base, "ratelimits": [{"model": "local/m", "limit": 10}]}), environ={})
    assert any(p.startswith("ratelimits[0].") for p in info.value.problems)
    good = {**base, "routing": {"session_cache": {"type": "redis", "url": "redis://:${REDIS_PW}@127.0.0.1:6379"},
                                "route_on_user_only": True},
            "ratelimits": [{"model": "local/m", "selector": {"key": "x-user-id", "value": "*"},
                            "limit": {"tokens": 1000, "unit": "minute"}}]}
    loaded = load_config(None, text=yaml.safe_dump(good), environ={"REDIS_PW": "hunter2"})
    assert loaded.warnings == []
    assert loaded.config.routing.session_cache is not None
    assert loaded.config.routing.session_cache.url == "redis://:hunter2@127.0.0.1:6379"
    assert "hunter2" in loaded.secrets  # never printed: redacted like a provider key

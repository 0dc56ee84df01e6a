"""The model-router profile: the user's file loads, mistakes are reported by path, the path is found."""

from __future__ import annotations

from pathlib import Path

import pytest

from plano_daemon.config.profile import load_profile, parse_profile, profile_path
from plano_daemon.errors import ConfigError

FIXTURE = Path(__file__).parents[1] / "fixtures" / "local-first-dev.yaml"

MINIMAL = """
profile: p
privacy_classes:
  open: {allowed_boundaries: [local, trusted_cloud, public_cloud]}
  cloud: {allowed_boundaries: [local, trusted_cloud]}
  private: {allowed_boundaries: [local]}
"""


def test_the_users_profile_loads_with_local_only_as_the_default_class() -> None:
    profile = load_profile(FIXTURE)
    assert profile.profile == "local-first-dev"
    assert profile.default_class == "local_only"
    assert next(s for s in profile.sources if s.plano_alias == "cloud-general").privacy_boundary == "trusted_cloud"
    assert "privacy_violation" in profile.fallback.forbidden_reasons
    assert profile.affinity.key_sources[0] == "anthesis_execution_id"


def test_default_class_is_the_most_restrictive_whatever_the_declaration_order() -> None:
    assert parse_profile(MINIMAL).default_class == "private"


def test_default_class_can_be_named_explicitly() -> None:
    assert parse_profile(MINIMAL + "default_privacy_class: cloud\n").default_class == "cloud"


def test_problems_are_reported_with_their_path_and_without_values() -> None:
    text = MINIMAL + """
sources:
  - {id: a, plano_alias: x, privacy_boundary: moon, cost_class: free}
  - {id: a, plano_alias: y, privacy_boundary: local, typo: 1}
"""
    with pytest.raises(ConfigError) as err:
        parse_profile(text, where="prof.yaml")
    assert err.value.problems == [
        "prof.yaml: sources[0].privacy_boundary: Input should be 'local', 'trusted_cloud' or 'public_cloud'",
        "prof.yaml: sources[1].typo: unknown key (check the spelling against the model-router profile schema)",
    ]


def test_cross_references_are_checked() -> None:
    text = MINIMAL + """
default_privacy_class: nope
sources:
  - {id: a, plano_alias: x, privacy_boundary: local}
  - {id: a, plano_alias: x, privacy_boundary: local}
rules:
  - {id: r, effect: require_local, when: {privacy_class: [ghost]}}
fallback: {allowed_reasons: [timeout], forbidden_reasons: [timeout]}
"""
    with pytest.raises(ConfigError) as err:
        parse_profile(text)
    assert err.value.problems == ["<profile>: fallback: reason 'timeout' is both allowed and forbidden"]
    with pytest.raises(ConfigError) as err:
        parse_profile(text.replace("forbidden_reasons: [timeout]", "forbidden_reasons: []"))
    assert err.value.problems == [
        "<profile>: default_privacy_class: 'nope' is not a privacy class",
        "<profile>: sources[1].id: duplicate id 'a' (also sources[0])",
        "<profile>: sources[1].plano_alias: 'x' is already the alias of sources[0]",
        "<profile>: rules[0].when.privacy_class[0]: 'ghost' is not a privacy class",
    ]


@pytest.mark.parametrize(("rule", "problem"), [
    ("{id: r, effect: allow}", "rules[0]: an allow rule needs parameters.privacy_boundary"),
    ("{id: r, effect: allow, parameters: {privacy_boundary: [mars]}}",
     "rules[0]: parameters.privacy_boundary: unknown boundary 'mars'; known: local, trusted_cloud, public_cloud"),
    ("{id: r, effect: prefer}", "rules[0]: a prefer rule needs parameters.cost_class"),
    ("{id: r, effect: widen}", "rules[0].effect: Input should be 'require_local', 'prefer' or 'allow'"),
])
def test_rules_must_be_usable(rule: str, problem: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_profile(MINIMAL + f"rules: [{rule}]\n")
    assert err.value.problems == [f"<profile>: {problem}"]


def test_a_profile_without_privacy_classes_is_rejected() -> None:
    with pytest.raises(ConfigError) as err:
        parse_profile("profile: p\nprivacy_classes: {}\n")
    assert err.value.problems[0].startswith("<profile>: privacy_classes: ")


@pytest.mark.parametrize("text", ["[1, 2]", "a: [", ""])
def test_yaml_that_is_not_a_mapping_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_profile(text)


def test_an_unreadable_profile_is_an_error_not_silence(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_profile(tmp_path / "missing.yaml")
    assert "cannot read" in err.value.problems[0]


def test_profile_path_prefers_the_config_setting_relative_to_the_config_file() -> None:
    env = {"MODEL_ROUTER_CONFIG_HOME": "/home/u/.config/model-router", "MODEL_ROUTER_PROFILE": "local-first-dev"}
    assert profile_path("prof.yaml", env, config_path="/etc/plano/config.yaml") == Path("/etc/plano/prof.yaml")
    assert profile_path("/abs/p.yaml", env) == Path("/abs/p.yaml")
    assert profile_path(None, env) == Path("/home/u/.config/model-router/profiles/local-first-dev.yaml")


@pytest.mark.parametrize("env", [{}, {"MODEL_ROUTER_PROFILE": "x"}, {"MODEL_ROUTER_CONFIG_HOME": "/c"}])
def test_no_setting_and_incomplete_environment_means_no_profile(env: dict[str, str]) -> None:
    assert profile_path(None, env) is None


CONFIG = """
listeners: [{port: 0}]
model_providers: [{model: local/m, base_url: "http://127.0.0.1:9/v1"}]
"""


def test_the_config_loads_its_profile_from_the_dubnium_key(tmp_path: Path) -> None:
    from plano_daemon.config.load import load_config
    (tmp_path / "prof.yaml").write_text(FIXTURE.read_text())
    cfg_path = tmp_path / "plano.yaml"
    cfg_path.write_text(CONFIG + "dubnium: {policy_profile: prof.yaml}\n")
    loaded = load_config(str(cfg_path), environ={})
    assert loaded.profile is not None and loaded.profile.profile == "local-first-dev"
    assert load_config(None, text=CONFIG, environ={}).profile is None


def test_the_config_finds_the_profile_from_the_users_shell_variables(tmp_path: Path) -> None:
    from plano_daemon.config.load import load_config
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "local-first-dev.yaml").write_text(FIXTURE.read_text())
    env = {"MODEL_ROUTER_CONFIG_HOME": str(tmp_path), "MODEL_ROUTER_PROFILE": "local-first-dev"}
    loaded = load_config(None, text=CONFIG, environ=env)
    assert loaded.profile is not None and loaded.profile.default_class == "local_only"


def test_a_bad_profile_makes_the_config_invalid_with_the_profile_path(tmp_path: Path) -> None:
    from plano_daemon.config.load import load_config
    bad = tmp_path / "bad.yaml"
    bad.write_text("profile: p\nprivacy_classes: {x: {allowed_boundaries: [local]}}\nfallback: {allowed: []}\n")
    with pytest.raises(ConfigError) as err:
        load_config(None, text=CONFIG + f"dubnium: {{policy_profile: {bad}}}\n", environ={})
    assert err.value.problems == [
        f"policy profile {bad}: fallback.allowed: unknown key (check the spelling against the model-router "
        "profile schema)"]

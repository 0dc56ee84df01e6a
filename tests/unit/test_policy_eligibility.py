"""Eligibility: boundaries per channel, the request's class failing closed, rules that only narrow."""

from __future__ import annotations

from pathlib import Path

import pytest

from plano_daemon.catalog import Catalog, Channel
from plano_daemon.config.load import load_config
from plano_daemon.config.profile import load_profile, parse_profile
from plano_daemon.policy.eligibility import Policy, RequestClass, SourceInfo

FIXTURES = Path(__file__).parents[1] / "fixtures"
KEYS = {name: f"test-{name.lower()}" for name in (
    "OPENROUTER_API_KEY", "NOUS_API_KEY", "OPENCODE_API_KEY", "NVIDIA_API_KEY", "KIMI_API_KEY")}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog(load_config(str(FIXTURES / "dubnium-vllm.yaml"), environ=KEYS).config)


@pytest.fixture(scope="module")
def policy(catalog: Catalog) -> Policy:
    return Policy(load_profile(FIXTURES / "local-first-dev.yaml"), catalog)


def ch(catalog: Catalog, name: str) -> Channel:
    channel = catalog.resolve(name)
    assert channel is not None
    return channel


def test_boundaries_come_from_the_profile_sources_through_the_aliases(policy: Policy, catalog: Catalog) -> None:
    assert policy.source(ch(catalog, "local-code")).boundary == "local"
    cloud = policy.source(ch(catalog, "openrouter/anthropic/claude-3.5-sonnet"))
    assert (cloud.name, cloud.boundary, cloud.cost_class) == ("openrouter-cloud-general", "trusted_cloud", "metered")
    assert policy.source(ch(catalog, "opencode/default")).cost_class == "low"


def test_without_a_source_loopback_is_local_and_anything_else_public_cloud() -> None:
    cfg = load_config(None, environ={}, text="""
listeners: [{port: 0}]
model_providers:
  - {model: a/local, base_url: "http://127.0.0.1:9/v1"}
  - {model: b/lan, base_url: "http://192.168.1.5:8000/v1"}
  - {model: c/ipv6, base_url: "http://[::1]:9/v1"}
""").config
    catalog = Catalog(cfg)
    policy = Policy(parse_profile("profile: p\nprivacy_classes: {x: {allowed_boundaries: [local]}}"), catalog)
    assert [policy.source(c).boundary for c in catalog.channels] == ["local", "public_cloud", "local"]
    assert policy.source(catalog.channels[1]).name == "b/lan"


def test_a_cloud_source_on_a_loopback_address_is_still_cloud() -> None:
    cfg = load_config(None, environ={}, text="""
listeners: [{port: 0}]
model_providers: [{model: relay/big, base_url: "http://127.0.0.1:9/v1"}]
model_aliases: {big: {target: relay/big}, also: {target: relay/big}}
""").config
    catalog = Catalog(cfg)
    profile = parse_profile("""
profile: p
privacy_classes: {x: {allowed_boundaries: [local]}}
sources:
  - {id: first, plano_alias: big, privacy_boundary: local}
  - {id: second, plano_alias: also, privacy_boundary: public_cloud}
  - {id: ghost, plano_alias: not-configured, privacy_boundary: local}
""")
    info = Policy(profile, catalog).source(catalog.channels[0])
    assert (info.name, info.boundary) == ("first", "public_cloud")  # the most exposed label wins


@pytest.mark.parametrize(("headers", "expected"), [
    ({}, ("local_only", (), False)),
    ({"X-Privacy-Class": "trusted_cloud_ok"}, ("trusted_cloud_ok", (), True)),
    ({"X-Privacy-Class": " Public_Cloud_OK "}, ("public_cloud_ok", (), True)),
    ({"X-Privacy-Class": "cloud_please"}, ("local_only", (), False)),
    ({"X-Privacy-Class": "trusted_cloud_ok, public_cloud_ok"}, ("local_only", (), False)),
    ({"X-Privacy-Class": ""}, ("local_only", (), False)),
    ({"X-Privacy-Class": "public_cloud_ok", "X-Data-Class": "source_code, docs,source_code"},
     ("public_cloud_ok", ("source_code", "docs"), True)),
    ({"X-Privacy-Class": "public_cloud_ok", "X-Data-Class": "secrets,{bad}"},
     ("local_only", ("secrets",), False)),
])
def test_request_class_fails_closed_on_anything_uncertain(policy: Policy, headers: dict[str, str],
                                                          expected: tuple[str, tuple[str, ...], bool]) -> None:
    rc = policy.classify(headers)
    assert (rc.privacy_class, rc.data_classes, rc.labelled) == expected


def verdict_for(policy: Policy, headers: dict[str, str]) -> frozenset[str]:
    return policy.verdict(policy.classify(headers)).boundaries


def test_privacy_classes_give_their_boundaries(policy: Policy) -> None:
    assert verdict_for(policy, {}) == {"local"}
    assert verdict_for(policy, {"X-Privacy-Class": "trusted_cloud_ok"}) == {"local", "trusted_cloud"}
    assert verdict_for(policy, {"X-Privacy-Class": "public_cloud_ok"}) == {"local", "trusted_cloud", "public_cloud"}


def test_require_local_rule_narrows_a_cloud_class_for_private_code(policy: Policy, catalog: Catalog) -> None:
    v = policy.verdict(policy.classify({"X-Privacy-Class": "public_cloud_ok", "X-Data-Class": "source_code"}))
    assert v.boundaries == {"local"} and v.narrowed_by == ("private-code-local-only",)
    cloud = policy.source(ch(catalog, "cloud-general"))
    assert v.reasons(cloud) == ["boundary trusted_cloud excluded by rule private-code-local-only"]
    assert v.reasons(policy.source(ch(catalog, "local-code"))) == []


def test_allow_rule_caps_a_class_and_never_extends_one(policy: Policy) -> None:
    chat = {"X-Privacy-Class": "public_cloud_ok", "X-Task": "chat"}
    assert verdict_for(policy, chat) == {"local", "trusted_cloud"}
    assert verdict_for(policy, {**chat, "X-Privacy-Class": "local_only"}) == {"local"}


def test_prefer_rule_reorders_without_filtering(policy: Policy, catalog: Catalog) -> None:
    v = policy.verdict(RequestClass("public_cloud_ok", (), "summarize", True))
    channels = [ch(catalog, m) for m in ("cloud-general", "cheap-fast", "local-code")]
    ranked = policy.rank(v, channels)
    assert [c.model for c in ranked] == [
        "opencode/default", "openai/qwen2.5-coder-14b-instruct", "openrouter/anthropic/claude-3.5-sonnet"]
    assert v.boundaries == {"local", "trusted_cloud", "public_cloud"}


def test_only_the_profiles_allowed_reasons_permit_a_fallback(policy: Policy) -> None:
    for reason in ("timeout", "rate_limited", "provider_5xx", "transient_network_failure"):
        assert policy.fallback_permitted(reason)
    for reason in ("safety_policy_denial", "budget_hard_limit", "retryable_status", "client_error", None):
        assert not policy.fallback_permitted(reason)
    assert policy.fallback_policy["forbidden_reasons"][0] == "privacy_violation"


def test_rejections_name_the_class_or_the_rule_that_excluded_the_boundary(policy: Policy) -> None:
    v = policy.verdict(policy.classify({"X-Privacy-Class": "trusted_cloud_ok", "X-Data-Class": "secrets"}))
    assert v.reasons(SourceInfo("s", "public_cloud", None)) == [
        "boundary public_cloud not allowed for privacy_class trusted_cloud_ok"]
    assert v.reasons(SourceInfo("s", "trusted_cloud", None)) == [
        "boundary trusted_cloud excluded by rule private-code-local-only"]
    assert v.reasons(SourceInfo("s", "local", None)) == []

"""One request through the policy gate: narrowing routed models, admitting the first, failover
candidates, fallback reasons and the ledger facts, on the user's own profile and config."""

from __future__ import annotations

from pathlib import Path

import pytest

from plano_daemon.catalog import Catalog, Channel
from plano_daemon.config.load import load_config
from plano_daemon.config.profile import load_profile
from plano_daemon.errors import PolicyDenied
from plano_daemon.failover import Blocks, Health, Next, Plan, Stop, classify
from plano_daemon.policy.budgets import Budgets, BudgetStore
from plano_daemon.policy.eligibility import Policy
from plano_daemon.policy.gate import RequestGate

FIXTURES = Path(__file__).parents[1] / "fixtures"
KEYS = {name: f"test-{name.lower()}" for name in (
    "OPENROUTER_API_KEY", "NOUS_API_KEY", "OPENCODE_API_KEY", "NVIDIA_API_KEY", "KIMI_API_KEY")}
LOCAL = "openai/qwen2.5-coder-14b-instruct"
CLOUD = "openrouter/anthropic/claude-3.5-sonnet"
RETRY = """
    retry_policy:
      fallback_models: [openrouter/anthropic/claude-3.5-sonnet]
      default_strategy: different_provider
      default_max_attempts: 3
      on_status_codes: [{codes: [401], strategy: same_model, max_attempts: 2}]
"""


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    text = (FIXTURES / "dubnium-vllm.yaml").read_text()
    text = text.replace("    default: true\n", "    default: true\n" + RETRY, 1)
    return Catalog(load_config(None, text=text, environ=KEYS).config)


@pytest.fixture(scope="module")
def policy(catalog: Catalog) -> Policy:
    return Policy(load_profile(FIXTURES / "local-first-dev.yaml"), catalog)


def gate(policy: Policy | None, headers: dict[str, str] | None = None, **kw: object) -> RequestGate:
    return RequestGate(policy=policy, budgets=None, store=None, headers=headers or {}, **kw)  # type: ignore[arg-type]


def ch(catalog: Catalog, name: str) -> Channel:
    channel = catalog.resolve(name)
    assert channel is not None
    return channel


def plan(catalog: Catalog, g: RequestGate, primary: str = LOCAL) -> Plan:
    first = ch(catalog, primary)
    return Plan(first, policy=first.retry_policy, channels=catalog.channels, resolve=catalog.resolve,
                blocks=Blocks(), health=Health(), clock=lambda: 0.0, rng=lambda: 0.0,
                eligible=g.allows, permitted=g.permitted)


def test_unlabelled_request_keeps_only_local_routed_models(policy: Policy, catalog: Catalog) -> None:
    g = gate(policy)
    assert g.narrow([CLOUD, "nvidia/nemotron-4-340b-instruct", LOCAL], catalog.resolve) == (LOCAL,)
    assert set(g.rejected) == {"openrouter-cloud-general", "nvidia-planning"}


def test_a_cloud_model_chosen_for_a_local_only_request_is_denied_with_403(policy: Policy,
                                                                          catalog: Catalog) -> None:
    g = gate(policy, {"X-Privacy-Class": "local_only"})
    with pytest.raises(PolicyDenied) as err:
        g.admit(ch(catalog, "cloud-general"))
    assert (err.value.status, err.value.code) == (403, "privacy_violation")
    fields = g.ledger_fields()
    assert g.denied and fields["privacy_class"] == "local_only"
    assert fields["policy_denials"] == [{"code": "privacy_violation", "source": "openrouter-cloud-general",
                                         "reason": "boundary trusted_cloud not allowed for privacy_class local_only"}]
    assert fields["fallback_policy"]["allowed_reasons"][:2] == ["timeout", "rate_limited"]


def test_trusted_cloud_ok_may_use_the_cloud_alias(policy: Policy, catalog: Catalog) -> None:
    g = gate(policy, {"X-Privacy-Class": "trusted_cloud_ok"})
    g.admit(ch(catalog, "cloud-general"))
    assert g.ledger_fields()["eligible"] == ["openrouter-cloud-general"] and not g.denied


def test_failover_never_crosses_out_of_the_local_boundary(policy: Policy, catalog: Catalog) -> None:
    g = gate(policy)
    p = plan(catalog, g)
    assert p.start() == ch(catalog, LOCAL)
    assert p.after(classify(status=503)) == Stop("no_candidate", exhausted=True)
    assert "openrouter-cloud-general" in g.rejected


def test_the_same_failover_is_allowed_for_trusted_cloud_data(policy: Policy, catalog: Catalog) -> None:
    p = plan(catalog, gate(policy, {"X-Privacy-Class": "trusted_cloud_ok"}))
    p.start()
    step = p.after(classify(status=503))
    assert isinstance(step, Next) and step.channel.model == CLOUD and step.reason == "provider_5xx"


def test_a_reason_the_profile_does_not_allow_ends_the_request(policy: Policy, catalog: Catalog) -> None:
    p = plan(catalog, gate(policy, {"X-Privacy-Class": "trusted_cloud_ok"}))
    p.start()
    assert p.after(classify(status=401, retry_codes=p.retry_codes)) == Stop("fallback_forbidden", exhausted=False)
    without_profile = plan(catalog, gate(None))
    without_profile.start()
    step = without_profile.after(classify(status=401, retry_codes=without_profile.retry_codes))
    assert isinstance(step, Next) and step.retry


def test_without_a_profile_nothing_is_filtered(catalog: Catalog) -> None:
    g = gate(None)
    assert g.narrow([CLOUD, LOCAL], catalog.resolve) == (CLOUD, LOCAL)
    g.admit(ch(catalog, "cloud-general"))
    assert g.ledger_fields() == {"eligible": [CLOUD, LOCAL], "rejected": {}, "policy_denials": []}


def test_budget_at_its_cap_denies_with_429_and_removes_failover_candidates(tmp_path: Path,
                                                                           catalog: Catalog) -> None:
    cfg = load_config(None, environ=KEYS, text=(FIXTURES / "dubnium-vllm.yaml").read_text() + """
dubnium:
  budgets:
    - {target: cloud-general, daily_requests: 2}
""").config
    budgets = Budgets(cfg.dubnium.budgets, catalog)
    store = BudgetStore(tmp_path / "budgets.json", today=lambda: "2026-01-01")
    seen: list[tuple[str, str, int]] = []
    g = RequestGate(policy=None, budgets=budgets, store=store, headers={},
                    on_usage=lambda *row: seen.append(row))
    cloud = ch(catalog, CLOUD)
    g.admit(cloud)
    g.count_attempt(cloud)
    g.count_attempt(cloud)  # a retry counts too
    assert seen == [("cloud-general", "requests", 1), ("cloud-general", "requests", 2)]
    assert not g.allows(cloud) and g.allows(ch(catalog, LOCAL))
    with pytest.raises(PolicyDenied) as err:
        RequestGate(policy=None, budgets=budgets, store=store, headers={}).admit(cloud)
    assert (err.value.status, err.value.code) == (429, "budget_hard_limit")


def test_a_matching_prefer_rule_puts_cheaper_routed_models_first(policy: Policy, catalog: Catalog) -> None:
    g = gate(policy, {"X-Privacy-Class": "public_cloud_ok", "X-Task": "summarize"})
    ranked = g.narrow([CLOUD, "opencode/default", LOCAL], catalog.resolve)
    assert ranked == ("opencode/default", LOCAL, CLOUD)
    assert gate(policy, {"X-Privacy-Class": "public_cloud_ok"}).narrow(
        [CLOUD, "opencode/default", LOCAL], catalog.resolve) == (CLOUD, "opencode/default", LOCAL)

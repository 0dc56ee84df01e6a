"""The retry plan: candidate order, strategies, max attempts, backoff, Retry-After, blocks, duration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from plano_daemon.catalog import Catalog, Channel
from plano_daemon.config.schema import Config, HealthSettings, RetryPolicy
from plano_daemon.failover import Blocks, Health, Next, Plan, Seen, Stop, classify, policy_for

SEED = Path(__file__).parent.parent / "fixtures" / "seed-retry-failover.yaml"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def catalog(policy: dict[str, Any] | None = None, *extra: str) -> Catalog:
    """Primary a/m1 (with `policy`), then b/m1, c/m1, a/m2, d/m3 and any `extra` models."""
    models = ["a/m1", "b/m1", "c/m1", "a/m2", "d/m3", *extra]
    providers: list[dict[str, Any]] = [{"model": m, "base_url": "http://127.0.0.1:9/v1"} for m in models]
    if policy is not None:
        providers[0]["retry_policy"] = policy
    return Catalog(Config.model_validate({"listeners": [{"port": 12000}], "model_providers": providers}))


def plan_for(cat: Catalog, *, primary: str = "a/m1", rng: float = 0.0, clock: Clock | None = None,
             blocks: Blocks | None = None, health: Health | None = None,
             eligible: Any = None, default: RetryPolicy | None = None) -> Plan:
    ch = cat.resolve(primary)
    assert ch is not None
    return Plan(ch, policy=policy_for(ch, default), channels=cat.channels, resolve=cat.resolve,
                blocks=Blocks() if blocks is None else blocks, health=Health() if health is None else health,
                clock=clock or Clock(),
                rng=lambda: rng, eligible=eligible)


def fail(plan: Plan, status: int = 503, **headers: str) -> Next | Stop:
    return plan.after(classify(status=status, headers=headers, retry_codes=plan.retry_codes))


def chain(plan: Plan, *statuses: int) -> list[str]:
    """Models tried while every attempt fails with the given statuses (the last one repeats)."""
    ch = plan.start()
    assert ch is not None
    seen = [ch.model]
    for i in range(20):
        step = fail(plan, statuses[min(i, len(statuses) - 1)])
        if isinstance(step, Stop):
            return seen
        seen.append(step.channel.model)
    raise AssertionError("plan never stopped")


def test_without_retry_policy_one_attempt_and_the_upstream_answer_is_returned() -> None:
    plan = plan_for(catalog())
    assert plan.start().model == "a/m1"
    step = fail(plan, 503)
    assert step == Stop("single_attempt", exhausted=False)


def test_without_retry_policy_a_transport_failure_is_an_exhaustion_error() -> None:
    plan = plan_for(catalog())
    plan.start()

    class F:
        kind = "connect"
    step = plan.after(classify(failure=F()))
    assert step == Stop("single_attempt", exhausted=True)
    assert plan.exhaustion_error().status == 502


def test_gateway_default_policy_applies_when_the_provider_has_none() -> None:
    plan = plan_for(catalog(), default=RetryPolicy(default_max_attempts=3))
    assert chain(plan, 503) == ["a/m1", "b/m1", "c/m1"]


def test_fallback_models_first_then_other_providers_in_declaration_order() -> None:
    plan = plan_for(catalog({"fallback_models": ["d/m3"], "default_max_attempts": 5}))
    assert chain(plan, 503) == ["a/m1", "d/m3", "b/m1", "c/m1"]


def test_different_provider_skips_every_prefix_already_tried() -> None:
    plan = plan_for(catalog({"default_max_attempts": 10}))
    assert chain(plan, 500) == ["a/m1", "b/m1", "c/m1", "d/m3"]


def test_same_provider_stays_on_the_prefix() -> None:
    plan = plan_for(catalog({"default_strategy": "same_provider", "default_max_attempts": 5}))
    assert chain(plan, 500) == ["a/m1", "a/m2"]


def test_same_model_retries_the_same_channel() -> None:
    plan = plan_for(catalog({"default_strategy": "same_model", "default_max_attempts": 3}))
    assert chain(plan, 500) == ["a/m1", "a/m1", "a/m1"]


def test_fallback_models_are_filtered_by_strategy_too() -> None:
    plan = plan_for(catalog({"fallback_models": ["a/m2", "b/m1"], "default_max_attempts": 5}))
    assert chain(plan, 503) == ["a/m1", "b/m1", "c/m1", "d/m3"]


def test_max_attempts_per_status_rule() -> None:
    policy = {"default_max_attempts": 4,
              "on_status_codes": [{"codes": ["500-504"], "max_attempts": 2}]}
    assert chain(plan_for(catalog(policy)), 503) == ["a/m1", "b/m1"]
    assert chain(plan_for(catalog(policy)), 429) == ["a/m1", "b/m1", "c/m1", "d/m3"]


def test_status_rule_strategy_overrides_the_default() -> None:
    policy = {"default_max_attempts": 3,
              "on_status_codes": [{"codes": [429], "strategy": "same_model"}]}
    assert chain(plan_for(catalog(policy)), 429) == ["a/m1", "a/m1", "a/m1"]
    assert chain(plan_for(catalog(policy)), 500) == ["a/m1", "b/m1", "c/m1"]


def test_on_timeout_rule_applies_to_transport_timeouts() -> None:
    plan = plan_for(catalog({"on_timeout": {"strategy": "same_model", "max_attempts": 2}}))

    class T:
        kind = "timeout"
    plan.start()
    step = plan.after(classify(failure=T()))
    assert isinstance(step, Next) and step.retry and step.channel.model == "a/m1"
    assert plan.after(classify(failure=T())) == Stop("max_attempts", exhausted=True)
    assert plan.exhaustion_error().status == 504


def test_listed_4xx_is_retried_but_unlisted_4xx_stops() -> None:
    policy = {"on_status_codes": [{"codes": [401, 429, 503], "max_attempts": 3}]}
    assert chain(plan_for(catalog(policy)), 401) == ["a/m1", "b/m1", "c/m1"]
    plan = plan_for(catalog(policy))
    plan.start()
    assert plan.after(classify(status=400, retry_codes={401})) == Stop("client_error", exhausted=False)


def test_policy_refusal_stops_with_no_fallback() -> None:
    plan = plan_for(catalog({"default_max_attempts": 5}))
    plan.start()
    assert plan.after(classify(status=403)) == Stop("policy", exhausted=False)
    assert plan.fallbacks == []


def test_success_stops() -> None:
    plan = plan_for(catalog({"default_max_attempts": 5}))
    plan.start()
    assert plan.after(classify(status=200)) == Stop("ok", exhausted=False)


def test_no_candidate_left_is_exhaustion() -> None:
    plan = plan_for(catalog({"default_strategy": "same_provider", "default_max_attempts": 9}))
    plan.start()
    fail(plan)
    assert fail(plan) == Stop("no_candidate", exhausted=True)


def test_backoff_is_exponential_capped_and_jittered_in_half_to_one() -> None:
    policy = {"default_strategy": "same_model", "default_max_attempts": 6,
              "backoff": {"base_ms": 100, "max_ms": 500}}
    for rng, factor in ((0.0, 0.5), (0.999999, 1.0)):
        plan = plan_for(catalog(policy), rng=rng)
        plan.start()
        delays = [fail(plan).delay for _ in range(5)]
        expected = [0.1, 0.2, 0.4, 0.5, 0.5]
        assert delays == pytest.approx([d * factor for d in expected], rel=1e-5)


def test_backoff_without_jitter_is_exact() -> None:
    plan = plan_for(catalog({"default_strategy": "same_model", "default_max_attempts": 3,
                             "backoff": {"base_ms": 40, "jitter": False}}), rng=0.3)
    plan.start()
    assert [fail(plan).delay for _ in range(2)] == [0.04, 0.08]


def test_backoff_apply_to_same_model_means_no_wait_when_failing_over() -> None:
    plan = plan_for(catalog({"backoff": {"apply_to": "same_model"}}))
    plan.start()
    step = fail(plan)
    assert isinstance(step, Next) and step.channel.model == "b/m1" and step.delay == 0.0


def test_retry_after_is_a_floor_for_the_same_model() -> None:
    plan = plan_for(catalog({"default_strategy": "same_model"}))
    plan.start()
    step = fail(plan, 429, **{"Retry-After": "2"})
    assert isinstance(step, Next) and step.retry and step.delay == 2.0
    assert plan.attempts[0].delay_ms == 0
    plan.after(classify(status=200))
    assert plan.attempts[1].delay_ms == 2000


def test_retry_after_is_capped_by_max_retry_after_seconds() -> None:
    plan = plan_for(catalog({"default_strategy": "same_model",
                             "retry_after_handling": {"max_retry_after_seconds": 3}}))
    plan.start()
    assert fail(plan, 429, **{"Retry-After": "120"}).delay == 3.0


def test_retry_after_does_not_delay_a_failover_to_another_channel() -> None:
    plan = plan_for(catalog({"backoff": {"apply_to": "same_model"}}))
    plan.start()
    step = fail(plan, 429, **{"Retry-After": "30"})
    assert isinstance(step, Next) and step.channel.model == "b/m1" and step.delay == 0.0
    assert plan.fallbacks == [{"from": "a/m1", "to": "b/m1", "reason": "rate_limited"}]


def test_global_retry_after_blocks_the_model_for_later_requests_until_it_expires() -> None:
    cat, blocks, clock = catalog({"default_max_attempts": 3}), Blocks(), Clock()
    first = plan_for(cat, blocks=blocks, clock=clock)
    first.start()
    fail(first, 429, **{"Retry-After": "30"})
    second = plan_for(cat, blocks=blocks, clock=clock)
    assert second.start().model == "b/m1"
    assert second.fallbacks == [{"from": "a/m1", "to": "b/m1", "reason": "rate_limited"}]
    clock.now += 30
    assert plan_for(cat, blocks=blocks, clock=clock).start().model == "a/m1"


def test_provider_scope_blocks_every_model_of_the_prefix() -> None:
    cat, blocks = catalog({"default_strategy": "same_provider", "default_max_attempts": 3,
                           "retry_after_handling": {"scope": "provider"}}), Blocks()
    first = plan_for(cat, blocks=blocks)
    first.start()
    assert fail(first, 429, **{"Retry-After": "10"}) == Stop("no_candidate", exhausted=True)
    assert blocks.active("a/m2", now=1001) is not None


def test_request_scope_retry_after_does_not_outlive_the_request() -> None:
    cat, blocks = catalog({"retry_after_handling": {"apply_to": "request"}}), Blocks()
    first = plan_for(cat, blocks=blocks)
    first.start()
    fail(first, 429, **{"Retry-After": "30"})
    assert len(blocks) == 0
    assert plan_for(cat, blocks=blocks).start().model == "a/m1"


def test_blocked_fallback_is_skipped() -> None:
    cat, blocks = catalog({"default_max_attempts": 3}), Blocks()
    blocks.block("b/m1", until=2000, reason="rate_limited", now=1000)
    assert chain(plan_for(cat, blocks=blocks), 503) == ["a/m1", "c/m1", "d/m3"]


def test_everything_blocked_still_tries_the_primary() -> None:
    cat, blocks = catalog({"default_strategy": "same_model"}), Blocks()
    blocks.block("a", until=2000, reason="rate_limited", now=1000)
    assert plan_for(cat, blocks=blocks).start().model == "a/m1"


def test_max_retry_duration_stops_before_a_wait_that_would_exceed_it() -> None:
    clock = Clock()
    plan = plan_for(catalog({"default_strategy": "same_model", "default_max_attempts": 5,
                             "max_retry_duration_ms": 1500}), clock=clock)
    plan.start()
    clock.now += 1.0
    assert fail(plan, 429, **{"Retry-After": "1"}) == Stop("max_duration", exhausted=True)


def test_eligibility_predicate_narrows_candidates() -> None:
    plan = plan_for(catalog({"default_max_attempts": 4}), eligible=lambda ch: ch.prefix != "b")
    assert chain(plan, 503) == ["a/m1", "c/m1", "d/m3"]


def test_no_eligible_primary_without_policy_means_no_channel() -> None:
    assert plan_for(catalog(), eligible=lambda ch: False).start() is None


def test_ineligible_primary_fails_over_at_start_when_the_policy_allows() -> None:
    plan = plan_for(catalog({}), eligible=lambda ch: ch.prefix != "a")
    assert plan.start().model == "b/m1"


def test_cooling_channel_is_skipped_and_half_open_probe_brings_it_back() -> None:
    cat, clock = catalog({"default_max_attempts": 2}), Clock()
    health = Health(HealthSettings(failure_threshold=2, cooldown_seconds=10))
    for _ in range(2):
        p = plan_for(cat, clock=clock, health=health)
        p.start()
        fail(p, 503)
    skipping = plan_for(cat, clock=clock, health=health)
    assert skipping.start().model == "b/m1"
    assert skipping.fallbacks[0]["reason"] == "provider_5xx"
    clock.now += 10
    probe = plan_for(cat, clock=clock, health=health)
    assert probe.start().model == "a/m1"
    assert plan_for(cat, clock=clock, health=health).start().model == "b/m1"  # only one probe at a time
    probe.after(classify(status=200))
    assert plan_for(cat, clock=clock, health=health).start().model == "a/m1"


def test_attempt_list_and_exhaustion_error_never_carry_keys() -> None:
    cfg = Config.model_validate({"listeners": [{"port": 12000}], "model_providers": [
        {"model": "a/m1", "base_url": "http://127.0.0.1:9/v1", "access_key": "sk-secret-a",
         "retry_policy": {"default_max_attempts": 2}},
        {"model": "b/m1", "base_url": "http://127.0.0.1:9/v1", "access_key": "sk-secret-b"}]})
    cat = Catalog(cfg)
    plan = plan_for(cat, rng=0.5)
    plan.start()
    fail(plan, 503)

    class F:
        kind = "reset"
    assert plan.after(classify(failure=F())) == Stop("max_attempts", exhausted=True)
    err = plan.exhaustion_error()
    assert err.status == 502 and err.code == "upstream_exhausted"
    assert err.extra["attempts"] == [
        {"model": "a/m1", "status": 503, "reason": "provider_5xx", "delay_ms": 0},
        {"model": "b/m1", "error": "reset", "reason": "transient_network_failure", "delay_ms": 75},
    ]
    assert "sk-secret" not in repr(err.extra) + err.message


def test_exhaustion_status_is_the_last_upstream_status() -> None:
    plan = plan_for(catalog({"default_max_attempts": 2}))
    plan.start()
    fail(plan, 503)
    fail(plan, 429)
    assert plan.exhaustion_error().status == 429


def test_seed_001_chain_goes_through_its_fallback_channels_in_order() -> None:
    cfg = Config.model_validate(yaml.safe_load(SEED.read_text()))
    cat = Catalog(cfg)
    for status in (429, 503, 401, 500):
        assert chain(plan_for(cat, primary="custom/claude-opus-4-6"), status) == [
            "custom/claude-opus-4-6", "custom-aws/claude-opus-4-6", "custom-offcial/claude-opus-4-6"]


def test_after_before_start_is_a_programming_error() -> None:
    with pytest.raises(RuntimeError):
        plan_for(catalog({})).after(classify(status=500))


def _channel(cat: Catalog, name: str) -> Channel:
    ch = cat.resolve(name)
    assert ch is not None
    return ch


def test_wildcard_channels_are_not_failover_candidates() -> None:
    cat = catalog({"default_max_attempts": 9}, "e/*")
    assert "e/*" not in chain(plan_for(cat), 503)
    assert _channel(cat, "e/x").model == "e/x"


def test_the_plan_keeps_the_one_record_of_each_attempt_for_the_log_and_the_ledger() -> None:
    """What the caller saw (the upstream's status before a bad body, the time, the host it could not
    reach) and a stream broken after its first byte end up in the plan's records, nowhere else."""
    plan = plan_for(catalog({"default_max_attempts": 3}), rng=0.5)
    plan.start()

    class F:
        kind = "bad_response"
    step = plan.after(classify(failure=F()), Seen(answered=200, ms=3.5))
    assert isinstance(step, Next)
    step = plan.after(classify(status=200), Seen(answered=200, ms=1.0, upstream="127.0.0.1:9"))
    assert step == Stop("ok", exhausted=False)
    plan.broke("truncated")
    assert [a.record() for a in plan.attempts] == [
        {"model": "a/m1", "status": 200, "error": "bad_response", "ms": 3.5, "reason": "transient_network_failure",
         "delay_ms": 0},
        {"model": "b/m1", "status": 200, "error": "truncated", "ms": 1.0, "upstream": "127.0.0.1:9",
         "reason": None, "delay_ms": 75},
    ]
    assert [a.prefix for a in plan.attempts] == ["a", "b"]

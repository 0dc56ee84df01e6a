"""The exchange: the access-log fields and the ledger record of one request come from the one exchange, and
its attempts are the failover plan's records (a stream broken after its first byte included)."""

from __future__ import annotations

import time
from typing import Any

from plano_daemon.catalog import Catalog
from plano_daemon.config.schema import Config
from plano_daemon.exchange import Exchange
from plano_daemon.failover import Blocks, Health, Next, Plan, Seen, Stop, classify, policy_for
from plano_daemon.policy.gate import RequestGate
from plano_daemon.wire.trace import trace_from_headers
from plano_daemon.wire.usage import Usage


def exchange_through_a_failover() -> Exchange:
    providers: list[dict[str, Any]] = [{"model": m, "base_url": "http://127.0.0.1:9/v1"} for m in ("a/m1", "b/m1")]
    providers[0]["retry_policy"] = {"default_max_attempts": 2, "backoff": {"base_ms": 10, "jitter": False}}
    cat = Catalog(Config.model_validate({"listeners": [{"port": 12000}], "model_providers": providers}))
    primary = cat.resolve("a/m1")
    assert primary is not None
    gate = RequestGate(policy=None, budgets=None, store=None, headers={})
    exchange = Exchange(api="chat", trace=trace_from_headers({}), gate=gate, deadline=0.0, requested="a/m1",
                        stream=True, route="code", router="llm", candidates=["a/m1"], ranked=["a/m1"])
    exchange.plan = plan = Plan(primary, policy=policy_for(primary, None), channels=cat.channels,
                                resolve=cat.resolve, blocks=Blocks(), health=Health(), clock=lambda: 0.0,
                                rng=lambda: 0.0, eligible=gate.allows, permitted=gate.permitted)
    exchange.channel = plan.start()
    step = plan.after(classify(status=503), Seen(answered=503, ms=2.0))
    assert isinstance(step, Next)
    exchange.channel = step.channel
    assert plan.after(classify(status=200), Seen(answered=200, ms=1.0)) == Stop("ok", exhausted=False)
    exchange.usage = Usage(11, 7)
    return exchange


def test_a_stream_cut_after_its_first_byte_is_the_last_attempts_error_in_the_log_and_the_ledger() -> None:
    exchange = exchange_through_a_failover()
    exchange.stream_failed("truncated", "the stream ended early")
    record = exchange.decision(200, 0.25, 1_700_000_000.5)  # made later than that: the times are the request's
    line = exchange.access_fields(200, 0.25)
    expected = [
        {"model": "a/m1", "status": 503, "error": None, "ms": 2.0, "reason": "provider_5xx", "delay_ms": 0},
        {"model": "b/m1", "status": 200, "error": "truncated", "ms": 1.0, "reason": None, "delay_ms": 10},
    ]
    assert record["attempts"] == expected and line["attempts"] == expected
    assert record["decision_outcome"] == "error" and record["error"] == "upstream stream failed: the stream ended early"
    assert record["selected_source"] == "b/m1" and record["requested_model"] == "a/m1" and record["task"] == "code"
    assert record["fallbacks"] == [{"from": "a/m1", "to": "b/m1", "reason": "provider_5xx"}]
    assert record["usage"] == {"input_tokens": 11, "output_tokens": 7, "latency_ms": 250.0}
    assert record["timestamp"] == "2023-11-14T22:13:20.250+00:00"  # when it arrived: ended - elapsed
    assert (line["tokens_in"], line["tokens_out"], line["resolved"], line["ms"]) == (11, 7, "b/m1", 250.0)


def test_a_request_refused_by_policy_is_recorded_as_denied_with_no_selected_source() -> None:
    exchange = exchange_through_a_failover()
    exchange.gate.deny_unserved()
    record = exchange.decision(403, 0.01, time.time())
    assert record["decision_outcome"] == "denied" and record["selected_source"] is None
    assert record["policy_denials"] == [{"code": "privacy_violation", "reason": "no eligible candidate", "source": ""}]

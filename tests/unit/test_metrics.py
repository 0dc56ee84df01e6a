"""`/metrics` pinned: the exposition of a `Metrics` with every kind of update is the one prometheus_client
rendered (golden file written from the prometheus_client-backed metrics), and each metric class answers a
random sequence of operations exactly as prometheus_client's own class does."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import prometheus_client
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest

from plano_daemon import metrics as ours
from plano_daemon.metrics import Metrics

GOLDEN = Path(__file__).parent.parent / "golden" / "metrics" / "exposition.txt"
CREATED = "<created>"


def stable(text: str, since: float, until: float) -> str:
    """The exposition with each `_created` value (a creation time) checked to lie in [since, until] and
    replaced by a placeholder, so two renderings made at different times compare equal."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            series, _, value = line.rpartition(" ")
            if series.split("{", 1)[0].endswith("_created"):
                assert since <= float(value) <= until, line
                value = CREATED
            line = f"{series} {value}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def exercise(m: Metrics) -> None:
    """Updates of every metric, through every call the gateway makes."""
    m.in_flight.inc()
    m.in_flight.inc()
    m.in_flight.dec()
    m.requests.labels("chat", "POST", "2xx").inc()
    m.requests.labels("chat", "POST", "2xx").inc()
    m.requests.labels(handler="chat", method="POST", status_class="5xx").inc()
    m.requests.labels("none", "OTHER", 4).inc()
    for v in (0.0, 0.001, 0.0011, 0.3, 1, 2.5, 299.9, 300, 301, 1e9):
        m.request_duration.labels("chat").observe(v)
    m.request_duration.labels("messages").observe(0.02)
    m.upstream_requests.labels("openai", "gpt-4o", "2xx", "none").inc()
    m.upstream_requests.labels("anthropic", "claude", "none", "timeout").inc(2)
    m.upstream_duration.labels("openai").observe(0.123456789)
    m.ttft.labels("openai").observe(0.0049)
    m.tokens.labels("gpt-4o", "input").inc(1234)
    m.tokens.labels("gpt-4o", "output").inc(0)
    m.tokens.labels("gpt-4o", "output").inc(56)
    m.retries.labels("http_429").inc()
    m.failovers.labels("timeout").inc()
    m.exhausted.inc()
    m.router_decisions.labels("code", "gpt-4o", "embedded").inc()
    m.router_duration.labels("embedded").observe(0.0002)
    m.session_cache.labels("hit").inc()
    m.session_cache.labels("miss").inc()
    m.policy_denials.labels("privacy").inc()
    m.budget_usage.labels("openai", "tokens").set(5)
    m.budget_usage.labels("openai", "requests").set(7.5)
    m.budget_usage.labels("gone", "tokens").set(1)
    m.budget_usage.remove("gone", "tokens")
    m.ledger_dropped.inc(3)
    m.config_reloads.labels("applied").inc()
    m.config_reloads.labels("rejected").inc()
    m.config_reloads.clear()
    m.config_reloads.labels("applied").inc()


def test_exposition_is_unchanged() -> None:
    since = time.time()
    m = Metrics()
    exercise(m)
    text = stable(m.render().decode(), since, time.time())
    assert text == GOLDEN.read_text()


def test_sample_values_read_back_through_the_registry() -> None:
    m = Metrics()
    exercise(m)
    get = m.registry.get_sample_value
    assert get("plano_requests_total", {"handler": "chat", "method": "POST", "status_class": "2xx"}) == 2.0
    assert get("plano_request_duration_seconds_bucket", {"handler": "chat", "le": "0.001"}) == 2.0
    assert get("plano_request_duration_seconds_count", {"handler": "chat"}) == 10.0
    assert get("plano_requests_in_flight") == 1.0
    assert get("plano_budget_usage", {"target": "gone", "kind": "tokens"}) is None


def test_labels_returns_the_same_child_for_the_same_values() -> None:
    m = Metrics()
    assert m.requests.labels("chat", "POST", "2xx") is m.requests.labels("chat", "POST", "2xx")
    assert m.requests.labels("chat", "POST", "2xx") is not m.requests.labels("chat", "POST", "5xx")


def test_cached_and_keyword_labels_update_one_series() -> None:
    m = Metrics()
    m.requests.labels("chat", "POST", "2xx").inc()
    m.requests.labels("chat", "POST", "2xx").inc()
    m.requests.labels(handler="chat", method="POST", status_class="2xx").inc()
    text = m.render().decode()
    assert 'plano_requests_total{handler="chat",method="POST",status_class="2xx"} 3.0' in text


def test_remove_forgets_the_cached_child() -> None:
    m = Metrics()
    m.budget_usage.labels("openai", "tokens").set(5)
    m.budget_usage.remove("openai", "tokens")
    m.budget_usage.labels("openai", "tokens").set(1)
    assert 'plano_budget_usage{kind="tokens",target="openai"} 1.0' in m.render().decode()


def test_misuse_is_refused_as_prometheus_client_refuses_it() -> None:
    r = CollectorRegistry(auto_describe=True)
    counter = ours.Counter("c", "doc", ["a"], registry=r)
    plain = ours.Gauge("g", "doc", registry=r)
    with pytest.raises(ValueError):
        counter.inc()
    with pytest.raises(ValueError):
        counter.labels("x", "y")
    with pytest.raises(ValueError):
        counter.labels(b="x")
    with pytest.raises(ValueError):
        counter.labels("x").inc(-1)
    with pytest.raises(ValueError):
        plain.labels("x")
    with pytest.raises(ValueError):
        ours.Counter("c", "again", registry=r)
    with pytest.raises(ValueError):
        ours.Histogram("h", "doc", ["le"], registry=r, buckets=(1,))


LABEL = st.sampled_from(["a", "b", "c"])
AMOUNT = st.one_of(st.integers(0, 10**6), st.floats(0, 1e6), st.sampled_from([0.001, 0.0025, 300.0, math.inf]))
OBSERVED = st.one_of(st.floats(allow_nan=True), st.integers(-5, 500),
                     st.sampled_from([0.001, 0.0025, 1, 300, 300.0000001, -math.inf, math.inf]))
OPS = st.lists(st.one_of(
    st.tuples(st.just("inc"), LABEL, AMOUNT),
    st.tuples(st.just("dec"), LABEL, AMOUNT),
    st.tuples(st.just("set"), LABEL, OBSERVED),
    st.tuples(st.just("observe"), LABEL, OBSERVED),
    st.tuples(st.just("remove"), LABEL, st.none()),
    st.tuples(st.just("clear"), st.none(), st.none()),
), max_size=40)


def replay(kind: str, module: Any, ops: list[tuple[str, str | None, object]]) -> str:
    """Apply `ops` to a labelled and an unlabelled metric of `kind` from `module`; their exposition."""
    r = CollectorRegistry(auto_describe=True)
    extra: dict[str, Any] = {"buckets": (0.001, 0.0025, 1, 300)} if kind == "Histogram" else {}
    cls = getattr(module, kind)
    labelled = cls("x_seconds", "Labelled", ["k", "j"], registry=r, **extra)
    single = cls("y_seconds", "Single", registry=r, **extra)
    for op, label, arg in ops:
        if op == "remove":
            labelled.remove(label, "1")
        elif op == "clear":
            labelled.clear()
        elif hasattr(single, op):
            for metric in (labelled.labels(label, 1), single):
                getattr(metric, op)(*([] if op in ("inc", "dec") and arg == 1 else [arg]))
    return generate_latest(r).decode()


@settings(max_examples=150, deadline=None)
@given(kind=st.sampled_from(["Counter", "Gauge", "Histogram"]), ops=OPS)
def test_each_class_renders_what_prometheus_client_renders(kind: str, ops: list[tuple[str, str | None, object]]) -> None:
    since = time.time()
    expected = replay(kind, prometheus_client, ops)
    got = replay(kind, ours, ops)
    until = time.time()
    assert stable(got, since, until) == stable(expected, since, until)

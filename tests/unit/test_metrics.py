"""The cached `labels()` children: same child per label set, counts render as prometheus_client's would."""

from __future__ import annotations

from plano_daemon.metrics import Metrics


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

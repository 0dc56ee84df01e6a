"""Every plano_* Prometheus collector, declared once, in a registry owned by one gateway instance.

A registry per instance (not the process-global one) lets tests and the demo run several gateways in
one process, and keeps `/metrics` to exactly what this gateway exports.
"""

from __future__ import annotations

from typing import Any

import prometheus_client
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

CONTENT_TYPE = CONTENT_TYPE_LATEST


def status_class(status: int) -> str:
    return f"{status // 100}xx"


class _Children:
    """Memoises `labels(*values)`: prometheus_client validates, stringifies and locks on every call, and a
    request makes half a dozen; the label sets are few (fixed by the config), so a dict hit serves them."""

    _children: dict[tuple[object, ...], Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._children = {}

    def labels(self, *values: object, **named: object) -> Any:
        if named:
            return super().labels(*values, **named)  # type: ignore[misc]
        try:
            return self._children[values]
        except KeyError:
            child = self._children[values] = super().labels(*values)  # type: ignore[misc]
            return child

    def remove(self, *values: object) -> None:
        self._children.clear()
        super().remove(*values)  # type: ignore[misc]

    def clear(self) -> None:
        self._children.clear()
        super().clear()  # type: ignore[misc]


class Counter(_Children, prometheus_client.Counter):
    pass


class Gauge(_Children, prometheus_client.Gauge):
    pass


class Histogram(_Children, prometheus_client.Histogram):
    pass


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("plano_requests", "Requests answered, by handler, method and status class",
                                ["handler", "method", "status_class"], registry=r)
        self.request_duration = Histogram("plano_request_duration_seconds", "Whole-request duration",
                                          ["handler"], buckets=_LATENCY_BUCKETS, registry=r)
        self.in_flight = Gauge("plano_requests_in_flight", "Requests being served", registry=r)
        self.upstream_requests = Counter(
            "plano_upstream_requests", "Upstream attempts by provider, model, status class and error class",
            ["provider", "model", "status_class", "error_class"], registry=r)
        self.upstream_duration = Histogram("plano_upstream_duration_seconds", "Upstream attempt duration",
                                           ["provider"], buckets=_LATENCY_BUCKETS, registry=r)
        self.ttft = Histogram("plano_upstream_time_to_first_token_seconds",
                              "Time from sending a streaming request to its first upstream chunk",
                              ["provider"], buckets=_LATENCY_BUCKETS, registry=r)
        self.tokens = Counter("plano_tokens", "Tokens reported in upstream usage", ["model", "kind"], registry=r)
        self.retries = Counter("plano_retries", "Retries of the same model, by reason", ["reason"], registry=r)
        self.failovers = Counter("plano_failovers", "Failovers to another channel, by reason", ["reason"],
                                 registry=r)
        self.exhausted = Counter("plano_failover_exhausted", "Requests that ran out of candidates", registry=r)
        self.router_decisions = Counter("plano_router_decisions", "Routing decisions",
                                        ["route", "model", "backend"], registry=r)
        self.router_duration = Histogram("plano_router_duration_seconds", "Time to a routing decision",
                                         ["backend"], buckets=_LATENCY_BUCKETS, registry=r)
        self.session_cache = Counter("plano_session_cache", "Session pin lookups", ["result"], registry=r)
        self.policy_denials = Counter("plano_policy_denials", "Requests denied by policy", ["code"], registry=r)
        self.budget_usage = Gauge("plano_budget_usage", "Today's usage of a budget", ["target", "kind"],
                                  registry=r)
        self.ledger_dropped = Counter("plano_ledger_dropped_records",
                                      "Route-decision records dropped because the ledger could not be written",
                                      registry=r)
        self.config_reloads = Counter("plano_config_reloads", "Config reloads by result", ["result"],
                                      registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)

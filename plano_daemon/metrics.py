"""Every plano_* Prometheus collector, declared once, in a registry owned by one gateway instance.

A registry per instance (not the process-global one) lets tests and the demo run several gateways in
one process, and keeps `/metrics` to exactly what this gateway exports.

The metric classes are our own, not prometheus_client's: a request makes about ten metric updates, and
prometheus_client takes a `threading.Lock` for each (one per bucket and one for the sum of a histogram,
whose bucket is found by a Python loop). Here a series is plain floats updated without a lock, which is
safe because every update and every scrape runs on the gateway's one event-loop thread (nothing calls a
metric from `asyncio.to_thread` workers: the ledger counts its drops after its write thread returned).
Each metric is a collector registered in the instance's `CollectorRegistry` and yields the same
`Metric` families prometheus_client's classes do, so `generate_latest` and `get_sample_value` read it
unchanged and `/metrics` is byte for byte what it was (tests/unit/test_metrics.py pins it).
"""

from __future__ import annotations

import math
import time
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from typing import ClassVar, Generic, TypeVar

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client import metrics as _prometheus_metrics
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import Metric
from prometheus_client.utils import floatToGoString

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)

CONTENT_TYPE = CONTENT_TYPE_LATEST


def status_class(status: int) -> str:
    return f"{status // 100}xx"


def _with_created() -> bool:
    """prometheus_client's switch for `_created` series (PROMETHEUS_DISABLE_CREATED_SERIES), honoured alike."""
    return bool(_prometheus_metrics._use_created)


class CounterSeries:
    """One counter time series."""

    __slots__ = ("created", "value")

    def __init__(self) -> None:
        self.value = 0.0
        self.created = time.time()

    def inc(self, amount: float = 1) -> None:
        if amount < 0:
            raise ValueError("Counters can only be incremented by non-negative amounts.")
        self.value += amount


class GaugeSeries:
    """One gauge time series."""

    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1) -> None:
        self.value += amount

    def dec(self, amount: float = 1) -> None:
        self.value -= amount

    def set(self, value: float) -> None:
        self.value = float(value)


class HistogramSeries:
    """One histogram time series: a count per bucket (not cumulative) and the sum of observations."""

    __slots__ = ("bounds", "counts", "created", "sum")

    def __init__(self, bounds: list[float]) -> None:
        self.bounds = bounds
        self.counts = [0] * len(bounds)
        self.sum = 0.0
        self.created = time.time()

    def observe(self, amount: float) -> None:
        self.sum += amount
        i = bisect_left(self.bounds, amount)
        if amount <= self.bounds[i]:  # false only for NaN, which no bucket counts
            self.counts[i] += 1


S = TypeVar("S", CounterSeries, GaugeSeries, HistogramSeries)


class _Metric(Generic[S]):
    """A metric family: one series when declared without labels, else one per label values, created by
    `labels()` and kept in a dict keyed by the values as strings (a hit is one dict lookup)."""

    _type: ClassVar[str]
    _reserved: ClassVar[tuple[str, ...]] = ()

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str] = (), *,
                 registry: CollectorRegistry) -> None:
        for label in labelnames:
            if not label.isidentifier() or label.startswith("__") or label in self._reserved:
                raise ValueError(f"Invalid label name: {label}")
        self._name = name
        self._documentation = documentation
        self._labelnames = tuple(labelnames)
        self._series: dict[tuple[str, ...], S] = {}
        self._one: S | None = self._new() if not labelnames else None
        registry.register(self)

    def _new(self) -> S:
        raise NotImplementedError

    def _single(self) -> S:
        if self._one is None:
            raise ValueError(f"{self._type} metric is missing label values")
        return self._one

    def labels(self, *values: object, **named: object) -> S:
        try:
            return self._series[values]  # type: ignore[index]  # a hit when all values are strings
        except (KeyError, TypeError):
            pass
        if not self._labelnames:
            raise ValueError(f"No label names were set when constructing {self._type}:{self._name}")
        if values and named:
            raise ValueError("Can't pass both *args and **kwargs")
        if named:
            if sorted(named) != sorted(self._labelnames):
                raise ValueError("Incorrect label names")
            values = tuple(named[label] for label in self._labelnames)
        elif len(values) != len(self._labelnames):
            raise ValueError("Incorrect label count")
        key = tuple(str(v) for v in values)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = self._new()
        return series

    def remove(self, *values: object) -> None:
        if len(values) != len(self._labelnames):
            raise ValueError(f"Incorrect label count (expected {len(self._labelnames)}, got {values})")
        self._series.pop(tuple(str(v) for v in values), None)

    def clear(self) -> None:
        self._series.clear()

    def describe(self) -> Iterable[Metric]:
        return [Metric(self._name, self._documentation, self._type)]

    def collect(self) -> Iterable[Metric]:
        family = Metric(self._name, self._documentation, self._type)
        created = _with_created()
        if self._one is not None:
            self._samples(family, {}, self._one, created)
        for values, series in list(self._series.items()):
            self._samples(family, dict(zip(self._labelnames, values, strict=True)), series, created)
        return [family]

    def _samples(self, family: Metric, labels: dict[str, str], series: S, created: bool) -> None:
        raise NotImplementedError


class Counter(_Metric[CounterSeries]):
    _type = "counter"

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str] = (), *,
                 registry: CollectorRegistry) -> None:
        super().__init__(name.removesuffix("_total"), documentation, labelnames, registry=registry)

    def _new(self) -> CounterSeries:
        return CounterSeries()

    def inc(self, amount: float = 1) -> None:
        self._single().inc(amount)

    def _samples(self, family: Metric, labels: dict[str, str], series: CounterSeries, created: bool) -> None:
        family.add_sample(self._name + "_total", labels, series.value)
        if created:
            family.add_sample(self._name + "_created", labels, series.created)


class Gauge(_Metric[GaugeSeries]):
    _type = "gauge"

    def _new(self) -> GaugeSeries:
        return GaugeSeries()

    def inc(self, amount: float = 1) -> None:
        self._single().inc(amount)

    def dec(self, amount: float = 1) -> None:
        self._single().dec(amount)

    def set(self, value: float) -> None:
        self._single().set(value)

    def _samples(self, family: Metric, labels: dict[str, str], series: GaugeSeries, created: bool) -> None:
        family.add_sample(self._name, labels, series.value)


class Histogram(_Metric[HistogramSeries]):
    _type = "histogram"
    _reserved = ("le",)

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str] = (), *,
                 registry: CollectorRegistry, buckets: Sequence[float]) -> None:
        bounds = [float(b) for b in buckets]
        if bounds != sorted(bounds):
            raise ValueError("Buckets not in sorted order")
        if bounds and bounds[-1] != math.inf:
            bounds.append(math.inf)
        if len(bounds) < 2:
            raise ValueError("Must have at least two buckets")
        self._bounds = bounds
        #: `le` values as prometheus_client writes them (floatToGoString is unannotated upstream)
        self._le: list[str] = [floatToGoString(b) for b in bounds]  # type: ignore[no-untyped-call]
        super().__init__(name, documentation, labelnames, registry=registry)

    def _new(self) -> HistogramSeries:
        return HistogramSeries(self._bounds)

    def observe(self, amount: float) -> None:
        self._single().observe(amount)

    def _samples(self, family: Metric, labels: dict[str, str], series: HistogramSeries, created: bool) -> None:
        total = 0.0
        for le, count in zip(self._le, series.counts, strict=True):
            total += count
            family.add_sample(self._name + "_bucket", {**labels, "le": le}, total)
        family.add_sample(self._name + "_count", labels, total)
        if self._bounds[0] >= 0:
            family.add_sample(self._name + "_sum", labels, series.sum)
        if created:
            family.add_sample(self._name + "_created", labels, series.created)


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

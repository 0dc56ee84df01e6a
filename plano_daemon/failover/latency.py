"""Observed upstream latency per channel, for `selection_policy: {prefer: fastest}`.

An exponentially weighted moving average of successful attempts' time to the response headers (the
earliest a client could see a byte), keyed by the channel's `prefix/id` as passive health is. Recent
observations weigh most, so a provider that slows down drops back within a few requests. Values in,
values out: no clock, no I/O.
"""

from __future__ import annotations

#: Weight of the newest observation.
ALPHA = 0.3


class Latency:
    """Per-channel EWMA of seconds; shared by all requests, kept across reloads."""

    __slots__ = ("_alpha", "_ewma")

    def __init__(self, alpha: float = ALPHA) -> None:
        self._alpha = alpha
        self._ewma: dict[str, float] = {}

    def observe(self, model: str, seconds: float) -> None:
        seen = self._ewma.get(model)
        self._ewma[model] = seconds if seen is None else seen + self._alpha * (seconds - seen)

    def estimate(self, model: str) -> float | None:
        """The smoothed latency of `model`, or None before its first successful attempt."""
        return self._ewma.get(model)

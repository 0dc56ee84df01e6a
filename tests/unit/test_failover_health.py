"""Passive health: consecutive operational failures open the circuit; a single half-open probe closes it."""

from __future__ import annotations

from plano_daemon.config.schema import HealthSettings
from plano_daemon.failover.health import Health


def health(threshold: int = 3, cooldown: float = 30.0) -> Health:
    return Health(HealthSettings(failure_threshold=threshold, cooldown_seconds=cooldown))


def test_below_the_threshold_the_channel_stays_usable() -> None:
    h = health()
    h.failure("a/m", "timeout", now=0)
    h.failure("a/m", "timeout", now=1)
    assert h.cooling("a/m", now=2) is None
    assert h.state("a/m", now=2) == "closed"


def test_threshold_failures_in_a_row_open_the_circuit_for_the_cooldown() -> None:
    h = health()
    for t in range(3):
        h.failure("a/m", "timeout", now=t)
    assert h.cooling("a/m", now=3) == "timeout"
    assert h.state("a/m", now=31) == "open"
    assert not h.claim("a/m", now=31)
    assert h.state("a/m", now=32) == "half-open"


def test_a_success_resets_the_count() -> None:
    h = health()
    h.failure("a/m", "timeout", now=0)
    h.failure("a/m", "timeout", now=0)
    h.success("a/m")
    h.failure("a/m", "timeout", now=0)
    assert h.cooling("a/m", now=0) is None


def test_half_open_lets_exactly_one_probe_through() -> None:
    h = health(threshold=1, cooldown=10)
    h.failure("a/m", "provider_5xx", now=0)
    assert h.claim("a/m", now=10)
    assert not h.claim("a/m", now=11)
    h.success("a/m")
    assert h.claim("a/m", now=11) and h.claim("a/m", now=11)


def test_a_failed_probe_reopens_for_another_cooldown() -> None:
    h = health(threshold=2, cooldown=10)
    h.failure("a/m", "timeout", now=0)
    h.failure("a/m", "timeout", now=0)
    assert h.claim("a/m", now=10)
    h.failure("a/m", "timeout", now=12)
    assert h.state("a/m", now=21) == "open"
    assert h.claim("a/m", now=22)


def test_a_probe_that_never_reports_frees_the_slot_after_a_cooldown() -> None:
    h = health(threshold=1, cooldown=10)
    h.failure("a/m", "timeout", now=0)
    assert h.claim("a/m", now=10)
    assert not h.claim("a/m", now=19)
    assert h.claim("a/m", now=20)


def test_channels_are_independent() -> None:
    h = health(threshold=1)
    h.failure("a/m", "timeout", now=0)
    assert h.cooling("b/m", now=0) is None


def test_reconfigure_keeps_counts() -> None:
    h = health(threshold=3)
    h.failure("a/m", "timeout", now=0)
    h.failure("a/m", "timeout", now=0)
    h.configure(HealthSettings(failure_threshold=3, cooldown_seconds=5))
    h.failure("a/m", "timeout", now=0)
    assert h.state("a/m", now=4) == "open" and h.state("a/m", now=5) == "half-open"

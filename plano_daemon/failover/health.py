"""Passive channel health: after N operational failures in a row a channel cools down, then is probed.

A dead channel should not cost every request a connect timeout. States per channel (circuit breaker):

    closed     requests flow; consecutive operational failures are counted
    open       `failure_threshold` failures in a row: skipped until `cooldown_seconds` have passed
    half-open  the cool-down is over: exactly one request (the probe) may use it; success closes the
               circuit, failure reopens it for another cool-down. A probe that never reports (a cancelled
               request) frees the slot after one more cool-down.

Only operational failures count; a client error or policy refusal proves the channel is alive.
Settings: `dubnium.health` (failure_threshold, cooldown_seconds). Time is passed in.
With a shared state store, `on_change` announces each opened circuit (and each recovery) to the other
instances, which `cool` (or `heal`) their own copy; each instance then sends its own half-open probe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from plano_daemon.config.schema import HealthSettings


@dataclass(slots=True)
class _State:
    failures: int = 0
    open_until: float | None = None  # set while open or half-open
    probe_until: float | None = None  # a probe is out until this time
    reason: str = ""


class Health:
    """Per-channel circuit state keyed by the channel's `prefix/id`; shared by all requests."""

    __slots__ = ("_settings", "_states", "on_change")

    def __init__(self, settings: HealthSettings | None = None) -> None:
        if settings is None:  # defaults for tests; the gateway always passes `dubnium.health`
            from plano_daemon.config.schema import HealthSettings
            settings = HealthSettings()
        self._settings = settings
        self._states: dict[str, _State] = {}
        #: Called with (model, cool-down seconds, reason) when a circuit opens, (model, 0, "") when it closes.
        self.on_change: Callable[[str, float, str], None] | None = None

    def configure(self, settings: HealthSettings) -> None:
        """A reload may change the thresholds; the counts so far are kept."""
        self._settings = settings

    def cooling(self, model: str, *, now: float) -> str | None:
        """The reason `model` must be skipped now, or None when it may be used (without claiming it)."""
        st = self._states.get(model)
        if st is None or st.open_until is None:
            return None
        if now < st.open_until:
            return st.reason
        if st.probe_until is not None and now < st.probe_until:
            return st.reason
        return None

    def claim(self, model: str, *, now: float) -> bool:
        """Take the channel for one request; in half-open state only the first caller gets the probe."""
        if self.cooling(model, now=now) is not None:
            return False
        st = self._states.get(model)
        if st is not None and st.open_until is not None:
            st.probe_until = now + self._settings.cooldown_seconds
        return True

    def success(self, model: str) -> None:
        """The channel answered (any answer that is not an operational failure): close the circuit."""
        st = self._states.pop(model, None)
        if st is not None and st.open_until is not None and self.on_change is not None:
            self.on_change(model, 0.0, "")

    def failure(self, model: str, reason: str, *, now: float) -> None:
        """An operational failure: count it, open (or reopen) the circuit at the threshold."""
        st = self._states.setdefault(model, _State())
        st.failures += 1
        st.reason = reason
        if st.open_until is not None or st.failures >= self._settings.failure_threshold:
            st.open_until = now + self._settings.cooldown_seconds
            st.probe_until = None
            if self.on_change is not None:
                self.on_change(model, self._settings.cooldown_seconds, reason)

    def cool(self, model: str, *, until: float, reason: str) -> None:
        """Another instance opened this circuit: open it here too, until the later of both times."""
        st = self._states.setdefault(model, _State())
        st.failures = max(st.failures, self._settings.failure_threshold)
        st.reason = reason
        if st.open_until is None or until > st.open_until:
            st.open_until = until
            st.probe_until = None

    def heal(self, model: str) -> None:
        """Another instance's probe succeeded: close the circuit here too (without re-announcing)."""
        self._states.pop(model, None)

    def open_entries(self, now: float) -> list[tuple[str, float, str]]:
        """(model, open until, reason) of every circuit still cooling down."""
        return [(m, st.open_until, st.reason) for m, st in self._states.items()
                if st.open_until is not None and st.open_until > now]

    def state(self, model: str, *, now: float) -> str:
        """closed | open | half-open, for /readyz and tests."""
        st = self._states.get(model)
        if st is None or st.open_until is None:
            return "closed"
        return "open" if now < st.open_until else "half-open"

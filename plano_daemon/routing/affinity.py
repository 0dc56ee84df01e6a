"""Session pinning (SPEC §4.5): a session's first routing decision is reused for `ttl` seconds.

Agent loops send dozens of requests per task; re-routing each one could bounce a session between
models mid-task. The TTL counts from insertion (a busy session still re-routes eventually), the
entry count is capped (least recently used goes first), and the clock is injected for tests.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from plano_daemon.wire.headers import KEY_SOURCE_HEADERS

#: Where a pinning key may come from, first found wins (the local-first-dev profile's order).
DEFAULT_KEY_HEADERS = ("X-Anthesis-Execution-Id", "X-Session-Id", "X-Model-Affinity")
MAX_KEY_LENGTH = 256


@dataclass(frozen=True, slots=True)
class Pin:
    model: str
    route: str | None
    models: tuple[str, ...]  # the ranked list the first decision returned
    created: float


def key_headers(sources: Sequence[str] | None, *, enabled: bool = True) -> tuple[str, ...]:
    """The headers to read a pinning key from, in order: the profile's `affinity.key_sources` when it names
    any (an agent loop's execution id should outrank a looser session id), else the default order;
    none when the profile disables affinity (nothing is pinned)."""
    if not enabled:
        return ()
    if not sources:
        return DEFAULT_KEY_HEADERS
    return tuple(KEY_SOURCE_HEADERS[name] for name in sources)


def affinity_key(headers: Mapping[str, str], sources: Sequence[str] = DEFAULT_KEY_HEADERS) -> str | None:
    """The session key of a request, or None (no pinning)."""
    for name in sources:
        value = headers.get(name)
        if value and value.strip():
            return value.strip()[:MAX_KEY_LENGTH]
    return None


class SessionPins:
    """TTL-from-insertion + LRU map of key → Pin. Not thread-safe: one event loop owns it."""

    __slots__ = ("_entries", "_ttl", "_max", "_clock")

    def __init__(self, *, ttl: float, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: OrderedDict[str, Pin] = OrderedDict()
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock

    def configure(self, *, ttl: float, max_entries: int) -> None:
        """A reload may change the limits; existing pins stay, trimmed to the new cap."""
        self._ttl, self._max = ttl, max_entries
        self._trim()

    def get(self, key: str) -> Pin | None:
        pin = self._entries.get(key)
        if pin is None:
            return None
        if self._clock() - pin.created >= self._ttl:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return pin

    def put(self, key: str, *, model: str, route: str | None, models: Sequence[str] = ()) -> Pin:
        pin = Pin(model=model, route=route, models=tuple(models), created=self._clock())
        self._entries[key] = pin
        self._entries.move_to_end(key)
        self._trim()
        return pin

    def __len__(self) -> int:
        return len(self._entries)

    def _trim(self) -> None:
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

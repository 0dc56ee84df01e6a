"""Session pinning (SPEC §4.5): a session's first routing decision is reused for `ttl` seconds.

Agent loops send dozens of requests per task; re-routing each one could bounce a session between
models mid-task. The TTL counts from insertion (a busy session still re-routes eventually), the
entry count is capped (least recently used goes first), and the clock is injected for tests.
With `routing.session_cache.type: redis` the pins are also kept in Redis (`shared`), so a session pinned
through one instance stays pinned through the others; a pin's key is scoped by Plano's `tenant_header`.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

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


def is_user_turn(body: Mapping[str, Any]) -> bool:
    """Whether the request ends with the user speaking (Plano's `route_on_user_only`): a tool result, an
    assistant continuation or an empty tail is not a user turn, in any of the three API shapes."""
    items = body.get("messages") if "messages" in body else body.get("input")
    if isinstance(items, str):
        return bool(items.strip())
    if not isinstance(items, list) or not items or not isinstance(items[-1], dict):
        return False
    last = items[-1]
    if last.get("type") not in (None, "message") or last.get("role") != "user":
        return False
    content = last.get("content")
    if isinstance(content, str):
        return bool(content.strip())
    if not isinstance(content, list):
        return False
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("text", "input_text") and str(part.get("text", "")).strip():
            return True
        if kind in ("image", "image_url", "input_image", "document", "input_file"):
            return True
    return False


def implicit_key(body: Mapping[str, Any]) -> str | None:
    """A session key for a client that sends none: the hash of the conversation's start (system prompt and
    first user message), which stays the same while an agent loop appends tool calls and results."""
    items = body.get("messages") if "messages" in body else body.get("input")
    if not isinstance(items, list):
        return None
    first = next((m for m in items if isinstance(m, dict) and m.get("role") == "user"), None)
    if first is None:
        return None
    head = [body.get("system"), body.get("instructions"),
            [m for m in items[:items.index(first)] if isinstance(m, dict) and m.get("role") in ("system", "developer")],
            first.get("content")]
    return "implicit:" + hashlib.sha256(json.dumps(head, sort_keys=True, default=str).encode()).hexdigest()[:32]


class PinStore(Protocol):
    """Where pins are shared between instances (shared.store.SharedState)."""

    async def get_pin(self, key: str) -> str | None: ...

    def put_pin(self, key: str, value: str, ttl: float) -> None: ...


class SessionPins:
    """TTL-from-insertion + LRU map of key → Pin. Not thread-safe: one event loop owns it."""

    __slots__ = ("_entries", "_ttl", "_max", "_clock", "shared", "tenant_header", "_previous")

    def __init__(self, *, ttl: float, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: OrderedDict[str, Pin] = OrderedDict()
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self.shared: PinStore | None = None
        self.tenant_header: str | None = None
        self._previous: OrderedDict[str, str] = OrderedDict()  # key -> model of its last expired pin

    def last_model(self, key: str) -> str | None:
        """The model a session was last pinned to, its pin live or expired (for Plano's `switched`)."""
        pin = self._entries.get(key)
        return pin.model if pin is not None else self._previous.get(key)

    def scoped(self, key: str, headers: Mapping[str, str]) -> str:
        """The storage key: Plano's `{tenant}:{session}` when `tenant_header` is set and sent."""
        tenant = headers.get(self.tenant_header) if self.tenant_header else None
        return f"{tenant.strip()[:MAX_KEY_LENGTH]}:{key}" if tenant and tenant.strip() else key

    async def lookup(self, key: str) -> Pin | None:
        """The pin under `key` (already `scoped`): another instance's (in Redis) first, else this one's."""
        if self.shared is not None:
            raw = await self.shared.get_pin(key)
            if raw is not None:
                found = _pin_from_json(raw, self._clock())
                if found is not None:
                    local = self._entries.get(key)
                    if local is None or (local.model, local.route) != (found.model, found.route):
                        self._entries[key] = found
                        self._trim()
                    return self.get(key) or found
        return self.get(key)

    def shared_entries(self) -> list[tuple[str, str, float]]:
        """(key, JSON, seconds left) of every live pin: written to Redis after it comes back."""
        now = self._clock()
        return [(k, _pin_json(p), self._ttl - (now - p.created)) for k, p in self._entries.items()
                if now - p.created < self._ttl]

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
            self._previous[key] = pin.model
            self._previous.move_to_end(key)
            while len(self._previous) > self._max:
                self._previous.popitem(last=False)
            return None
        self._entries.move_to_end(key)
        return pin

    def put(self, key: str, *, model: str, route: str | None, models: Sequence[str] = ()) -> Pin:
        pin = Pin(model=model, route=route, models=tuple(models), created=self._clock())
        self._previous.pop(key, None)
        self._entries[key] = pin
        self._entries.move_to_end(key)
        self._trim()
        if self.shared is not None:
            self.shared.put_pin(key, _pin_json(pin), self._ttl)
        return pin

    def __len__(self) -> int:
        return len(self._entries)

    def _trim(self) -> None:
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)


def _pin_json(pin: Pin) -> str:
    return json.dumps({"model": pin.model, "route": pin.route, "models": list(pin.models)})


def _pin_from_json(raw: str, now: float) -> Pin | None:
    """A pin another instance stored; Redis expires it, so here it counts as fresh. Unreadable: None."""
    try:
        doc = json.loads(raw)
        models = tuple(str(m) for m in doc.get("models") or ())
        route = doc.get("route")
        return Pin(model=str(doc["model"]), route=str(route) if route is not None else None, models=models,
                   created=now)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None

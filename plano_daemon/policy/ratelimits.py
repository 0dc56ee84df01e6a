"""Plano's `ratelimits`: at most N tokens per second/minute/hour/day for one model and one request subject.

A rule names a model (`prefix/id`, a provider's `name`, or an alias of it), a selector (a request header;
with a `value`, only requests carrying that value; with `*` or none, each value is its own subject) and a
limit. As in Plano, a rule for one value wins over the wildcard rule of the same header.

Counting is token-aware and windowed (fixed windows aligned to the epoch): a request reserves its estimated
prompt size (about four bytes of JSON per token) when it is admitted; the answer's usage settles the rest.
A subject whose window is used up gets 429 with `Retry-After` (seconds to the window's end), in the client's
dialect, before any upstream call. The counts live in the shared state (shared/store.py): with Redis, all
instances count into the same window; while Redis is down each instance judges on its own view (fail-open,
unlike budgets: a rate limit smooths load, a budget caps spend).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from plano_daemon.catalog import Catalog, Channel
from plano_daemon.errors import GatewayError
from plano_daemon.policy.budgets import SharedCounters

if TYPE_CHECKING:
    from plano_daemon.config.schema import Ratelimit

UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
WILDCARD = "*"


class RateLimited(GatewayError):
    """429 with Retry-After; OpenAI calls a token limit's type `tokens`, Anthropic `rate_limit_error`."""

    status = 429
    code = "rate_limit_exceeded"
    error_type = "tokens"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.headers = MappingProxyType({"Retry-After": str(retry_after)})


@dataclass(frozen=True, slots=True)
class Rule:
    index: int
    model: str
    header: str
    value: str | None  # None: each header value is its own subject
    tokens: int
    seconds: int


@dataclass(frozen=True, slots=True)
class Hit:
    """One rule applying to one request: the counter it counts into and when that window ends."""

    rule: Rule
    key: str
    window_end: float


@dataclass(slots=True)
class Admission:
    """What one admitted request reserved, settled when its usage is known."""

    limits: RateLimits
    counters: SharedCounters
    channel: Channel
    headers: Mapping[str, str]
    hits: list[Hit]
    reserved: int
    now: float

    def settle(self, channel: Channel, tokens: int) -> None:
        """Count the answer's tokens: beyond the reservation on the admitted channel; all of them on a
        fallback channel (its own rules, unchecked: the request was already admitted)."""
        if channel.index == self.channel.index:
            for hit in self.hits:
                self.counters.add(hit.key, tokens - self.reserved, hit.rule.seconds + 60)
        else:
            for hit in self.limits.applying(channel, self.headers, self.now):
                self.counters.add(hit.key, tokens, hit.rule.seconds + 60)


class RateLimits:
    """The `ratelimits` of one config, matched to channels once per channel."""

    __slots__ = ("_rules", "_catalog", "_memo")

    def __init__(self, rules: Sequence[Ratelimit], catalog: Catalog) -> None:
        self._rules = tuple(
            Rule(i, r.model, r.selector.key.lower(), None if r.selector.value in (None, WILDCARD) else r.selector.value,
                 r.limit.tokens, UNIT_SECONDS[r.limit.unit])
            for i, r in enumerate(rules))
        self._catalog = catalog
        self._memo: dict[int, tuple[Rule, ...]] = {}

    def __bool__(self) -> bool:
        return bool(self._rules)

    def applying(self, channel: Channel, headers: Mapping[str, str], now: float) -> list[Hit]:
        rules = self._memo.get(channel.index)
        if rules is None:
            rules = self._memo[channel.index] = tuple(r for r in self._rules if self._covers(r.model, channel))
        hits: list[Hit] = []
        for header in dict.fromkeys(r.header for r in rules):
            value = headers.get(header)
            if not value:
                continue
            same = [r for r in rules if r.header == header]
            rule = next((r for r in same if r.value == value), None) or next((r for r in same if r.value is None),
                                                                             None)
            if rule is None:
                continue
            window = math.floor(now / rule.seconds)
            subject = hashlib.sha256(value.encode()).hexdigest()[:16]
            hits.append(Hit(rule, f"rl:{rule.index}:{subject}:{window}", (window + 1) * rule.seconds))
        return hits

    async def admit(self, channel: Channel, headers: Mapping[str, str], counters: SharedCounters, *,
                    estimate: int, now: float) -> Admission | None:
        """Reserve `estimate` tokens in every applying window, or raise RateLimited if one cannot take them."""
        hits = self.applying(channel, headers, now)
        if not hits:
            return None
        used, _ = await counters.read([h.key for h in hits])
        for hit, count in zip(hits, used, strict=True):
            if count + estimate > hit.rule.tokens:
                retry = max(1, math.ceil(hit.window_end - now))
                raise RateLimited(f"rate limit for {hit.rule.model} by {hit.rule.header} reached ({count} of "
                                  f"{hit.rule.tokens} tokens per {hit.rule.seconds} s used); retry in {retry} s",
                                  retry_after=retry)
        for hit in hits:
            counters.add(hit.key, estimate, hit.rule.seconds + 60)
        return Admission(self, counters, channel, headers, hits, estimate, now)

    def _covers(self, target: str, channel: Channel) -> bool:
        if target in (channel.model, channel.name):
            return True
        if self._catalog.is_alias(target):
            aliased = self._catalog.resolve(target)
            return aliased is not None and aliased.index == channel.index
        return False

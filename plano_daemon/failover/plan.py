"""The retry decision for one request (SPEC §3): which channel next, after how long, or stop.

The proxy's attempt loop asks `Plan.start()` for the first channel, sends, classifies the result
(`outcome.classify`) and asks `Plan.after(outcome)` what to do: `Next(channel, delay)` or `Stop`. The plan
is pure: the clock (monotonic seconds) and the random source (uniform [0, 1)) are passed in; the shared
`Blocks` and `Health` are plain objects the caller keeps across requests.

Rules, from the primary channel's `retry_policy` (or `dubnium.default_retry_policy`; without either, one
attempt, as Plano does):
- the rule for a failure is the `on_status_codes` entry listing its status, `on_timeout` for a transport
  timeout, else the defaults; it gives the strategy and the maximum attempts (counting the first);
- candidates: `fallback_models` in order, then the other providers in declaration order, filtered by the
  strategy relative to the failed channel (same_model: that channel again; same_provider: its prefix;
  different_provider: a prefix not tried yet), skipping tried, ineligible, blocked and cooling channels;
- delay before attempt n+1: min(base·2^(n-1), max) ms, × uniform [0.5, 1) with jitter, when `backoff.apply_to`
  covers the next channel; a Retry-After from the failed channel is a floor (capped) when the next channel
  is the one it names, and with `apply_to: global` it blocks that model/prefix for later requests too;
- stop on success, a client error, a policy refusal, max attempts, `max_retry_duration_ms`, or no candidate;
  also on a failure whose reason the policy profile does not allow as a fallback reason (`permitted`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, TypedDict

from plano_daemon.catalog import Channel
from plano_daemon.errors import UpstreamFailure
from plano_daemon.failover.blocks import Blocks
from plano_daemon.failover.health import Health

if TYPE_CHECKING:
    from plano_daemon.config.schema import RetryPolicy, Strategy

from plano_daemon.failover.outcome import Outcome

#: However the policy is written, a request never makes more upstream attempts than this.
MAX_ATTEMPTS_CAP = 16


class AttemptRecord(TypedDict, total=False):
    """One attempt as the access log line and the ledger show it."""

    model: str
    status: int | None
    error: str | None
    ms: float | None
    upstream: str
    reason: str | None
    delay_ms: int


@dataclass(slots=True)
class Seen:
    """What the caller observed of an attempt, beyond its classified outcome.

    Not frozen, like `Attempt`: one of each is made per request, and a frozen dataclass's `__init__`
    (an `object.__setattr__` call per field) costs three times as much. Nothing changes them once made."""

    answered: int | None = None  # the upstream's HTTP status, even when its body then failed
    ms: float | None = None  # time to the response head, or to the failure
    upstream: str | None = None  # host:port, named when the upstream could not be reached


@dataclass(slots=True)
class Attempt:
    """One upstream attempt, for the exhaustion body, the log line and the ledger (never a key).

    The plan appends one per `after()` and amends the last one in `broke()`; nothing else writes them."""

    model: str
    status: int | None
    error: str | None
    reason: str | None
    delay_ms: int  # waited before this attempt
    prefix: str = ""  # the channel's provider prefix, for the upstream metrics
    seen: Seen = field(default_factory=Seen)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model}
        if self.status is not None:
            out["status"] = self.status
        if self.error is not None:
            out["error"] = self.error
        if self.reason is not None:
            out["reason"] = self.reason
        out["delay_ms"] = self.delay_ms
        return out

    def record(self) -> AttemptRecord:
        """The access log's and ledger's view: the status the upstream answered, nulls kept."""
        out: AttemptRecord = {"model": self.model, "status": self.seen.answered, "error": self.error,
                              "ms": self.seen.ms}
        if self.seen.upstream is not None:
            out["upstream"] = self.seen.upstream
        out["reason"] = self.reason
        out["delay_ms"] = self.delay_ms
        return out


@dataclass(frozen=True, slots=True)
class Next:
    """Send the next attempt to `channel` after `delay` seconds; `retry` = the same channel again."""

    channel: Channel
    delay: float
    reason: str
    retry: bool


@dataclass(frozen=True, slots=True)
class Stop:
    """No more attempts. `exhausted`: answer with the exhaustion error rather than the last response."""

    why: str  # ok | client_error | policy | single_attempt | max_attempts | max_duration | no_candidate
    #        | fallback_forbidden
    exhausted: bool


class Plan:
    """Attempt bookkeeping and retry decisions for one request; see the module docstring for the rules."""

    __slots__ = ("primary", "policy", "attempts", "fallbacks", "_channels", "_resolve", "_blocks",
                 "_local_blocks", "_health", "_clock", "_rng", "_eligible", "_current", "_pending_delay",
                 "_started", "_tried", "_permitted")

    def __init__(self, primary: Channel, *, policy: RetryPolicy | None, channels: Sequence[Channel],
                 resolve: Callable[[str], Channel | None], blocks: Blocks, health: Health,
                 clock: Callable[[], float], rng: Callable[[], float],
                 eligible: Callable[[Channel], bool] | None = None,
                 permitted: Callable[[str | None], bool] | None = None) -> None:
        self.primary = primary
        self.policy = policy
        self.attempts: list[Attempt] = []
        self.fallbacks: list[dict[str, str]] = []
        self._channels = channels
        self._resolve = resolve
        self._blocks = blocks
        self._local_blocks = Blocks()
        self._health = health
        self._clock = clock
        self._rng = rng
        self._eligible = eligible or (lambda _ch: True)
        self._permitted = permitted or (lambda _reason: True)
        self._current: Channel | None = None
        self._pending_delay = 0.0
        self._started = 0.0
        self._tried: list[Channel] = []

    # --- the two questions the attempt loop asks ---------------------------------------------------

    def start(self) -> Channel | None:
        """The first channel: the primary, unless it is blocked or cooling and the policy offers another.

        None when no candidate is eligible (the policy layer then denies the request).
        """
        now = self._started = self._clock()
        if self.policy is None:
            chosen = self.primary if self._eligible(self.primary) else None
        else:
            chosen = None
            for ch in [self.primary, *self._ordered()]:
                if ch is not self.primary and not self._strategy_allows(
                        self.policy.default_strategy, self.primary, ch):
                    continue
                if self._usable(ch, now):
                    chosen = ch
                    break
            if chosen is None and self._eligible(self.primary):
                chosen = self.primary  # everything is blocked or cooling: trying beats failing outright
            if chosen is not None and chosen is not self.primary:
                skipped = self._skip_reason(self.primary, now) or "unavailable"
                self.fallbacks.append({"from": self.primary.model, "to": chosen.model, "reason": skipped})
        if chosen is not None:
            self._health.claim(chosen.model, now=now)
            self._current = chosen
            self._tried.append(chosen)
        return chosen

    def after(self, outcome: Outcome, seen: Seen | None = None) -> Next | Stop:
        """Record the attempt just made and decide what comes next."""
        cur = self._current
        if cur is None:
            raise RuntimeError("Plan.after() before Plan.start()")
        now = self._clock()
        self.attempts.append(Attempt(cur.model, outcome.status, outcome.error, outcome.reason,
                                     round(self._pending_delay * 1000), cur.prefix,
                                     seen or Seen(answered=outcome.status)))
        if not outcome.retryable:
            self._health.success(cur.model)
            return _ended(outcome.kind)
        self._health.failure(cur.model, outcome.reason or "failure", now=now)
        if not self._permitted(outcome.reason):
            return Stop("fallback_forbidden", exhausted=outcome.status is None)
        policy = self.policy
        if policy is None:
            return Stop("single_attempt", exhausted=outcome.status is None)
        ra = policy.retry_after_handling
        floor = 0.0
        if outcome.retry_after is not None:
            floor = min(outcome.retry_after, float(ra.max_retry_after_seconds))
            key = cur.model if ra.scope == "model" else cur.prefix
            target = self._blocks if ra.apply_to == "global" else self._local_blocks
            if floor > 0:
                target.block(key, until=now + floor, reason=outcome.reason or "rate_limited", now=now)
        strategy, max_attempts = self._rule(policy, outcome)
        if len(self.attempts) >= min(max_attempts, MAX_ATTEMPTS_CAP):
            return Stop("max_attempts", exhausted=True)
        nxt = self._pick(strategy, cur, now)
        if nxt is None:
            return Stop("no_candidate", exhausted=True)
        delay = self._backoff(policy, cur, nxt)
        if floor > 0 and (nxt.model == cur.model if ra.scope == "model" else nxt.prefix == cur.prefix):
            delay = max(delay, floor)
        if policy.max_retry_duration_ms is not None and \
                (now - self._started + delay) * 1000 > policy.max_retry_duration_ms:
            return Stop("max_duration", exhausted=True)
        retry = nxt.model == cur.model
        if not retry:
            self.fallbacks.append({"from": cur.model, "to": nxt.model, "reason": outcome.reason or ""})
        self._health.claim(nxt.model, now=now)
        self._current = nxt
        self._tried.append(nxt)
        self._pending_delay = delay
        return Next(nxt, delay, outcome.reason or "", retry)

    # --- reporting -----------------------------------------------------------------------------------

    @property
    def retry_codes(self) -> frozenset[int]:
        """Statuses the policy lists in `on_status_codes`: `classify` retries them even when 4xx."""
        if self.policy is None:
            return frozenset()
        return frozenset(code for rule in self.policy.on_status_codes for code in rule.codes)

    def broke(self, error: str) -> None:
        """The last attempt's answer failed after its first byte reached the client (no retry is possible
        any more): its record says how."""
        if self.attempts:
            self.attempts[-1].error = error

    def attempt_list(self) -> list[dict[str, Any]]:
        return [a.as_dict() for a in self.attempts]

    def exhaustion_error(self) -> UpstreamFailure:
        """The SPEC §3 exhaustion answer: the last upstream status (502/504 for transport failures)."""
        last = self.attempts[-1] if self.attempts else None
        if last is not None and last.status is not None:
            status = last.status
        elif last is not None and last.error == "timeout":
            status = 504
        else:
            status = 502
        n = len(self.attempts)
        tried = ", ".join(f"{a.model} ({a.status or a.error})" for a in self.attempts)
        return UpstreamFailure(f"all {n} upstream attempt{'s' if n != 1 else ''} failed: {tried}",
                               code="upstream_exhausted", status=status,
                               extra={"attempts": self.attempt_list()})

    # --- internals -------------------------------------------------------------------------------------

    def _rule(self, policy: RetryPolicy, outcome: Outcome) -> tuple[Strategy, int]:
        if outcome.status is not None:
            for rule in policy.on_status_codes:
                if outcome.status in rule.codes:
                    return (rule.strategy or policy.default_strategy,
                            rule.max_attempts or policy.default_max_attempts)
        elif outcome.error == "timeout" and policy.on_timeout is not None:
            t = policy.on_timeout
            return t.strategy or policy.default_strategy, t.max_attempts or policy.default_max_attempts
        return policy.default_strategy, policy.default_max_attempts

    def _ordered(self) -> list[Channel]:
        """fallback_models in order, then every other concrete channel in declaration order."""
        assert self.policy is not None
        out: list[Channel] = []
        seen = {self.primary.model}
        for name in self.policy.fallback_models:
            ch = self._resolve(name)
            if ch is not None and ch.model not in seen:
                seen.add(ch.model)
                out.append(ch)
        for ch in self._channels:
            if ch.model not in seen and not ch.model.endswith("*"):
                seen.add(ch.model)
                out.append(ch)
        return out

    def _pick(self, strategy: Strategy, cur: Channel, now: float) -> Channel | None:
        if strategy == "same_model":  # the policy says retry here: this request ignores the circuit
            return cur if self._eligible(cur) else None
        tried = {ch.model for ch in self._tried}
        for ch in self._ordered():
            if ch.model in tried or not self._strategy_allows(strategy, cur, ch):
                continue
            if self._usable(ch, now):
                return ch
        return None

    def _strategy_allows(self, strategy: Strategy, cur: Channel, ch: Channel) -> bool:
        if strategy == "same_model":
            return ch.model == cur.model
        if strategy == "same_provider":
            return ch.prefix == cur.prefix
        return ch.prefix != cur.prefix and ch.prefix not in {t.prefix for t in self._tried}

    def _usable(self, ch: Channel, now: float) -> bool:
        return self._eligible(ch) and self._skip_reason(ch, now) is None

    def _skip_reason(self, ch: Channel, now: float) -> str | None:
        for blocks in (self._blocks, self._local_blocks):
            b = blocks.active(ch.model, now=now)
            if b is not None:
                return b.reason
        return self._health.cooling(ch.model, now=now)

    def _backoff(self, policy: RetryPolicy, cur: Channel, nxt: Channel) -> float:
        b = policy.backoff
        applies = (b.apply_to == "global" or (b.apply_to == "same_provider" and nxt.prefix == cur.prefix)
                   or (b.apply_to == "same_model" and nxt.model == cur.model))
        if not applies:
            return 0.0
        n = len(self.attempts)
        ms = min(b.base_ms * 2 ** (n - 1), b.max_ms)
        if b.jitter:
            ms *= 0.5 + 0.5 * self._rng()
        return float(ms) / 1000.0


@cache
def _ended(kind: str) -> Stop:
    """`Stop(kind)` after an attempt that is not retried (an answer, a client error, a refusal): one shared
    value per outcome kind."""
    return Stop(kind, exhausted=False)


def policy_for(primary: Channel, default: RetryPolicy | None) -> RetryPolicy | None:
    """The policy governing a request: its primary channel's own, else the gateway-wide default."""
    return primary.retry_policy if primary.retry_policy is not None else default

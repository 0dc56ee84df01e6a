"""Daily token and request caps (`dubnium.budgets`), and the counters that survive a restart.

- `Budgets` (pure) knows which caps apply to a channel: a budget's target is a provider model
  (`prefix/id`), a prefix (`prefix/*`) or an alias; an alias budget counts every request that reaches the
  alias's channel, under whatever name, so it cannot be sidestepped by naming the provider directly.
- `DayCounts` (pure) holds today's counts per target; a new day (local time) starts from zero.
- `BudgetStore` (file edge) keeps the `DayCounts` in `<state dir>/budgets.json`: written atomically (temp file,
  fsync, rename, fsync of the directory) at most one second after a change, so a kill -9 loses at most
  the last second of counts, and on close.

With a shared state store (several instances as one, shared/store.py) the counts are also INCRBY'd in
Redis under `budget:<day>:<target>:<kind>`, and `sync` reads the totals of all instances before a request
is admitted: an instance over-spends a cap by at most its own requests in flight. While Redis cannot be
read, `dubnium.shared_state.budgets_when_unreachable` decides: `closed` (default) refuses capped channels
(another instance may have used the budget up), `open` judges them on this instance's last known counts.

Every upstream attempt counts one request (retries and fallbacks included); tokens are added from each
answer's usage. A channel at or over a cap is not eligible; the primary at its cap ends the request with
429 `budget_hard_limit`, with no fallback (a budget failure is policy, not an operational failure).
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from plano_daemon.catalog import Catalog, Channel
from plano_daemon.logs import LOG

if TYPE_CHECKING:
    from plano_daemon.config.schema import Budget

REQUESTS = "requests"
TOKENS = "tokens"
#: Shared counters outlive their day by one more, so an instance whose clock is a little off still finds them.
SHARED_TTL_SECONDS = 2 * 86400
#: The longest a count may sit only in memory.
FLUSH_DELAY_SECONDS = 1.0
FILE_NAME = "budgets.json"


def local_day(now: float | None = None) -> str:
    """The budget day: the workstation's local calendar date."""
    return time.strftime("%Y-%m-%d", time.localtime(now))


@dataclass(frozen=True, slots=True)
class Exceeded:
    """Which cap a channel has reached, for the 429 message and the ledger."""

    target: str
    kind: str  # requests | tokens
    used: int
    limit: int
    unverified: bool = False  # the shared count could not be read (fail-closed)

    @property
    def message(self) -> str:
        if self.unverified:
            return (f"daily {self.kind} budget for {self.target} cannot be checked: the shared state store is "
                    "unreachable (dubnium.shared_state.budgets_when_unreachable: closed)")
        return f"daily {self.kind} budget for {self.target} is used up ({self.used}/{self.limit})"


class SharedCounters(Protocol):
    """Counters shared between instances (shared.store.SharedState)."""

    def add(self, key: str, amount: int, ttl: int) -> None: ...

    async def read(self, keys: Sequence[str]) -> tuple[list[int], bool]: ...


@dataclass(slots=True)
class DayCounts:
    """Today's counts per budget target."""

    day: str
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def roll(self, today: str) -> None:
        if today != self.day:
            self.day = today
            self.counts = {}

    def get(self, target: str, kind: str) -> int:
        return self.counts.get(target, {}).get(kind, 0)

    def add(self, targets: Iterable[str], kind: str, amount: int) -> None:
        for target in targets:
            entry = self.counts.setdefault(target, {REQUESTS: 0, TOKENS: 0})
            entry[kind] = entry.get(kind, 0) + amount

    def to_json(self) -> str:
        return json.dumps({"version": 1, "day": self.day, "usage": self.counts}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DayCounts:
        doc = json.loads(text)
        counts = {str(t): {k: int(v) for k, v in kinds.items() if k in (REQUESTS, TOKENS)}
                  for t, kinds in doc.get("usage", {}).items()}
        return cls(day=str(doc["day"]), counts=counts)


class Budgets:
    """The caps of one config, matched to channels once per channel."""

    __slots__ = ("_budgets", "_catalog", "_memo")

    def __init__(self, budgets: Sequence[Budget], catalog: Catalog) -> None:
        self._budgets = tuple(budgets)
        self._catalog = catalog
        self._memo: dict[tuple[int, str], tuple[Budget, ...]] = {}

    def __bool__(self) -> bool:
        return bool(self._budgets)

    def rows(self, usage: DayCounts) -> list[tuple[str, str, int]]:
        """(target, kind, today's count) for every budget target and both kinds (the proxy counts both),
        zeros included: what `plano_budget_usage` shows, so a fresh day reads 0, not yesterday's total."""
        targets = dict.fromkeys(b.target for b in self._budgets)
        return [(t, kind, usage.get(t, kind)) for t in targets for kind in (REQUESTS, TOKENS)]

    def applying(self, channel: Channel) -> tuple[Budget, ...]:
        key = (channel.index, channel.model)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = tuple(b for b in self._budgets if self._covers(b.target, channel))
        return found

    def exceeded(self, channel: Channel, usage: DayCounts, *, unverified: bool = False) -> Exceeded | None:
        for b in self.applying(channel):
            for kind, limit in ((REQUESTS, b.daily_requests), (TOKENS, b.daily_tokens)):
                used = usage.get(b.target, kind)
                if limit is not None and (unverified or used >= limit):
                    return Exceeded(b.target, kind, used, limit, unverified=unverified)
        return None

    def targets(self) -> list[str]:
        return list(dict.fromkeys(b.target for b in self._budgets))

    def _covers(self, target: str, channel: Channel) -> bool:
        if target == channel.model or target == channel.name:
            return True
        if target.endswith("/*") and channel.prefix == target[:-2]:
            return True
        if self._catalog.is_alias(target):
            aliased = self._catalog.resolve(target)
            return aliased is not None and aliased.index == channel.index
        return False


def shared_key(day: str, target: str, kind: str) -> str:
    return f"budget:{day}:{target}:{kind}"


class BudgetStore:
    """The persisted `DayCounts`; the only part of the policy layer that touches files."""

    __slots__ = ("path", "usage", "problem", "_today", "_pending", "_dirty", "shared", "fail_closed", "unverified")

    def __init__(self, path: Path, *, today: Callable[[], str] = local_day) -> None:
        self.path = path
        self._today = today
        self._pending: asyncio.TimerHandle | None = None
        self._dirty = False
        self.problem: str | None = None
        self.shared: SharedCounters | None = None
        self.fail_closed = True
        self.unverified = False  # the last `sync` could not read the shared counts
        self.usage = DayCounts(day=today())
        try:
            self.usage = DayCounts.from_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            self.problem = f"{path}: unreadable budget state ({type(exc).__name__}); counting from zero"
            LOG.warning("%s", self.problem)
        self.usage.roll(today())

    def today(self) -> DayCounts:
        """The counts as of now: after midnight they start from zero."""
        self.usage.roll(self._today())
        return self.usage

    def exceeded(self, budgets: Budgets, channel: Channel) -> Exceeded | None:
        self.usage.roll(self._today())
        return budgets.exceeded(channel, self.usage, unverified=self.unverified and self.fail_closed)

    async def sync(self, budgets: Budgets) -> None:
        """Take today's totals of all instances from the shared store (before a request is admitted)."""
        if self.shared is None or not budgets:
            return
        usage = self.today()
        targets = budgets.targets()
        keys = [shared_key(usage.day, t, kind) for t in targets for kind in (REQUESTS, TOKENS)]
        values, fresh = await self.shared.read(keys)
        self.unverified = not fresh
        if not fresh or usage.day != self._today():
            return
        # Counts only grow within a day, and the local count is a past shared total plus this instance's own
        # counts since: the larger of both is never more than the truth (but covers an increment of ours that a
        # concurrent read missed).
        for i, target in enumerate(targets):
            entry = usage.counts.setdefault(target, {REQUESTS: 0, TOKENS: 0})
            entry[REQUESTS] = max(entry.get(REQUESTS, 0), values[2 * i])
            entry[TOKENS] = max(entry.get(TOKENS, 0), values[2 * i + 1])

    def record(self, budgets: Budgets, channel: Channel, *, requests: int = 0,
               tokens: int = 0) -> list[tuple[str, str, int]]:
        """Count an attempt and/or tokens; the (target, kind, new total) rows changed, for the metrics."""
        targets = [b.target for b in budgets.applying(channel)]
        if not targets or (requests <= 0 and tokens <= 0):
            return []
        self.usage.roll(self._today())
        changed: list[tuple[str, str, int]] = []
        for kind, amount in ((REQUESTS, requests), (TOKENS, tokens)):
            if amount > 0:
                self.usage.add(targets, kind, amount)
                changed.extend((t, kind, self.usage.get(t, kind)) for t in targets)
                if self.shared is not None:
                    for t in targets:
                        self.shared.add(shared_key(self.usage.day, t, kind), amount, SHARED_TTL_SECONDS)
        self._dirty = True
        self._schedule()
        return changed

    def _schedule(self) -> None:
        if self._pending is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.flush()
            return
        self._pending = loop.call_later(FLUSH_DELAY_SECONDS, self.flush)

    def flush(self) -> None:
        """Write the counts atomically if they changed: a crash leaves the old file or the new one. A write
        that fails is logged and retried with the next count (this runs as a loop callback and at shutdown,
        where an exception would only lose the rest of the teardown); the counts stay in memory meanwhile."""
        self._pending = None
        if not self._dirty:
            return
        try:
            self._write()
        except OSError as exc:
            self.problem = f"{self.path}: cannot save budget state ({exc.strerror or type(exc).__name__})"
            LOG.error("%s; counts kept in memory", self.problem)
            return
        self._dirty = False

    def _write(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".budgets.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(self.usage.to_json())
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def close(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
        self.flush()

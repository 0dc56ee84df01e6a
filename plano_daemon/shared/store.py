"""Several gateway instances as one: the state they share through Redis, with local state as the fallback.

Every instance keeps its own in-memory state (pins, Retry-After blocks, health, counters) and serves from
it; Redis makes those states agree:

- Retry-After blocks and health cool-downs are announced on a pub/sub channel and stored with their
  expiry; the other instances apply them to their local copies, so the request path never waits on Redis.
- Session pins (with `routing.session_cache.type: redis`) are read from Redis on a local miss and written
  to both.
- Counters (budgets per day, rate-limit windows) are INCRBY'd in Redis by a background writer; a request
  that needs a fresh total writes what this instance has not yet sent and reads the totals in one
  transaction (one round trip), so the totals are exact.

Redis down: requests carry on with local state (no Redis call is made until it is back), `/readyz` says
so, `plano_shared_state_up` is 0 and the transition is logged. A supervisor pings it every
`reconnect_seconds`; when it answers, the instance catches up: it loads the blocks and cool-downs others
stored, writes its own (and its pins) where Redis has none, then the counters it kept meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from plano_daemon.config.schema import Config
from plano_daemon.failover.blocks import Blocks
from plano_daemon.failover.health import Health
from plano_daemon.logs import LOG
from plano_daemon.metrics import Counter, Gauge, Metrics

if TYPE_CHECKING:
    from plano_daemon.shared.redis import RedisBackend

BLOCK, COOL, HEAL = "block", "cool", "heal"
#: How often the subscriber checks its connection (and whether it should stop) when no message comes.
POLL_SECONDS = 0.5
#: Local counters kept when nothing is shared (rate-limit windows); beyond this the expired go first.
MAX_LOCAL_COUNTERS = 65536


@dataclass(frozen=True, slots=True)
class SharedSettings:
    """Where the shared state lives, resolved from Plano's and our keys (None url: nothing is shared)."""

    url: str | None
    pins: bool  # `routing.session_cache.type: redis`
    prefix: str = "plano"
    timeout: float = 0.1
    reconnect: float = 1.0
    budgets_fail_closed: bool = True
    tenant_header: str | None = None

    @classmethod
    def from_config(cls, cfg: Config) -> SharedSettings:
        cache = cfg.routing.session_cache
        shared = cfg.dubnium.shared_state
        cache_url = cache.url if cache is not None and cache.type == "redis" else None
        return cls(url=shared.redis_url or cache_url, pins=cache_url is not None,
                   prefix=shared.key_prefix, timeout=shared.timeout_ms / 1000,
                   reconnect=shared.reconnect_seconds,
                   budgets_fail_closed=shared.budgets_when_unreachable == "closed",
                   tenant_header=cache.tenant_header if cache is not None else None)


class SharedState:
    """The coordinator; without a Redis URL it is a local counter map and every other call is a no-op."""

    def __init__(self, settings: SharedSettings, *, metrics: Metrics, blocks: Blocks, health: Health) -> None:
        self.settings = settings
        self.instance = uuid.uuid4().hex[:12]
        self._blocks, self._health = blocks, health
        self._backend: RedisBackend | None = None
        #: What a failed Redis call raises; without Redis nothing is sent, and redis-py is never imported
        #: (it costs ~90 ms of start-up and several MB, with the OpenTelemetry it pulls in).
        self._failures: tuple[type[BaseException], ...] = (OSError, TimeoutError)
        if settings.url:
            from plano_daemon.shared.redis import ERRORS, RedisBackend

            self._backend = RedisBackend(settings.url, timeout=settings.timeout, channel=f"{settings.prefix}:events")
            self._failures = ERRORS
        self.up = self._backend is None
        self.problem: str | None = None
        self._local: dict[str, tuple[int, float]] = {}  # key -> (count, expires at, epoch)
        self._pending: dict[str, tuple[int, int]] = {}  # key -> (amount not yet in Redis, ttl)
        self._outbox: list[tuple[str, str, float, str]] = []  # (kind, key, until epoch, reason)
        self._wake = asyncio.Event()
        self._counting = asyncio.Lock()  # one counter transaction at a time: pending amounts are sent once
        self._task: asyncio.Task[None] | None = None
        self._pin_source: Callable[[], Sequence[tuple[str, str, float]]] | None = None
        self._up_gauge = Gauge("plano_shared_state_up", "1 while the shared state store (Redis) answers; "
                               "absent when nothing is shared", registry=metrics.registry)
        self._errors = Counter("plano_shared_state_errors", "Shared state store calls that failed, by operation",
                               ["op"], registry=metrics.registry)
        if self._backend is not None:
            blocks.on_block = self._announce_block
            health.on_change = self._announce_health
            self._up_gauge.set(0)

    @property
    def enabled(self) -> bool:
        return self._backend is not None

    @property
    def pins_shared(self) -> bool:
        return self._backend is not None and self.settings.pins

    def status(self) -> dict[str, Any]:
        """For /readyz: what is shared and whether the store answers (the gateway serves either way)."""
        if self._backend is None:
            return {"backend": "memory"}
        out: dict[str, Any] = {"backend": "redis", "up": self.up, "instance": self.instance}
        if not self.up:
            out["fallback"] = "serving on this instance's local state"
            if self.problem:
                out["problem"] = self.problem
        return out

    # --- lifecycle ---------------------------------------------------------------------------------

    def start(self, pin_source: Callable[[], Sequence[tuple[str, str, float]]] | None = None) -> None:
        """Begin connecting in the background; `pin_source` lists local pins (key, value, seconds left)."""
        self._pin_source = pin_source
        if self._backend is not None and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._supervise())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
            if self.up and (self._pending or self._outbox):
                with contextlib.suppress(*self._failures):
                    await self._flush()
        if self._backend is not None:
            await self._backend.close()

    async def _supervise(self) -> None:
        assert self._backend is not None
        while True:
            try:
                await self._backend.ping()
                await self._catch_up()
                self._set_up(True)
                await self._serve()
            except self._failures as exc:
                self._set_up(False, exc)
            except (ValueError, KeyError, TypeError) as exc:  # a foreign value under our prefix
                self._set_up(False, exc)
            await asyncio.sleep(self.settings.reconnect)

    async def _serve(self) -> None:
        """The subscriber and the writer until either fails (the connection is gone)."""
        stop = asyncio.Event()
        tasks = [asyncio.create_task(self._listen(stop)), asyncio.create_task(self._write())]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            # redis-py's pub/sub read may swallow a cancellation: the flag ends the subscriber within its
            # poll interval, and the wait is bounded so that closing never hangs on it.
            stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=2 * POLL_SECONDS)

    def _set_up(self, up: bool, exc: BaseException | None = None) -> None:
        if up and not self.up:
            LOG.info("shared state: Redis answers again; instances share pins, budgets, blocks and cool-downs")
            self.problem = None
        elif not up:
            self.problem = f"Redis unreachable ({type(exc).__name__ if exc else 'error'})"
            if self.up:
                LOG.warning("shared state: %s; serving on local state until it returns", self.problem)
            self._errors.labels("connection").inc()
        self.up = up
        self._up_gauge.set(1 if up else 0)

    # --- announcements (blocks, health) --------------------------------------------------------------

    def _announce_block(self, key: str, seconds: float, reason: str) -> None:
        self._queue(BLOCK, key, time.time() + seconds, reason)

    def _announce_health(self, model: str, seconds: float, reason: str) -> None:
        self._queue(COOL if seconds > 0 else HEAL, model, time.time() + seconds, reason)

    def _queue(self, kind: str, key: str, until: float, reason: str) -> None:
        if self.up:  # while down, catch-up sends the state as it is then
            self._outbox.append((kind, key, until, reason))
            self._wake.set()

    async def _listen(self, stop: asyncio.Event) -> None:
        assert self._backend is not None
        async for raw in self._backend.messages(stop, poll=POLL_SECONDS):
            msg = json.loads(raw)
            if isinstance(msg, dict) and msg.get("o") != self.instance:
                self._apply(str(msg["k"]), str(msg["key"]), float(msg["until"]), str(msg.get("reason", "")))

    def _apply(self, kind: str, key: str, until: float, reason: str) -> None:
        """Another instance's block, cool-down or recovery, onto the local copy (without re-announcing)."""
        now = asyncio.get_running_loop().time()
        left = until - time.time()
        if kind == HEAL:
            self._health.heal(key)
        elif left <= 0:
            return
        elif kind == BLOCK:
            self._blocks.block(key, until=now + left, reason=reason, now=now, announce=False)
        elif kind == COOL:
            self._health.cool(key, until=now + left, reason=reason)

    async def _catch_up(self) -> None:
        """After (re)connecting: take what the others stored, give what only this instance knows."""
        assert self._backend is not None
        prefix = self.settings.prefix
        now, wall = asyncio.get_running_loop().time(), time.time()
        stored: dict[str, tuple[str, int]] = {}
        for kind in (BLOCK, COOL):
            stored.update(await self._backend.scan(f"{prefix}:{kind}:*"))
        for full, (value, _ttl) in stored.items():
            kind, key = full[len(prefix) + 1:].split(":", 1)
            doc = json.loads(value)
            self._apply(kind, key, float(doc["until"]), str(doc.get("reason", "")))
        for kind, entries in ((BLOCK, self._blocks.entries(now)), (COOL, self._health.open_entries(now))):
            for key, until, reason in entries:
                if f"{prefix}:{kind}:{key}" not in stored:
                    await self._store_event(kind, key, wall + (until - now), reason)
        if self.pins_shared and self._pin_source is not None:
            for key, value, left in self._pin_source():
                await self._backend.set(self.pin_key(key), value, ttl_ms=int(left * 1000), only_new=True)

    async def _write(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self._flush()

    async def _flush(self) -> None:
        assert self._backend is not None
        while self._outbox:
            kind, key, until, reason = self._outbox[0]
            await self._store_event(kind, key, until, reason)
            self._outbox.pop(0)
        if self._pending:
            await self._send_counts([])

    async def _send_counts(self, keys: list[str]) -> list[int]:
        """Send the pending amounts and read `keys`; on failure the amounts stay pending for the next try."""
        assert self._backend is not None
        async with self._counting:
            batch, self._pending = self._pending, {}
            try:
                return await self._backend.incr_and_get(batch, keys)
            except BaseException:
                for key, (amount, ttl) in batch.items():
                    more, _ = self._pending.get(key, (0, ttl))
                    self._pending[key] = (amount + more, ttl)
                raise

    async def _store_event(self, kind: str, key: str, until: float, reason: str) -> None:
        assert self._backend is not None
        full = f"{self.settings.prefix}:{kind}:{key}"
        if kind == HEAL:
            await self._backend.delete(f"{self.settings.prefix}:{COOL}:{key}")
        else:
            await self._backend.set(full, json.dumps({"until": until, "reason": reason}),
                                    ttl_ms=int((until - time.time()) * 1000))
        await self._backend.publish(json.dumps({"o": self.instance, "k": kind, "key": key, "until": until,
                                                "reason": reason}))

    # --- session pins ------------------------------------------------------------------------------

    def pin_key(self, key: str) -> str:
        return f"{self.settings.prefix}:affinity:{key}"

    async def get_pin(self, key: str) -> str | None:
        """The stored pin under `key`, or None (none stored, or Redis down: the caller uses its own)."""
        if not self.pins_shared or not self.up:
            return None
        assert self._backend is not None
        try:
            return await self._backend.get(self.pin_key(key))
        except self._failures:
            self._errors.labels("get_pin").inc()
            return None

    def put_pin(self, key: str, value: str, ttl: float) -> None:
        """Store a pin for the other instances, in the background (the request does not wait)."""
        if self.pins_shared and self.up:
            asyncio.get_running_loop().create_task(self._put_pin(key, value, ttl))

    async def _put_pin(self, key: str, value: str, ttl: float) -> None:
        assert self._backend is not None
        try:
            await self._backend.set(self.pin_key(key), value, ttl_ms=int(ttl * 1000))
        except self._failures:
            self._errors.labels("put_pin").inc()

    # --- counters ----------------------------------------------------------------------------------

    def add(self, key: str, amount: int, ttl: int) -> None:
        """Count `amount` under `key` (expiring after `ttl` seconds): locally now, in Redis soon."""
        if amount <= 0:
            return
        full = f"{self.settings.prefix}:{key}"
        now = time.time()
        count, expires = self._local.get(full, (0, now + ttl))
        self._local[full] = (count + amount, expires)
        if len(self._local) > MAX_LOCAL_COUNTERS:
            self._prune(now)
        if self._backend is not None:
            pending, _ = self._pending.get(full, (0, ttl))
            self._pending[full] = (pending + amount, ttl)
            if self.up:
                self._wake.set()

    async def read(self, keys: Sequence[str]) -> tuple[list[int], bool]:
        """Current totals across instances, and False when Redis is known to be down (then the totals are
        only this instance's view: its last reading plus its own counts since)."""
        full = [f"{self.settings.prefix}:{k}" for k in keys]
        if self._backend is not None and self.up:
            try:
                async with asyncio.timeout(self.settings.timeout):  # the lock wait included
                    totals = await self._send_counts(full)
            except self._failures:
                self._errors.labels("read").inc()
            else:
                now = time.time()  # what this instance counted during the round trip is not in Redis yet
                totals = [t + self._pending.get(k, (0, 0))[0] for k, t in zip(full, totals, strict=True)]
                for k, total in zip(full, totals, strict=True):
                    self._local[k] = (total, self._local.get(k, (0, now + 86400))[1])
                return totals, True
        now = time.time()
        values = [c if exp > now else 0 for c, exp in (self._local.get(k, (0, now)) for k in full)]
        # A slow answer while Redis is up: this instance's last view is recent. Known down: not to be trusted.
        return values, self.up

    def _prune(self, now: float) -> None:
        for key in [k for k, (_, exp) in self._local.items() if exp <= now]:
            del self._local[key]
        while len(self._local) > MAX_LOCAL_COUNTERS:
            del self._local[next(iter(self._local))]

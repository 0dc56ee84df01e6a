"""The route-decision ledger (SPEC §5): one JSON line per routing decision, for later audit.

`decision_record` builds a model-router RouteDecision record from facts (pure; it never sees prompt
text or keys, so it cannot leak them). `LedgerWriter` appends records in batches: a request only
queues a line; a background flush writes, fsyncs and rotates by size, off the event loop.
"""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from plano_daemon.config.schema import LedgerSettings
from plano_daemon.json_codec import dumps_line
from plano_daemon.logs import LOG, MILLIS_TEXT
from plano_daemon.wire.usage import Usage

FILE_NAME = "route-decisions.jsonl"
#: Neutral policy facts until a policy profile narrows anything (issue 6 fills these).
NO_FALLBACK_POLICY: dict[str, list[str]] = {"allowed_reasons": [], "forbidden_reasons": []}
#: Records kept in memory while the file cannot be written; beyond it the oldest are dropped and counted.
MAX_BACKLOG = 10_000
#: Queued records that start a write before the flush interval is up: what waits in memory between two
#: writes is bounded by count, not by rate × interval (at 5,000 requests/s, 0.2 s held ≈ 1 MB of records,
#: which the allocator then keeps as RSS).
BATCH_RECORDS = 256
#: The longest wait between two tries of a failing write.
RETRY_MAX_SECONDS = 5.0
_TAIL_BLOCK = 65536

_NONE: list[Any] = []
_NO_REJECTIONS: dict[str, list[str]] = {}
#: A record's fields in their order, valued as for a request no policy, router or failover touched.
#: `decision_record` copies it and sets what the request changed: a dict copied whole is made in about half
#: the time of the same 22 keys set one by one. Its empty containers are shared by the records that keep them
#: (as `NO_FALLBACK_POLICY` is): a record is encoded, never changed.
_BLANK_RECORD: dict[str, Any] = {
    "request_id": "", "timestamp": "", "task": "none", "privacy_class": None, "data_classes": _NONE,
    "decision_outcome": "selected", "selected_source": None, "candidate_sources": _NONE, "eligible_sources": _NONE,
    "ranked_sources": _NONE, "rejected_sources": _NO_REJECTIONS, "policy_denials": _NONE,
    "decision_reasons": _NONE, "affinity_key": None, "fallback_policy": NO_FALLBACK_POLICY, "fallbacks": _NONE,
    "usage": None, "requested_model": None, "router": "none", "router_error": None, "attempts": _NONE,
    "error": None,
}


def decision_record(request_id: str, timestamp: float, requested_model: str | None, router: str, /, *,
                    route: str | None, selected: str | None, candidates: Sequence[str], ranked: Sequence[str],
                    affinity_key: str | None = None, attempts: Sequence[Mapping[str, Any]] = (),
                    fallbacks: Sequence[Mapping[str, Any]] = (), usage: Usage | None = None,
                    latency_ms: float | None = None, outcome: str = "selected",
                    policy: Mapping[str, Any] | None = None, router_error: str | None = None,
                    error: str | None = None) -> dict[str, Any]:
    """One RouteDecision. `router` is llm | embedded | pinned | none: which path decided; `router_error` is
    why the router model did not (timeout, connect, reset, status_NNN, bad_response, unreadable_answer), and
    the record's one decision reason; `error` why the request failed (`outcome` then says `error`; a stream
    cut after its first byte too). Four positional arguments: CPython 3.11 builds a dict for a call once
    positional + 2 × keyword arguments pass 30 (≈ 7 k instructions more), and a request's record takes 17.
    `policy`: the request's policy facts (`RequestGate.ledger_fields`: eligible, rejected, policy_denials,
    privacy_class, data_classes, fallback_policy); without them, the neutral values and every candidate
    eligible. Every `*_source(s)` field names a channel the same way (`RequestGate.name`). The record shares the
    caller's sequences and mappings (a tuple is written as a JSON array like a list; copying them was a
    sixth of its cost): encode it at once, as `LedgerWriter.append` does."""
    record = _BLANK_RECORD.copy()
    record["request_id"] = request_id
    record["timestamp"] = _stamp(timestamp)
    if route:
        record["task"] = route
    if policy:
        record["privacy_class"] = policy.get("privacy_class")
        record["data_classes"] = policy.get("data_classes") or _NONE
        eligible = policy.get("eligible")
        record["rejected_sources"] = policy.get("rejected") or _NO_REJECTIONS
        record["policy_denials"] = policy.get("policy_denials") or _NONE
        record["fallback_policy"] = policy.get("fallback_policy") or NO_FALLBACK_POLICY
    else:
        eligible = None
    record["decision_outcome"] = outcome
    record["selected_source"] = selected
    record["candidate_sources"] = candidates
    record["eligible_sources"] = candidates if eligible is None else eligible
    record["ranked_sources"] = ranked
    if router_error:
        record["decision_reasons"] = [f"router_failed:{router_error}"]
    record["affinity_key"] = affinity_key
    if fallbacks:
        record["fallbacks"] = fallbacks
    record["usage"] = {"input_tokens": usage.input_tokens if usage else 0,
                       "output_tokens": usage.output_tokens if usage else 0, "latency_ms": latency_ms}
    record["requested_model"] = requested_model
    record["router"] = router
    record["router_error"] = router_error
    if attempts:
        record["attempts"] = attempts
    record["error"] = error
    return record


def ledger_path(settings: LedgerSettings, state_dir: Path) -> Path:
    """`dubnium.ledger.path`, else $STATE_DIRECTORY (or the local state default) / route-decisions.jsonl."""
    if settings.path:
        return Path(os.path.expanduser(settings.path))
    return state_dir / FILE_NAME


_second: tuple[int, str] = (-1, "")


def _stamp(timestamp: float) -> str:
    """`datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")`, the date and time
    formatted once per second (records arrive thousands a second)."""
    global _second
    second = math.floor(timestamp)
    micros = round((timestamp - second) * 1e6)
    if micros >= 1_000_000:
        second, micros = second + 1, micros - 1_000_000
    if _second[0] != second:
        _second = (second, datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    return f"{_second[1]}.{MILLIS_TEXT[micros // 1000]}+00:00"


def encode_record(record: Mapping[str, Any]) -> bytes:
    """One JSONL line. Any string is writable: text that UTF-8 cannot hold (a lone surrogate a client sent
    as `\\ud800`) is written as a JSON escape, which every JSON reader turns back into the same string."""
    return dumps_line(record)


def repair_tail(path: Path) -> int:
    """Blocking: cut a torn last line (a crash mid-write) so the next record starts on a line of its own;
    returns the bytes removed. Only the unreadable fragment goes: every complete line is kept."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return 0
    try:
        size = os.fstat(fd).st_size
        end = size
        while end > 0:
            start = max(0, end - _TAIL_BLOCK)
            block = os.pread(fd, end - start, start)
            if end == size and block.endswith(b"\n"):
                return 0
            newline = block.rfind(b"\n")
            if newline >= 0:
                end = start + newline + 1
                break
            end = start
        os.ftruncate(fd, end)
        os.fsync(fd)
        return size - end
    finally:
        os.close(fd)


class LedgerWriter:
    """Batched JSONL appends with fsync per batch and size-based rotation (`path.1` … `path.N`).

    The background flush outlives any error: a failed write is logged and its records are kept for the
    next try, up to `max_backlog` records; beyond that the oldest are dropped and counted (`on_drop`)."""

    __slots__ = ("path", "_max_bytes", "_backups", "_pending", "_records", "_lock", "_task", "_interval",
                 "_max_backlog", "_on_drop", "_repaired", "dropped", "_full_at", "_wake")

    def __init__(self, path: Path, *, max_bytes: int, backups: int, flush_interval: float = 0.2,
                 max_backlog: int = MAX_BACKLOG, on_drop: Callable[[int], None] | None = None) -> None:
        self.path = path
        self._max_bytes = max_bytes
        self._backups = backups
        self._interval = flush_interval
        self._max_backlog = max_backlog
        self._on_drop = on_drop
        #: The encoded lines not yet written, oldest first, and their count. One growing buffer rather than a
        #: list of lines: each line is freed as soon as it is copied in, where holding a batch's few hundred
        #: ≈ 700-byte objects until the write cost ≈ 2 % of a request's CPU (side-by-side A/B, docs/perf).
        self._pending = bytearray()
        self._records = 0
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._repaired = False
        self.dropped = 0
        #: The queue length at which `append` trims the backlog or wakes the flush (`_full`).
        self._full_at = min(BATCH_RECORDS, max_backlog + 1)
        #: What the flush task waits on between two writes; None while it writes or backs off.
        self._wake: asyncio.Future[None] | None = None

    @classmethod
    def from_settings(cls, settings: LedgerSettings, state_dir: Path, *,
                      on_drop: Callable[[int], None] | None = None) -> LedgerWriter:
        return cls(ledger_path(settings, state_dir), max_bytes=settings.max_bytes, backups=settings.backups,
                   flush_interval=settings.flush_interval_ms / 1000, on_drop=on_drop)

    def append(self, record: Mapping[str, Any]) -> None:
        """Queue one record (no I/O on the caller's path)."""
        self._pending += encode_record(record)
        self._records += 1
        if self._records >= self._full_at:
            self._full()

    def _full(self) -> None:
        """A batch is queued: write it now (unless a write is under way or failing), and keep the backlog
        bounded."""
        self._trim()
        if self._wake is not None:
            _settle(self._wake)

    @property
    def pending(self) -> int:
        return self._records

    def _trim(self) -> None:
        excess = self._records - self._max_backlog
        if excess > 0:
            end = 0
            for _ in range(excess):  # every line ends in the one newline it holds
                end = self._pending.index(b"\n", end) + 1
            del self._pending[:end]
            self._records -= excess
            self.dropped += excess
            if self._on_drop is not None:
                self._on_drop(excess)

    def write_batch(self, data: bytes | bytearray) -> None:
        """Blocking: append `data` (whole lines), fsync, rotate when the file passed `max_bytes`."""
        if not data:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self._repaired:
            cut = repair_tail(self.path)
            self._repaired = True
            if cut:
                LOG.warning("route ledger %s: removed a torn last record (%d bytes) left by a crash", self.path, cut)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        if size >= self._max_bytes:
            self._rotate()

    def _rotate(self) -> None:
        if self._backups == 0:
            self.path.unlink(missing_ok=True)
            return
        for n in range(self._backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{n}")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{n + 1}"))
        self.path.replace(self.path.with_name(f"{self.path.name}.1"))

    async def flush(self) -> None:
        """Write what is queued, in a worker thread; one flush at a time keeps lines in order. On failure
        the batch goes back in front of the queue (bounded) and the error propagates."""
        async with self._lock:
            data, records = self._pending, self._records
            self._pending, self._records = bytearray(), 0
            try:
                await asyncio.to_thread(self.write_batch, data)
            except BaseException:
                self._pending[:0] = data
                self._records += records
                self._trim()
                raise

    def start(self) -> None:
        """Start the background flush, or restart it if it ever ended."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        delay, failing = self._interval, False
        while True:
            wake = loop.create_future()
            timer = loop.call_later(delay, _settle, wake)
            if not failing:  # a failing write waits its back-off out, however full the queue
                self._wake = wake
                if self._records >= self._full_at:  # filled while the last batch was written
                    _settle(wake)
            try:
                await wake
            finally:
                self._wake = None
                timer.cancel()
            if not self._pending:
                continue
            try:
                # Shielded: cancelling this task (close) must not abandon a write its thread still
                # does; the lock then makes close's own flush wait for it.
                await asyncio.shield(self.flush())
            except Exception as exc:  # noqa: BLE001 - the flush task must survive every error
                failing, delay = True, min(max(delay * 2, self._interval), RETRY_MAX_SECONDS)
                LOG.error("route ledger %s: cannot write (%s); %d records kept, retrying in %.1fs",
                          self.path, _reason(exc), len(self._pending), delay)
            else:
                delay, failing = self._interval, False

    async def close(self) -> None:
        """Stop the background flush and write whatever is still queued."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            except Exception as exc:  # noqa: BLE001 - the flush below still writes what is queued
                LOG.error("route ledger %s: the flush task had failed (%s)", self.path, _reason(exc))
            self._task = None
        try:
            await self.flush()
        except Exception as exc:  # noqa: BLE001 - shutdown goes on; the loss is said once
            count = self._records
            self._pending, self._records = bytearray(), 0
            self.dropped += count
            LOG.error("route ledger %s: cannot write (%s); %d records dropped", self.path, _reason(exc), count)


def _settle(future: asyncio.Future[None]) -> None:
    """Wake the flush task (its timer's due, or a full batch), once."""
    if not future.done():
        future.set_result(None)


def _reason(exc: BaseException) -> str:
    """An error's kind and OS reason, never its full text (it may quote a record)."""
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__

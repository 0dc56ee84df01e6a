"""Logging: one structured JSON line per request; journald when under systemd and available, else stderr."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from typing import Any, TextIO

from plano_daemon.json_codec import dumps

ACCESS = logging.getLogger("plano_daemon.access")
LOG = logging.getLogger("plano_daemon")
_STAMPED = "%(asctime)s %(levelname)s %(message)s"
_LEVELS = {logging.INFO: "INFO", logging.WARNING: "WARNING", logging.ERROR: "ERROR"}
#: How long an INFO line may wait to be written with the lines after it.
COALESCE_SECONDS = 0.05
#: `f"{n:03d}"` for n in 0–999, made once: the milliseconds of a time stamp, written on every request, where
#: a format spec costs ≈ 3 k instructions a use.
MILLIS_TEXT: tuple[str, ...] = tuple(f"{n:03d}" for n in range(1000))


class CoalescingStreamHandler(logging.StreamHandler[TextIO]):
    """A stream handler that writes INFO lines in batches: on the event loop, one write every
    `COALESCE_SECONDS` instead of a write (a system call, ≈ 25 µs here) per access line. A WARNING or
    worse is written at once, with every line before it, so a problem is never held back; outside an event
    loop (start-up, other threads) every line is written at once; logging's shutdown writes what is left."""

    def __init__(self, stream: TextIO, delay: float = COALESCE_SECONDS, *, timestamps: bool = True) -> None:
        super().__init__(stream)
        self._delay = delay
        self._pending: list[str] = []
        self._timer: asyncio.TimerHandle | None = None
        self._timestamps = timestamps
        self.setFormatter(logging.Formatter(_STAMPED if timestamps else "%(message)s"))
        self._second = -1
        self._stamp = ""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._pending.append(self.format(record) + self.terminator)
        except Exception:
            self.handleError(record)
            return
        self._queued(record.levelno)

    def line(self, levelno: int, message: str) -> None:
        """Exactly what `emit` writes for a record of this level and message, without the record: the
        access log's path, where logging's record, dispatch and formatter cost more than the line itself."""
        if self._timestamps:
            now = time.time()
            second = int(now)
            if second != self._second:
                self._second, self._stamp = second, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
            text = f"{self._stamp},{MILLIS_TEXT[int((now - second) * 1000)]} {_LEVELS[levelno]} {message}\n"
        else:
            text = message + "\n"
        with self.lock:  # type: ignore[union-attr]  # created by Handler.__init__
            self._pending.append(text)
            self._queued(levelno)

    def _queued(self, levelno: int) -> None:
        if levelno >= logging.WARNING:
            self.flush()
        elif self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            self._timer = loop.call_later(self._delay, self._flush_due)

    def _flush_due(self) -> None:
        with self.lock:  # type: ignore[union-attr]  # created by Handler.__init__
            self._timer = None
            self.flush()

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        if pending:
            self.stream.write("".join(pending))
        super().flush()


#: The stderr handler `setup_logging` installed, which access lines are written to directly (None: under
#: journald's own handler, or before set-up, or in tests: then they go through logging).
_access_sink: CoalescingStreamHandler | None = None


def setup_logging(level: str = "INFO") -> None:
    """Route our loggers to journald (JOURNAL_STREAM set and systemd-python importable) or stderr."""
    root = logging.getLogger("plano_daemon")
    root.setLevel(level.upper())
    for h in list(root.handlers):
        root.removeHandler(h)
    handler: logging.Handler | None = None
    if os.environ.get("JOURNAL_STREAM"):
        try:
            from systemd.journal import JournalHandler

            handler = JournalHandler(SYSLOG_IDENTIFIER="plano")
            handler.setFormatter(logging.Formatter("%(message)s"))
        except ImportError:
            handler = None
    global _access_sink
    _access_sink = None
    if handler is None:
        handler = _access_sink = CoalescingStreamHandler(sys.stderr, timestamps=not os.environ.get("JOURNAL_STREAM"))
    root.addHandler(handler)
    root.propagate = False
    # The logging HOWTO's "Optimization" switches: no record needs its caller's frame (found by walking the
    # stack on every request), thread or process names; together about 15% off each access line.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False


def milliseconds(seconds: float, per_ms: int = 100) -> float:
    """A duration in ms to 1/`per_ms` of a ms (two decimals, as the access line and the ledger write it;
    an attempt's one): `round(ms, 2)` but for ties, at a fifth of its cost (`round` with digits goes
    through a decimal string)."""
    return int(seconds * (1000 * per_ms) + 0.5) / per_ms


def access_line(status: int, fields: dict[str, Any]) -> None:
    """One line per request, at a level an operator can filter on: ERROR for a 5xx, WARNING for a 4xx or
    a request whose answer failed after it began (`fields["error"]`), else INFO. Callers pass no prompt
    text and no secrets."""
    level = logging.ERROR if status >= 500 else logging.WARNING if status >= 400 or fields.get("error") \
        else logging.INFO
    if ACCESS.isEnabledFor(level):
        text = dumps(fields).decode()
        sink = _access_sink
        if sink is not None and not ACCESS.handlers:  # nobody else listens: straight to stderr's batch
            sink.line(level, text)
        else:
            ACCESS.log(level, text)

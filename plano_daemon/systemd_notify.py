"""sd_notify for Type=notify: READY, STATUS, WATCHDOG, RELOADING, STOPPING. A no-op without NOTIFY_SOCKET."""

from __future__ import annotations

import asyncio
import os
import time

import sdnotify


class Notifier:
    __slots__ = ("_notifier", "enabled")

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.enabled = bool(env.get("NOTIFY_SOCKET"))
        self._notifier = sdnotify.SystemdNotifier() if self.enabled else None

    def _send(self, *lines: str) -> None:
        if self._notifier is not None:
            self._notifier.notify("\n".join(lines))

    def ready(self, status: str) -> None:
        self._send("READY=1", f"STATUS={status}")

    def status(self, status: str) -> None:
        self._send(f"STATUS={status}")

    def reloading(self) -> None:
        self._send("RELOADING=1", f"MONOTONIC_USEC={time.monotonic_ns() // 1000}",
                   "STATUS=reloading configuration")

    def stopping(self) -> None:
        self._send("STOPPING=1", "STATUS=stopping: draining in-flight requests")

    def watchdog(self) -> None:
        self._send("WATCHDOG=1")


def watchdog_interval(environ: dict[str, str] | None = None) -> float | None:
    """Half of WATCHDOG_USEC in seconds, when the watchdog is on and meant for this process."""
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC")
    if not usec or not usec.isdigit() or int(usec) == 0:
        return None
    pid = env.get("WATCHDOG_PID")
    if pid and pid.isdigit() and int(pid) != os.getpid():
        return None
    return int(usec) / 2_000_000


async def run_watchdog(notifier: Notifier, interval: float) -> None:
    """Pings only while the event loop runs: a wedged loop stops the pings and systemd restarts us."""
    while True:
        notifier.watchdog()
        await asyncio.sleep(interval)

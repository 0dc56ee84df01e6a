"""Access lines are written in batches on the event loop, and nothing is held back that matters."""

from __future__ import annotations

import asyncio
import io
import logging
import subprocess
import sys

from plano_daemon.logs import CoalescingStreamHandler


class Writes(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, s: str) -> int:
        self.writes += 1
        return super().write(s)


def _logger(stream: Writes, delay: float) -> logging.Logger:
    logger = logging.getLogger(f"test.coalescing.{id(stream)}")
    logger.handlers[:] = [CoalescingStreamHandler(stream, delay)]
    logger.handlers[0].setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


async def test_info_lines_on_the_loop_are_written_together_within_the_delay() -> None:
    stream = Writes()
    log = _logger(stream, 0.05)
    for i in range(100):
        log.info("line %d", i)
    assert stream.getvalue() == ""
    await asyncio.sleep(0.2)
    assert stream.getvalue().splitlines() == [f"INFO line {i}" for i in range(100)]
    assert stream.writes == 1


async def test_a_warning_is_written_at_once_with_every_line_before_it() -> None:
    stream = Writes()
    log = _logger(stream, 60.0)
    log.info("first")
    log.warning("trouble")
    assert stream.getvalue().splitlines() == ["INFO first", "WARNING trouble"]


def test_outside_an_event_loop_every_line_is_written_at_once() -> None:
    stream = Writes()
    _logger(stream, 60.0).info("starting")
    assert stream.getvalue() == "INFO starting\n"


def test_lines_still_waiting_are_written_when_the_process_exits() -> None:
    code = ("import asyncio, logging, sys\n"
            "from plano_daemon.logs import CoalescingStreamHandler\n"
            "log = logging.getLogger('x'); log.addHandler(CoalescingStreamHandler(sys.stderr, 60.0))\n"
            "log.setLevel(logging.INFO)\n"
            "async def main():\n    log.info('held back')\n"
            "asyncio.run(main())\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True)
    assert done.stderr == "held back\n"

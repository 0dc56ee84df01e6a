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


def test_a_line_written_directly_is_the_line_logging_would_write() -> None:
    for timestamps in (True, False):
        via_logging, direct = Writes(), Writes()
        handler = CoalescingStreamHandler(via_logging, timestamps=timestamps)
        record = logging.LogRecord("plano_daemon.access", logging.WARNING, "", 0, '{"status":404}', None, None)
        handler.handle(record)
        straight = CoalescingStreamHandler(direct, timestamps=timestamps)
        straight.line(logging.WARNING, '{"status":404}')
        if timestamps:  # the same format, a few microseconds apart
            assert via_logging.getvalue()[:19] == direct.getvalue()[:19]
            assert via_logging.getvalue()[23:] == direct.getvalue()[23:] == ' WARNING {"status":404}\n'
        else:
            assert via_logging.getvalue() == direct.getvalue() == '{"status":404}\n'


def test_the_daemon_writes_access_lines_in_the_format_of_its_other_lines() -> None:
    code = ("import logging, sys\n"
            "from plano_daemon.logs import LOG, access_line, setup_logging\n"
            "setup_logging('INFO')\n"
            "LOG.warning('a warning')\n"
            "access_line(200, {'status': 200})\n"
            "access_line(502, {'status': 502})\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True,
                          env={"PATH": "/usr/bin:/bin"})
    lines = done.stderr.splitlines()
    assert [line[24:] for line in lines] == ["WARNING a warning", 'INFO {"status":200}', 'ERROR {"status":502}']
    assert all(line[4] == "-" and line[19] == "," for line in lines)


def test_lines_still_waiting_are_written_when_the_process_exits() -> None:
    code = ("import asyncio, logging, sys\n"
            "from plano_daemon.logs import CoalescingStreamHandler\n"
            "log = logging.getLogger('x'); log.addHandler(CoalescingStreamHandler(sys.stderr, 60.0))\n"
            "log.setLevel(logging.INFO)\n"
            "async def main():\n    log.info('held back')\n"
            "asyncio.run(main())\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True)
    assert done.stderr.endswith(" INFO held back\n") and done.stderr.count("\n") == 1

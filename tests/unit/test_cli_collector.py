"""The cyclic garbage collector is off while `serve` starts and never left off by a command; once serving,
what start-up keeps is frozen out of its collections until a reload."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from plano_daemon import logs
from plano_daemon.cli import main
from plano_daemon.config.load import load_config
from plano_daemon.server import run
from plano_daemon.systemd_notify import Notifier

CONFIG = ("version: v0.4.0\nlisteners: [{type: model, name: m, address: 127.0.0.1, port: 0}]\n"
          "model_providers: [{model: openai/m, base_url: 'http://127.0.0.1:8000/v1', default: true}]\n")


@pytest.fixture
def logging_kept() -> Iterator[None]:
    """`serve` sets up the process's logging (a handler on this test's captured stderr): put it back."""
    logger = logging.getLogger("plano_daemon")
    handlers, level, propagate, sink = list(logger.handlers), logger.level, logger.propagate, logs._access_sink
    yield
    logger.handlers[:] = handlers
    logger.setLevel(level)
    logger.propagate = propagate
    logs._access_sink = sink


def test_serve_that_cannot_start_leaves_the_collector_on(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          logging_kept: None) -> None:
    assert main(["serve", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert gc.isenabled()
    capsys.readouterr()


def test_other_commands_leave_it_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "plano.yaml"
    config.write_text(CONFIG)
    assert main(["validate", "--config", str(config)]) == 0
    assert gc.isenabled()
    capsys.readouterr()


class ReadyEvents(Notifier):
    """Counts each READY=1 (start, and the end of each reload) and sets `ready_seen`."""

    def __init__(self) -> None:
        super().__init__({})
        self.ready_seen = asyncio.Event()
        self.readies = 0

    def ready(self, status: str) -> None:
        self.readies += 1
        self.ready_seen.set()


async def test_serving_freezes_what_start_up_keeps_and_a_reload_thaws_it(tmp_path: Path) -> None:
    """Collections while serving never traverse the start-up heap (modules, config, routers: each one that
    did paused the event loop ≈ 30 ms); an applied reload puts it back, so the configuration it replaced can
    be collected."""
    config = tmp_path / "plano.yaml"
    config.write_text(CONFIG)
    notifier = ReadyEvents()
    served = asyncio.create_task(run(load_config(str(config)), config_path=str(config), env_files=[],
                                     notifier=notifier))
    try:
        await asyncio.wait_for(notifier.ready_seen.wait(), 30)
        assert gc.get_freeze_count() > 10_000
        assert gc.isenabled()
        notifier.ready_seen.clear()
        os.kill(os.getpid(), signal.SIGHUP)  # run's handler: a reload of the same file
        await asyncio.wait_for(notifier.ready_seen.wait(), 30)
        assert gc.get_freeze_count() == 0
    finally:
        if notifier.readies and not served.done():  # its SIGTERM handler is in place: stop it as systemd does
            os.kill(os.getpid(), signal.SIGTERM)
            assert await asyncio.wait_for(served, 30) == 0
        else:  # it never got that far: its own error, if any, is the one to see
            served.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await served
        gc.unfreeze()

"""The cyclic garbage collector is off while `serve` starts and never left off by a command."""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from plano_daemon import logs
from plano_daemon.cli import main


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
    config.write_text("version: v0.4.0\nlisteners: [{type: model, name: m, port: 12000}]\n"
                      "model_providers: [{model: openai/m, base_url: 'http://127.0.0.1:8000/v1', default: true}]\n")
    assert main(["validate", "--config", str(config)]) == 0
    assert gc.isenabled()
    capsys.readouterr()

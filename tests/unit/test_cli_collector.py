"""The cyclic garbage collector is off while the process starts (`cli.main`) and never left off."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from plano_daemon.cli import main


def test_a_command_leaves_the_collector_on_whatever_it_returns(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "plano.yaml"
    config.write_text("version: v0.4.0\nlisteners: [{type: model, name: m, port: 12000}]\n"
                      "model_providers: [{model: openai/m, base_url: 'http://127.0.0.1:8000/v1', default: true}]\n")
    assert main(["validate", "--config", str(config)]) == 0
    assert gc.isenabled()
    assert main(["validate", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert gc.isenabled()
    capsys.readouterr()

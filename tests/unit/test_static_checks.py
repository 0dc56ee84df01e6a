"""Types and lint are part of the suite: `mypy --strict` on plano_daemon/ and ruff with the rules in pyproject.toml.

Both read their settings from pyproject.toml, so running them by hand gives the same answer:
`.venv/bin/mypy` and `.venv/bin/ruff check .`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False, timeout=600)


@pytest.mark.timeout(600)  # a cold mypy cache checks every module and its dependencies' stubs
def test_mypy_strict_is_clean() -> None:
    done = run(str(BIN / "mypy"))
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_ruff_is_clean() -> None:
    done = run(str(BIN / "ruff"), "check", "--no-cache", ".")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]

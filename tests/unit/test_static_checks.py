"""Types and lint are part of the suite: `mypy --strict` on plano_daemon/ and ruff with the rules in pyproject.toml.

Both read their settings from pyproject.toml, so running them by hand gives the same answer:
`.venv/bin/mypy` and `.venv/bin/ruff check .`.
"""

from __future__ import annotations

import ast
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


#: Modules built when a config loads, not per request: their calls may pass as many keywords as they like.
_LOAD_TIME = {"catalog.py", "cli.py"}


def test_no_call_on_the_request_path_passes_sixteen_keyword_arguments() -> None:
    """From 16 keyword arguments on, CPython 3.11 compiles a call as a dict built and unpacked
    (CALL_FUNCTION_EX): ≈ 7 k instructions more than 15. `ledger.decision_record`, called once a request,
    was one such call."""
    found = []
    for path in sorted((REPO / "plano_daemon").rglob("*.py")):
        if path.name in _LOAD_TIME or "config" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and sum(k.arg is not None for k in node.keywords) >= 16:
                found.append(f"{path.relative_to(REPO)}:{node.lineno} {ast.unparse(node.func)}")
    assert not found, found

"""Types and lint are part of the suite: `mypy --strict` on plano_daemon/ and ruff with the rules in pyproject.toml.

Both read their settings from pyproject.toml, so running them by hand gives the same answer:
`.venv/bin/mypy` and `.venv/bin/ruff check .`.
"""

from __future__ import annotations

import ast
import dis
import functools
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


#: Modules run when a config loads, not per request: their calls may pass as many arguments as they like.
_LOAD_TIME = {"catalog.py", "cli.py"}


@functools.cache  # a few dozen shapes among the package's thousands of calls
def _unpacks_its_arguments(positional: int, keywords: int) -> bool:
    """Whether this interpreter compiles a call with these argument counts as a tuple and a dict built and
    then unpacked (CALL_FUNCTION_EX), as CPython 3.11 does once positional + 2 × keywords passes 30."""
    args = ["a"] * positional + [f"k{n}=a" for n in range(keywords)]
    code = compile(f"f({', '.join(args)})", "<call>", "eval")
    return any(op.opname == "CALL_FUNCTION_EX" for op in dis.get_instructions(code))


def test_no_call_on_the_request_path_unpacks_its_arguments() -> None:
    """A call with many arguments is compiled as a dict built and unpacked: ≈ 7 k instructions more than
    one just below the limit. `ledger.decision_record`, called once a request, was one such call (2
    positional and 15 keyword arguments: the limit is not a count of keywords alone)."""
    found = []
    for path in sorted((REPO / "plano_daemon").rglob("*.py")):
        if path.name in _LOAD_TIME or "config" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or any(isinstance(a, ast.Starred) for a in node.args) \
                    or any(k.arg is None for k in node.keywords):
                continue  # an explicit *args or **kwargs call unpacks by design
            if _unpacks_its_arguments(len(node.args), len(node.keywords)):
                found.append(f"{path.relative_to(REPO)}:{node.lineno} {ast.unparse(node.func)}")
    assert not found, found

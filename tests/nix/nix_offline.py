"""Helpers for the offline Nix checks: find tools, evaluate pure Nix, render systemd units.

These checks need `nix-instantiate` (apt: nix-bin) and `systemd-analyze` (apt: systemd), never nixpkgs.
When CI=true a missing tool fails the test loudly; elsewhere the test is skipped with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
APT_PACKAGE = {"nix-instantiate": "nix-bin", "systemd-analyze": "systemd"}


def require_tool(name: str) -> str:
    """Path of `name`, or fail (CI=true) / skip (elsewhere) naming the apt package to install."""
    path = shutil.which(name)
    if path is not None:
        return path
    reason = f"{name} not found on PATH (apt-get install {APT_PACKAGE.get(name, name)})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


def nix_eval(expr: str) -> Any:
    """Evaluate a Nix expression without nixpkgs and return it as JSON data.

    restrict-eval limits file access to the repository (`<repo/...>`), so nothing outside it (no
    nixpkgs, no channel) can be imported, and impure builtins such as getEnv are unavailable.
    """
    nix = require_tool("nix-instantiate")
    env = {k: v for k, v in os.environ.items() if k != "NIX_PATH"}
    # Nix 2.8 wants a writable state dir even for --eval; keep it out of the repo and off the host.
    env.setdefault("NIX_STATE_DIR", str(Path(os.environ.get("TMPDIR", "/tmp")) / "plano-nix-state"))
    proc = subprocess.run(
        [nix, "--eval", "--strict", "--json", "--option", "restrict-eval", "true",
         "-I", f"repo={REPO}", "--expr", expr],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, f"nix-instantiate failed:\n{proc.stderr}"
    return json.loads(proc.stdout)


def render_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def render_unit(unit: dict[str, dict[str, Any]]) -> str:
    """Unit file text from {Section: {Key: value}}; a list repeats the key (as NixOS renders it)."""
    lines: list[str] = []
    order = {"Unit": 0, "Install": 2}
    for section, entries in sorted(unit.items(), key=lambda item: order.get(item[0], 1)):
        lines.append(f"[{section}]")
        for key, value in entries.items():
            for item in value if isinstance(value, list) else [value]:
                lines.append(f"{key}={render_value(item)}")
        lines.append("")
    return "\n".join(lines)

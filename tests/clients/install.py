"""Install the pinned real clients (versions.json) once per machine, into a cache outside the repo.

`python3 tests/clients/install.py` installs (if needed) and prints the directory; the suite calls `client_dir()`
and `install()` the same way, so CI and a developer share one cache keyed by the pinned versions."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

VERSIONS = Path(__file__).with_name("versions.json")
STAMP = ".complete"


def pinned() -> dict[str, dict[str, str]]:
    result: dict[str, dict[str, str]] = json.loads(VERSIONS.read_text())
    return result


def client_dir() -> Path:
    """`${XDG_CACHE_HOME:-~/.cache}/plano-daemon/clients/<hash of the pinned versions>`."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    digest = hashlib.sha256(VERSIONS.read_bytes()).hexdigest()[:16]
    return cache / "plano-daemon" / "clients" / digest


def installed() -> bool:
    return (client_dir() / STAMP).is_file()


def _run(argv: list[str], cwd: Path) -> None:
    env = {**os.environ, "npm_config_update_notifier": "false", "npm_config_fund": "false",
           "npm_config_audit": "false", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    subprocess.run(argv, cwd=cwd, env=env, check=True, stdout=sys.stderr)


def install() -> Path:
    """Install everything pinned unless already there; a lock keeps two concurrent runs from racing."""
    target = client_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if installed():
            return target
        if target.exists():  # an interrupted install: start over (a venv cannot be moved, so no rename)
            shutil.rmtree(target)
        target.mkdir()
        versions = pinned()
        npm = target / "npm"
        npm.mkdir()
        (npm / "package.json").write_text(json.dumps(
            {"name": "plano-daemon-clients", "private": True, "dependencies": versions["npm"]}, indent=2))
        _run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], npm)
        _run([sys.executable, "-m", "venv", str(target / "hermes")], target)
        specs = [f"{name}=={version}" for name, version in versions["pypi"].items()]
        _run([str(target / "hermes" / "bin" / "python"), "-m", "pip", "install", "--quiet", *specs], target)
        (target / STAMP).write_text(json.dumps(versions))
        return target


if __name__ == "__main__":
    print(install())

"""modules/nixos/check-executable.sh, plano.service's ExecStartPre: only an executable that nobody but root
can modify (the file, its directories, its venv) may start; everything else fails closed, saying why."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from nix_offline import REPO

SCRIPT = REPO / "modules" / "nixos" / "check-executable.sh"
NOBODY = 65534
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="building root-owned trees needs root (CI is root)")


def check(path: Path | str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), str(path)], capture_output=True, text=True, check=False)


def executable(path: Path, mode: int = 0o755) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(mode)
    return path


@pytest.fixture
def root_dir(tmp_path: Path) -> Path:
    """A root-owned 0755 directory whose ancestors are root's (pytest's tmp tree is 0700 under root)."""
    base = tmp_path / "safe"
    base.mkdir(mode=0o755)
    return base


@as_root
def test_root_owned_executable_passes(root_dir: Path) -> None:
    proc = check(executable(root_dir / "bin" / "planoai"))
    assert proc.returncode == 0, proc.stderr


@as_root
def test_executable_owned_by_another_user_is_refused(root_dir: Path) -> None:
    exe = executable(root_dir / "bin" / "planoai")
    os.chown(exe, NOBODY, NOBODY)
    proc = check(exe)
    assert proc.returncode == 1 and f"owned by uid {NOBODY}, not root" in proc.stderr


@as_root
def test_directory_chowned_like_an_old_state_directory_is_refused(root_dir: Path) -> None:
    """What StateDirectory=plano under DynamicUser did to /var/lib/plano: the tree belongs to the service."""
    exe = executable(root_dir / "plano" / "venv" / "bin" / "planoai")
    os.chown(root_dir / "plano", NOBODY, NOBODY)
    proc = check(exe)
    assert proc.returncode == 1 and f"{root_dir}/plano is owned by uid {NOBODY}" in proc.stderr


@as_root
@pytest.mark.parametrize("mode", [0o775, 0o757])
def test_group_or_world_writable_file_is_refused(root_dir: Path, mode: int) -> None:
    exe = executable(root_dir / "bin" / "planoai", mode)
    os.chmod(exe, mode)
    proc = check(exe)
    assert proc.returncode == 1 and "writable by group or others" in proc.stderr


@as_root
def test_writable_directory_is_refused_but_root_sticky_is_fine(root_dir: Path) -> None:
    exe = executable(root_dir / "shared" / "planoai")
    (root_dir / "shared").chmod(0o777)
    assert "writable by group or others" in check(exe).stderr
    (root_dir / "shared").chmod(0o1777)
    assert check(exe).returncode == 0


@as_root
def test_symlink_into_an_unsafe_tree_is_refused(root_dir: Path) -> None:
    target = executable(root_dir / "elsewhere" / "planoai")
    os.chown(root_dir / "elsewhere", NOBODY, NOBODY)
    link = root_dir / "bin" / "planoai"
    link.parent.mkdir()
    link.symlink_to(target)
    proc = check(link)
    assert proc.returncode == 1 and "elsewhere is owned by uid" in proc.stderr


@as_root
def test_venv_file_another_user_owns_is_refused(root_dir: Path) -> None:
    venv = root_dir / "venv"
    exe = executable(venv / "bin" / "planoai")
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\n")
    module = venv / "lib" / "python3.11" / "site-packages" / "planoai.py"
    module.parent.mkdir(parents=True)
    module.write_text("")
    assert check(exe).returncode == 0
    os.chown(module, NOBODY, NOBODY)
    proc = check(exe)
    assert proc.returncode == 1 and "planoai.py in its venv is not root's alone" in proc.stderr


@pytest.mark.parametrize("path", ["relative/planoai", "/nonexistent/planoai"])
def test_missing_or_relative_path_fails_closed(path: str) -> None:
    assert check(path).returncode == 1


def test_file_that_is_not_executable_fails_closed(tmp_path: Path) -> None:
    proc = check(executable(tmp_path / "planoai", 0o644))
    assert proc.returncode == 1 and "missing or not executable" in proc.stderr


def test_non_root_owned_executable_fails_closed(tmp_path: Path) -> None:
    exe = executable(tmp_path / "planoai")
    if os.geteuid() == 0:
        os.chown(exe, NOBODY, NOBODY)
    assert check(exe).returncode == 1

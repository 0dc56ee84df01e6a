"""plano.service under a real systemd as PID 1: runs `./dev systemd-vm` (tests/systemd_vm/vm.py), which
boots a Debian guest in QEMU and fails on any failed or missing check of guest/check.py.

Needs root, mmdebstrap, qemu-system-x86, e2fsprogs and nix-bin (.ci/run installs them). With CI=true a
missing tool or root fails the test; elsewhere it is skipped with the reason.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from vm import missing_tools  # noqa: E402

# Bounded: a cold build (mmdebstrap) takes ~6 min, a TCG boot plus the checks ~6 min on 2 busy cores.
LIMIT = 2400


def require_vm_tools() -> None:
    problems = missing_tools() + ([] if os.geteuid() == 0 else ["root (mmdebstrap --mode=root, chroot)"])
    if not problems:
        return
    reason = "systemd-vm needs " + ", ".join(problems)
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.mark.systemd_vm
@pytest.mark.timeout(LIMIT + 60)
def test_plano_service_passes_every_check_under_real_systemd() -> None:
    require_vm_tools()
    proc = subprocess.run([sys.executable, str(HERE / "vm.py")], capture_output=True, text=True,
                          timeout=LIMIT, check=False)
    print(proc.stdout)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr[-3000:]}"
    assert "checks passed" in proc.stdout

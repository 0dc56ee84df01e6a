"""The systemd_vm marker: tests that boot the Debian guest of tests/systemd_vm/vm.py (minutes, root)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "systemd_vm: boots a QEMU guest with a real systemd (./dev systemd-vm)")

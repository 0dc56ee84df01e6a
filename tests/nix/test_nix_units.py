"""plano.service, ai.slice and compute.target rendered from modules/nixos/plano-unit.nix, checked by systemd.

`systemd-analyze verify` must pass without any warning except settings this (older) systemd does not know
yet, listed in NEWER_KEYS / NEWER_TYPES with the version that introduced them; `systemd-analyze security
--offline=yes` must score plano.service at 2.0 or less for both runtimes.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from nix_offline import REPO, nix_eval, render_unit, require_tool

# Settings NixOS 26.05's systemd understands but Debian 12's systemd 252 does not: ReloadSignal= and
# Type=notify-reload came with 253, RestartSteps= and RestartMaxDelaySec= with 254. 252 ignores them.
NEWER_KEYS = {"ReloadSignal", "RestartSteps", "RestartMaxDelaySec"}
NEWER_TYPES = {"notify-reload"}
CHECK_EXECUTABLE = REPO / "modules" / "nixos" / "check-executable.sh"
MAX_EXPOSURE = 2.0


def stub_executable(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return str(path)


def unit_data(tmp_path: Path, runtime: str) -> dict:
    name = "plano-daemon" if runtime == "package" else "planoai"
    executable = stub_executable(tmp_path / "bin" / name)
    config = tmp_path / "config.yaml"
    config.write_text("version: v0.4.0\n")
    env_file = tmp_path / "plano.env"
    env_file.write_text("OPENROUTER_API_KEY=sk-test\n")
    return nix_eval(
        f"""import <repo/modules/nixos/plano-unit.nix> {{
          runtime = "{runtime}";
          executable = "{executable}";
          configFile = "{config}";
          environmentFiles = [ "{env_file}" ];
          extraArgs = [ "--example" "with space" ];
          checkExecutableBin = "{CHECK_EXECUTABLE}";
        }}"""
    )


def write_units(tmp_path: Path, data: dict) -> dict[str, Path]:
    units = {
        "plano.service": data["plano"],
        "ai.slice": data["aiSlice"],
        "compute.target": data["computeTarget"],
    }
    out = {}
    for name, unit in units.items():
        path = tmp_path / "units" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(render_unit(unit))
        out[name] = path
    return out


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    tool = require_tool("systemd-analyze")
    env = dict(os.environ, SYSTEMD_LOG_COLOR="0")
    return subprocess.run([tool, *args], capture_output=True, text=True, check=False, env=env)


def unexpected_warnings(stderr: str) -> list[str]:
    problems = []
    for line in stderr.splitlines():
        match = re.search(r"Unknown key '?([A-Za-z]+)'? in section", line)
        if match and match.group(1) in NEWER_KEYS:
            continue
        match = re.search(r"Failed to parse service type, ignoring: (\S+)", line)
        if match and match.group(1) in NEWER_TYPES:
            continue
        if line.strip():
            problems.append(line)
    return problems


@pytest.mark.parametrize("runtime", ["package", "external"])
def test_units_pass_systemd_analyze_verify(tmp_path: Path, runtime: str) -> None:
    units = write_units(tmp_path, unit_data(tmp_path, runtime))
    proc = analyze("verify", *map(str, units.values()))
    assert proc.returncode == 0, proc.stderr
    assert unexpected_warnings(proc.stderr) == []


@pytest.mark.parametrize("runtime", ["package", "external"])
def test_plano_service_exposure_at_most_two(tmp_path: Path, runtime: str) -> None:
    units = write_units(tmp_path, unit_data(tmp_path, runtime))
    proc = analyze("security", "--offline=yes", "--no-pager", str(units["plano.service"]))
    assert proc.returncode == 0, proc.stderr
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", proc.stdout)
    assert match, proc.stdout
    assert float(match.group(1)) <= MAX_EXPOSURE, proc.stdout


def test_plano_service_contract(tmp_path: Path) -> None:
    """The settings SPEC §8 asks for, whatever the sandbox looks like."""
    data = unit_data(tmp_path, "package")
    unit, service, install = data["plano"]["Unit"], data["plano"]["Service"], data["plano"]["Install"]
    # notify-reload: systemctl reload sends SIGHUP and waits for RELOADING=1 ... READY=1 (no race).
    assert service["Type"] == "notify-reload" and service["ReloadSignal"] == "SIGHUP"
    assert service["WatchdogSec"] and "ExecReload" not in service
    assert service["ExecStartPre"] == f"{CHECK_EXECUTABLE} {tmp_path}/bin/plano-daemon"
    assert service["ExecStart"] == (
        f"{tmp_path}/bin/plano-daemon serve --config {tmp_path}/config.yaml --log-level INFO"
        ' --example "with space"'
    )
    assert service["Slice"] == "ai.slice"
    # Nested, so /var/lib/plano (the external runtime's venv) is never chowned to the dynamic user.
    assert service["StateDirectory"] == "plano/state" and service["CacheDirectory"] == "plano"
    assert service["DynamicUser"] is True
    assert "AF_UNIX" in service["RestrictAddressFamilies"]
    assert service["ProcSubset"] == "pid"  # /metrics has no process_* collector to starve
    assert service["Restart"] == "on-failure"
    assert service["EnvironmentFile"] == [f"{tmp_path}/plano.env"]
    assert unit["After"] == ["network.target", "vllm.service"] and unit["Wants"] == ["vllm.service"]
    assert "Requires" not in unit
    assert unit["PartOf"] == ["compute.target"] and install["WantedBy"] == ["compute.target"]


def test_default_config_path_is_stable(tmp_path: Path) -> None:
    """A settings change swaps what /etc/plano/config.yaml points to, never ExecStart (which would restart)."""
    data = nix_eval(
        """(import <repo/modules/nixos/plano-unit.nix> {
          executable = "/opt/plano/bin/plano-daemon"; checkExecutableBin = "/bin/check";
        }).plano.Service.ExecStart"""
    )
    assert data == "/opt/plano/bin/plano-daemon serve --config /etc/plano/config.yaml --log-level INFO"


def test_seed_default_executable_is_outside_every_writable_dir() -> None:
    defaults = nix_eval("import <repo/modules/nixos/plano-defaults.nix>")
    writable = nix_eval(
        """(import <repo/modules/nixos/plano-unit.nix> {
          executable = "/x"; checkExecutableBin = "/bin/check";
        }).writableDirs"""
    )
    assert "/var/lib/plano/state" in writable
    assert not any(defaults["externalExecutable"].startswith(d + "/") for d in writable), writable


def test_external_runtime_runs_up_foreground_without_notify(tmp_path: Path) -> None:
    service = unit_data(tmp_path, "external")["plano"]["Service"]
    assert service["Type"] == "simple"
    assert "WatchdogSec" not in service and "ExecReload" not in service
    assert service["ExecStart"].startswith(f"{tmp_path}/bin/planoai up {tmp_path}/config.yaml --foreground")


def test_compute_target_requires_and_follows_multi_user(tmp_path: Path) -> None:
    target = unit_data(tmp_path, "package")["computeTarget"]["Unit"]
    assert target["Requires"] == ["multi-user.target"] and target["After"] == ["multi-user.target"]

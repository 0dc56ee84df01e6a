"""plano.service, ai.slice and compute.target rendered from modules/nixos/plano-unit.nix, checked by systemd.

`systemd-analyze verify` must pass without any warning except keys this (older) systemd does not know yet,
listed in NEWER_KEYS with the version that introduced them; `systemd-analyze security --offline=yes` must
score plano.service at 2.0 or less for both runtimes.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from nix_offline import nix_eval, render_unit, require_tool

# Keys NixOS 26.05's systemd understands but Debian 12's systemd 252 does not (introduced in 254).
NEWER_KEYS = {"RestartSteps", "RestartMaxDelaySec"}
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
    test_bin = require_tool("test")
    kill_bin = require_tool("kill") if runtime == "package" else "/bin/kill"
    return nix_eval(
        f"""import <repo/modules/nixos/plano-unit.nix> {{
          runtime = "{runtime}";
          executable = "{executable}";
          configFile = "{config}";
          environmentFiles = [ "{env_file}" ];
          extraArgs = [ "--example" "with space" ];
          testBin = "{test_bin}";
          killBin = "{kill_bin}";
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
    assert service["Type"] == "notify"
    assert service["WatchdogSec"] and service["ExecReload"].endswith("-HUP $MAINPID")
    assert service["ExecStartPre"] == f"{require_tool('test')} -x {tmp_path}/bin/plano-daemon"
    assert service["ExecStart"] == (
        f"{tmp_path}/bin/plano-daemon serve --config {tmp_path}/config.yaml --log-level INFO"
        ' --example "with space"'
    )
    assert service["Slice"] == "ai.slice"
    assert service["StateDirectory"] == "plano" and service["CacheDirectory"] == "plano"
    assert service["DynamicUser"] is True
    assert "AF_UNIX" in service["RestrictAddressFamilies"]
    assert service["Restart"] == "on-failure"
    assert service["EnvironmentFile"] == [f"{tmp_path}/plano.env"]
    assert unit["After"] == ["network.target", "vllm.service"] and unit["Wants"] == ["vllm.service"]
    assert "Requires" not in unit
    assert unit["PartOf"] == ["compute.target"] and install["WantedBy"] == ["compute.target"]


def test_external_runtime_runs_up_foreground_without_notify(tmp_path: Path) -> None:
    service = unit_data(tmp_path, "external")["plano"]["Service"]
    assert service["Type"] == "simple"
    assert "WatchdogSec" not in service and "ExecReload" not in service
    assert service["ExecStart"].startswith(f"{tmp_path}/bin/planoai up {tmp_path}/config.yaml --foreground")


def test_compute_target_requires_and_follows_multi_user(tmp_path: Path) -> None:
    target = unit_data(tmp_path, "package")["computeTarget"]["Unit"]
    assert target["Requires"] == ["multi-user.target"] and target["After"] == ["multi-user.target"]

"""The `mode` command (modules/nixos/mode.sh) with a stand-in systemctl and id on PATH.

The stand-in systemctl keeps compute.target's state in a file and logs every call; the stand-in id
reports the uid the test chooses, so the root check is exercised without being root.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from nix_offline import REPO

MODE = REPO / "modules" / "nixos" / "mode.sh"

FAKE_SYSTEMCTL = """#!/bin/sh
echo "$*" >> "$FAKE_STATE/calls"
case "$1" in
  is-active) [ -f "$FAKE_STATE/active" ] ;;
  start) [ -z "$FAKE_FAIL" ] || exit 1; touch "$FAKE_STATE/active" ;;
  stop) rm -f "$FAKE_STATE/active" ;;
  *) exit 3 ;;
esac
"""

FAKE_ID = """#!/bin/sh
case "$1" in
  -u) echo "$FAKE_UID" ;;
  -un) echo "$FAKE_USER" ;;
esac
"""


@dataclass
class ModeRun:
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Host:
    state: Path
    events_dir: Path
    env: dict[str, str]

    def run(self, *args: str, uid: int = 0, fail: bool = False, sudo_user: str | None = None) -> ModeRun:
        env = dict(self.env, FAKE_UID=str(uid), FAKE_FAIL="1" if fail else "")
        if sudo_user is not None:
            env["SUDO_USER"] = sudo_user
        proc = subprocess.run(["bash", str(MODE), *args], env=env, capture_output=True, text=True, check=False)
        return ModeRun(proc.returncode, proc.stdout, proc.stderr)

    def calls(self) -> list[str]:
        path = self.state / "calls"
        return path.read_text().splitlines() if path.exists() else []

    def events(self) -> list[dict[str, str]]:
        path = self.events_dir / "events.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def host(tmp_path: Path) -> Host:
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir()
    state.mkdir()
    for name, text in {"systemctl": FAKE_SYSTEMCTL, "id": FAKE_ID}.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "SUDO_USER"}
    env.update(
        PATH=f"{bin_dir}:{os.environ['PATH']}",
        FAKE_STATE=str(state),
        FAKE_USER="root",
        MODE_EVENTS_DIR=str(tmp_path / "events"),
    )
    return Host(state=state, events_dir=tmp_path / "events", env=env)


def test_request_compute_starts_target_and_records_transition(host: Host) -> None:
    result = host.run("request", "compute", sudo_user="ryjen")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "mode: desktop -> compute"
    assert "start compute.target" in host.calls()
    [event] = host.events()
    assert event["from"] == "desktop" and event["to"] == "compute"
    assert event["result"] == "ok" and event["by"] == "ryjen" and event["event"] == "request"
    assert event["timestamp"].endswith("Z")


def test_request_desktop_stops_target(host: Host) -> None:
    host.run("request", "compute")
    result = host.run("request", "desktop")
    assert result.returncode == 0, result.stderr
    assert "stop compute.target" in host.calls()
    assert [(e["from"], e["to"]) for e in host.events()] == [("desktop", "compute"), ("compute", "desktop")]


def test_status_reports_mode_and_last_event(host: Host) -> None:
    assert host.run("status").stdout.strip() == "mode: desktop"
    host.run("request", "compute")
    lines = host.run("status").stdout.splitlines()
    assert lines[0] == "mode: compute"
    assert json.loads(lines[1].removeprefix("last: "))["to"] == "compute"


def test_request_needs_root(host: Host) -> None:
    result = host.run("request", "compute", uid=1000)
    assert result.returncode == 1
    assert "sudo mode request compute" in result.stderr
    assert host.calls() == [] and host.events() == []


def test_failed_transition_is_recorded_and_reported(host: Host) -> None:
    result = host.run("request", "compute", fail=True)
    assert result.returncode == 1
    assert "switching to compute failed" in result.stderr
    [event] = host.events()
    assert event["result"] == "failed"


@pytest.mark.parametrize("args", [(), ("request",), ("request", "gaming"), ("status", "extra"), ("bogus",)])
def test_bad_usage_exits_2_without_side_effects(host: Host, args: tuple[str, ...]) -> None:
    result = host.run(*args)
    assert result.returncode == 2
    assert "usage: mode request compute|desktop" in result.stderr
    assert host.events() == []


def test_hostile_sudo_user_cannot_break_the_json_line(host: Host) -> None:
    host.run("request", "compute", sudo_user='x","to":"pwned')
    [event] = host.events()
    assert event["to"] == "compute"

"""The checks run inside the systemd guest (stdlib only, as root, by plano-vm-checks.service).

Each check prints one console line `PLANO-VM-CHECK {json}` ({"name", "ok", "detail", "seconds"}); the
last line is `PLANO-VM-DONE {json}`. The host (tests/systemd_vm/vm.py) parses them with a JSON parser and
fails on any failed or missing check. The guest has no network device: everything is loopback.
"""

from __future__ import annotations

import ctypes
import http.client
import json
import os
import re
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from errno import EPERM
from pathlib import Path
from typing import Any

SHARE = Path("/usr/local/share/plano-vm")
UNIT = Path("/etc/systemd/system/plano.service")
CONFIG = Path("/etc/plano/config.yaml")
ENV_FILE = Path("/etc/plano/plano.env")
PACKAGE_EXE = Path("/opt/plano-daemon/venv/bin/plano-daemon")
EXTERNAL_EXE = Path("/var/lib/plano/venv/bin/planoai")
STATE = Path("/var/lib/private/plano/state")
URL = "http://127.0.0.1:12000"
MODEL = "openai/qwen2.5-coder-14b-instruct"
MAX_EXPOSURE = 2.0
EXPECTED = json.loads((SHARE / "expected.json").read_text())  # hardening values, from the unit's Nix data
KEY = EXPECTED["key"]

CHECKS: list[tuple[str, Callable[[], str]]] = []


def emit(prefix: str, data: dict[str, Any]) -> None:
    print(f"{prefix} {json.dumps(data, sort_keys=True)}", flush=True)


def check(name: str) -> Callable[[Callable[[], str]], Callable[[], str]]:
    """Register a check, run in order by main(): it returns a detail string or raises to fail."""

    def register(fn: Callable[[], str]) -> Callable[[], str]:
        CHECKS.append((name, fn))
        return fn

    return register


def sh(*args: str, check: bool = True) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, check=False, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} -> {proc.returncode}: {proc.stderr.strip()[:200]}")
    return proc.stdout


def prop(name: str, unit: str = "plano.service") -> str:
    return sh("systemctl", "show", "-p", name, "--value", unit).strip()


def request(method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(URL + path, data=data, method=method,
                                 headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    text = raw.decode()
    return status, json.loads(text) if text.startswith(("{", "[")) else text


def chat(model: str = MODEL) -> dict[str, Any]:
    status, body = request("POST", "/v1/chat/completions",
                        {"model": model, "messages": [{"role": "user", "content": "hello"}]})
    assert status == 200 and isinstance(body, dict), (status, body)
    return body


def models() -> set[str]:
    status, body = request("GET", "/v1/models")
    assert status == 200, (status, body)
    return {m["id"] for m in body["data"]}


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)
    return time.monotonic() - start


def journal(since_cursor: str | None = None) -> str:
    args = ["journalctl", "-u", "plano.service", "-o", "cat", "--no-pager"]
    if since_cursor:
        args += ["--after-cursor", since_cursor]
    return sh(*args, check=False)


def cursor() -> str:
    out = sh("journalctl", "-n", "0", "--show-cursor", "--no-pager", check=False)
    match = re.search(r"-- cursor: (\S+)", out)
    return match.group(1) if match else ""


def write_config(extra_models: list[str]) -> None:
    """The Nix-rendered config with more providers (all on the fake vLLM, all keyed from the env file)."""
    config = json.loads((SHARE / "config.json").read_text())
    base = config["model_providers"][0]
    config["model_providers"] += [dict(base, model=m, default=False) for m in extra_models]
    CONFIG.write_text(json.dumps(config, indent=2) + "\n")


def install_unit(runtime: str) -> None:
    shutil.copy(SHARE / f"plano-{runtime}.service", UNIT)
    sh("systemctl", "daemon-reload")


def owner(path: Path) -> str:
    st = path.lstat()
    return f"{st.st_uid}:{st.st_gid} {oct(st.st_mode & 0o7777)}"


def reset() -> None:
    sh("systemctl", "stop", "compute.target", "plano.service", check=False)
    sh("systemctl", "reset-failed", "plano.service", check=False)


def main_pid() -> int:
    """The running daemon's PID; raises rather than return 0 (kill(0, ...) would hit this script)."""
    pid = int(prop("MainPID"))
    assert pid > 0, f"plano.service has no main process ({prop('ActiveState')}/{prop('SubState')})"
    return pid


def fails_closed(exe: Path) -> str:
    """With `exe` gone, starting compute mode leaves plano.service never active, refused by ExecStartPre."""
    reset()
    moved = exe.with_name(exe.name + ".away")
    exe.rename(moved)
    try:
        mark = cursor()
        sh("systemctl", "start", "compute.target", check=False)
        time.sleep(3)
        assert prop("ActiveEnterTimestampMonotonic") == "0", "plano.service became active"
        assert prop("ExecMainPID") == "0", "ExecStart ran"
        assert prop("ActiveState") != "active", "active"
        log = journal(mark)
        assert "refusing to start" in log and "missing or not executable" in log, log[-300:]
        status = http_status()
        assert status is None, f"something answers on :12000 ({status})"
        return f"state={prop('ActiveState')}/{prop('SubState')}, ExecStartPre refused it"
    finally:
        reset()
        moved.rename(exe)


def http_status() -> int | None:
    try:
        return request("GET", "/healthz")[0]
    except OSError:
        return None


# ---------------------------------------------------------------- package runtime (Type=notify-reload)

@check("guest: systemd >= 254 is PID 1, no network device")
def _() -> str:
    version = int(sh("systemctl", "--version").split()[1])
    comm = Path("/proc/1/comm").read_text().strip()
    links = [n for n in os.listdir("/sys/class/net") if n != "lo"]
    assert comm == "systemd" and version >= 254 and links == [], (comm, version, links)
    return f"systemd {version}, interfaces: lo"


@check("env file is root-only 0400")
def _() -> str:
    assert owner(ENV_FILE) == "0:0 0o400", owner(ENV_FILE)
    return owner(ENV_FILE)


@check("start compute.target -> plano active on READY=1 (serving when start returns)")
def _() -> str:
    install_unit("package")
    write_config([])
    before = {p: owner(p) for p in (Path("/var/lib/plano"), EXTERNAL_EXE)}
    start = time.monotonic()
    sh("systemctl", "start", "compute.target")
    took = time.monotonic() - start
    assert prop("ActiveState") == "active" and prop("Type") == "notify-reload", (prop("ActiveState"), prop("Type"))
    assert http_status() == 200, "not serving right after start returned"
    after = {p: owner(p) for p in before}
    assert after == before, (before, after)
    return f"start took {took:.1f}s; /healthz 200 at once"


@check("plano.service and vllm.service run in ai.slice")
def _() -> str:
    slices = (prop("Slice"), prop("Slice", "vllm.service"))
    assert slices == ("ai.slice", "ai.slice"), slices
    cgroup = Path(f"/proc/{main_pid()}/cgroup").read_text()
    assert "/ai.slice/plano.service" in cgroup, cgroup
    return cgroup.strip()


@check("chat completion reaches the fake vLLM with the key from the 0400 env file")
def _() -> str:
    reply = chat()
    content = str(reply["choices"][0]["message"]["content"])
    assert content == "fake-vllm saw qwen2.5-coder-14b-instruct", content
    last = json.loads(Path("/var/lib/private/fake-vllm/requests.jsonl").read_text().splitlines()[-1])
    assert last == {"model": "qwen2.5-coder-14b-instruct", "authorized": True}, last
    return content


@check("the key never reaches the journal")
def _() -> str:
    assert KEY not in sh("journalctl", "--no-pager", "-o", "cat"), "key found in the journal"
    return "absent"


@check("listens on loopback only")
def _() -> str:
    lines = [line.split() for line in sh("ss", "-Htln").splitlines() if line.strip()]
    mine = [cols[3] for cols in lines if cols[3].endswith(":12000")]
    assert mine and all(a.startswith("127.0.0.1:") for a in mine), mine
    return ", ".join(mine)


@check("DynamicUser owns and writes the nested state directory")
def _() -> str:
    pid = main_pid()
    uid = Path(f"/proc/{pid}").stat().st_uid
    assert uid >= 61184, f"uid {uid} is not a dynamic user"
    wait_for(lambda: (STATE / "route-decisions.jsonl").exists(), 10, "the ledger in the state directory")
    state = owner(STATE)
    assert state.startswith(f"{uid}:") and state.endswith("0o700"), state
    assert os.path.realpath("/var/lib/plano/state") == str(STATE), os.readlink("/var/lib/plano/state")
    return f"uid {uid}, {STATE} {state}, ledger written"


@check("executable and venv under /var/lib/plano stay root's after start")
def _() -> str:
    found = sh("find", "/var/lib/plano", "-xdev", "!", "-user", "0", "-print").split()
    assert owner(Path("/var/lib/plano")) == "0:0 0o755" and found == [], found
    return f"/var/lib/plano {owner(Path('/var/lib/plano'))}, planoai {owner(EXTERNAL_EXE)}"


@check("hardening in force as rendered (systemctl show)")
def _() -> str:
    wrong = {k: (prop(k), v) for k, v in EXPECTED["show"].items() if prop(k) != v}
    assert not wrong, wrong
    status = Path(f"/proc/{main_pid()}/status").read_text()
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    assert fields["NoNewPrivs"].strip() == "1" and fields["Seccomp"].strip() == "2", status
    assert int(fields["CapEff"], 16) == 0 and int(fields["CapBnd"], 16) == 0, status
    return f"{len(EXPECTED['show'])} properties; NoNewPrivs=1 Seccomp=2 CapEff=0 CapBnd=0"


def resolve_sets() -> dict[str, set[str]]:
    """`systemd-analyze syscall-filter` groups with nested @groups expanded."""
    groups: dict[str, list[str]] = {}
    current = ""
    for line in sh("systemd-analyze", "syscall-filter", "--no-pager").splitlines():
        if line.startswith("@"):
            current = line.split()[0]
            groups[current] = []
        elif line.startswith(" ") and current and line.strip() and not line.strip().startswith("#"):
            groups[current].append(line.strip())

    def expand(name: str, seen: frozenset[str] = frozenset()) -> set[str]:
        out: set[str] = set()
        for item in groups.get(name, []):
            out |= expand(item, seen | {name}) if item.startswith("@") and item not in seen else {item}
        return out

    return {name: expand(name) for name in groups}


def resolvable(name: str) -> bool:
    libseccomp = ctypes.CDLL("libseccomp.so.2")
    return int(libseccomp.seccomp_syscall_resolve_name(name.encode())) >= 0


@check("SystemCallFilter is exactly @system-service minus @privileged, EPERM, native")
def _() -> str:
    sets = resolve_sets()
    shown = set(prop("SystemCallFilter").split())
    allowed = sets["@system-service"] - sets["@privileged"]
    # Names this systemd lists but the guest's libseccomp/kernel cannot resolve are never in the filter.
    missing = {name for name in allowed - shown if resolvable(name)}
    extra, privileged = shown - allowed, shown & sets["@privileged"]
    assert not missing and not extra and not privileged, (sorted(missing)[:8], sorted(extra)[:8], sorted(privileged)[:8])
    errno, archs = prop("SystemCallErrorNumber"), prop("SystemCallArchitectures")
    assert errno in ("EPERM", str(EPERM)) and archs == "native", (errno, archs)
    return f"{len(shown)} syscalls allowed = @system-service - @privileged"


@check("/metrics serves plano_* under ProcSubset=pid; systemd accounts memory and CPU")
def _() -> str:
    status, text = request("GET", "/metrics")
    assert status == 200 and "plano_" in text, (status, str(text)[:200])
    memory, cpu = int(prop("MemoryCurrent")), int(prop("CPUUsageNSec"))
    assert memory > 0 and cpu > 0, (memory, cpu)
    return f"plano_* served; MemoryCurrent={memory >> 20} MiB, CPUUsageNSec={cpu / 1e9:.1f}s"


@check("live systemd-analyze security score <= 2.0")
def _() -> str:
    out = sh("systemd-analyze", "security", "--no-pager", "plano.service")
    match = re.search(r"Overall exposure level for plano\.service: (\d+\.\d+)", out)
    assert match and float(match.group(1)) <= MAX_EXPOSURE, out[-400:]
    return f"exposure {match.group(1)}"


@check("journald gets the gateway's logs")
def _() -> str:
    log = journal()
    assert "listening on 127.0.0.1:12000" in log, log[-300:] or "nothing logged"
    return "'listening on 127.0.0.1:12000' in journalctl -u plano"


@check("systemctl reload returns only after the new config serves (x5, same PID)")
def _() -> str:
    pid, mark = main_pid(), cursor()
    for i in range(5):
        write_config([f"openai/reload-{i}"])
        sh("systemctl", "reload", "plano.service")
        seen = models()
        assert f"openai/reload-{i}" in seen, f"round {i}: reload returned before the new config served"
    assert main_pid() == pid and prop("ActiveState") == "active"
    log = journal(mark)
    assert log.count("reload: configuration applied") == 5, log[-300:]
    return f"5/5 new models listed as soon as reload returned; PID {pid} kept"


@check("a broken reload keeps serving the old config")
def _() -> str:
    pid, mark = main_pid(), cursor()
    CONFIG.write_text("version: v0.4.0\nlisteners: [ {name: broken\n")
    sh("systemctl", "reload", "plano.service")
    assert main_pid() == pid and prop("ActiveState") == "active"
    assert "openai/reload-4" in models() and http_status() == 200
    assert "reload rejected" in journal(mark)
    write_config([])
    sh("systemctl", "reload", "plano.service")
    return "rejected, still serving, same PID"


@check("a reload keeps an in-flight stream alive")
def _() -> str:
    pid = main_pid()
    chunks: list[str] = []
    done = threading.Event()

    def stream() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", 12000, timeout=30)
        body = json.dumps({"model": MODEL, "stream": True, "messages": [{"role": "user", "content": "hi"}]})
        conn.request("POST", "/v1/chat/completions", body, {"content-type": "application/json"})
        response = conn.getresponse()
        for raw in response:
            line = raw.decode().strip()
            if line.startswith("data: "):
                chunks.append(line[6:])
        done.set()

    thread = threading.Thread(target=stream, daemon=True)
    thread.start()
    wait_for(lambda: len(chunks) >= 2, 15, "the first chunks")
    at = len(chunks)
    write_config(["openai/during-stream"])
    sh("systemctl", "reload", "plano.service")
    assert "openai/during-stream" in models()
    thread.join(30)
    assert done.is_set() and chunks and chunks[-1] == "[DONE]", chunks[-3:]
    assert len(chunks) == 18 and main_pid() == pid, (len(chunks), main_pid(), pid)
    return f"reloaded after chunk {at}; all 16 chunks + finish + [DONE] arrived"


@check("the watchdog is fed (30 s)")
def _() -> str:
    assert prop("WatchdogUSec") == "30s", prop("WatchdogUSec")
    first = prop("WatchdogTimestampMonotonic")
    wait_for(lambda: prop("WatchdogTimestampMonotonic") != first, 20, "a WATCHDOG=1 ping")
    assert prop("NRestarts") == "0"
    return "WatchdogTimestamp advanced; NRestarts=0"


@check("the watchdog kills and restarts a SIGSTOPped daemon")
def _() -> str:
    pid, mark = main_pid(), cursor()
    os.kill(pid, 19)  # SIGSTOP
    took = wait_for(lambda: int(prop("MainPID")) not in (0, pid) and prop("ActiveState") == "active", 100,
                    "a new PID")
    assert "Watchdog timeout" in sh("journalctl", "--no-pager", "--after-cursor", mark, "-u", "plano.service")
    assert http_status() == 200
    return f"restarted {took:.0f}s after SIGSTOP (Result=watchdog), serving again"


@check("no seccomp denial or kill in the journal")
def _() -> str:
    kernel = sh("journalctl", "-k", "--no-pager", "-o", "cat", check=False)
    denials = [line for line in kernel.splitlines() if "type=1326" in line]  # audit: seccomp action
    assert not denials, denials[:3]
    assert "SIGSYS" not in journal()
    return "no audit type=1326 / SIGSYS"


@check("stop compute.target stops plano and vllm")
def _() -> str:
    sh("systemctl", "stop", "compute.target")
    took = wait_for(lambda: {prop("ActiveState"), prop("ActiveState", "vllm.service")} == {"inactive"}, 60,
                    "plano and vllm to stop")
    assert http_status() is None
    return f"both inactive {took:.1f}s after the target's stop returned (drain), :12000 closed"


@check("package runtime: missing executable fails closed (ExecStartPre, never active)")
def _() -> str:
    reset()
    sh("systemctl", "reset-failed", check=False)
    return fails_closed(PACKAGE_EXE)


# ---------------------------------------------------------------- external runtime (the seed's default)

@check("external runtime: the seed's default /var/lib/plano/venv/bin/planoai serves, owner unchanged")
def _() -> str:
    install_unit("external")
    tree = ("find", "/var/lib/plano", "-xdev", "!", "-path", "/var/lib/plano/state", "-printf", "%p %u:%g %m\n")
    before = sh(*tree)
    try:
        sh("systemctl", "start", "compute.target")
        wait_for(lambda: http_status() == 200, 90, "/healthz via the external runtime")
        assert prop("Type") == "simple" and chat()["choices"][0]["message"]["content"].startswith("fake-vllm saw")
        after = sh(*tree)
    finally:
        reset()
    assert sorted(before.splitlines()) == sorted(after.splitlines()), (before, after)
    return f"{EXTERNAL_EXE} {owner(EXTERNAL_EXE)}, tree unchanged"


@check("external runtime: missing executable fails closed (ExecStartPre, never active)")
def _() -> str:
    return fails_closed(EXTERNAL_EXE)


@check("external runtime: a venv the service user owns is refused (old StateDirectory=plano)")
def _() -> str:
    venv = EXTERNAL_EXE.parent.parent
    sh("chown", "-R", "61999:61999", str(venv))
    try:
        mark = cursor()
        sh("systemctl", "start", "compute.target", check=False)
        time.sleep(3)
        assert prop("ActiveEnterTimestampMonotonic") == "0" and prop("ExecMainPID") == "0"
        log = journal(mark)
        # PrivateUsers=yes shows a uid foreign to the service as nobody (65534); either way not root.
        assert "planoai is owned by uid" in log and "not root" in log, log[-300:]
        return "ExecStartPre refused it: " + str(re.findall(r"is owned by uid \d+, not root", log)[0])
    finally:
        reset()
        sh("chown", "-R", "0:0", str(venv))


def main() -> None:
    sh("dmesg", "-n", "1", check=False)  # keep kernel messages from splitting the result lines
    emit("PLANO-VM-PLAN", {"checks": len(CHECKS), "uptime": uptime()})
    failed = 0
    for name, fn in CHECKS:
        start = time.monotonic()
        try:
            detail, ok = fn(), True
        except Exception as exc:  # a check that crashes is a failed check, and the rest still run
            detail, ok = f"{type(exc).__name__}: {exc}", False
        failed += not ok
        emit("PLANO-VM-CHECK", {"name": name, "ok": ok, "detail": detail[:300],
                                "seconds": round(time.monotonic() - start, 2)})
    if failed:  # the units' own words, for the console log
        for line in sh("journalctl", "-u", "plano.service", "-u", "vllm.service", "-n", "60", "--no-pager",
                       "-o", "short-monotonic", check=False).splitlines():
            print(f"PLANO-VM-LOG {line}", flush=True)
    emit("PLANO-VM-DONE", {"passed": len(CHECKS) - failed, "failed": failed, "uptime": uptime()})


def uptime() -> float:
    return float(Path("/proc/uptime").read_text().split()[0])


main()

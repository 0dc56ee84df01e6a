"""The processes a benchmark runs: the fake upstream, plano-daemon and (optionally) a LiteLLM proxy.

Each is a subprocess on 127.0.0.1, started with its time to ready measured, and watched for memory
(peak RSS of its process tree, sampled) and CPU time (from /proc), so the numbers describe the target
and not the benchmark. Every process is stopped by `Fleet.close`, also when the benchmark fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from loadgen import API_KEY

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
OUT = HERE / "out"
PERF_VENV = HERE / ".venv"
MODEL_ALIAS = "local-code"
MODEL = "openai/bench-model"
#: The bare aiohttp pass-through every figure is compared with (issue 12).
FLOOR = "aiohttp-floor"
_CLK_TCK = os.sysconf("SC_CLK_TCK")
_PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def write_gateway_config(path: Path, upstream_port: int, extra: dict[str, object] | None = None) -> Path:
    """The benchmark's gateway config: one provider on the fake upstream, reached through an alias (so the
    model id in the body is rewritten); `extra` adds top-level keys."""
    path.write_text(yaml.safe_dump({
        **(extra or {}),
        "version": "v0.4.0",
        "listeners": [{"type": "model", "name": "bench", "address": "127.0.0.1", "port": 0, "timeout": "120s"}],
        "model_providers": [{"model": MODEL, "access_key": "sk-bench-upstream", "default": True,
                             "base_url": f"http://127.0.0.1:{upstream_port}/v1"}],
        "model_aliases": {MODEL_ALIAS: {"target": MODEL}},
    }, sort_keys=False))
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tree(pid: int) -> list[int]:
    """`pid` and all its descendants (LiteLLM may run workers as children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                todo += [int(c) for c in Path(f"/proc/{p}/task/{task}/children").read_text().split()]
        except OSError:
            continue
    return out


def rss_mb(pid: int) -> float:
    total = 0
    for p in tree(pid):
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * _PAGE_KB
        except (OSError, IndexError):
            continue
    return total / 1024


def cpu_seconds(pid: int) -> float:
    total = 0.0
    for p in tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / _CLK_TCK
        except (OSError, IndexError):
            continue
    return total


def cpu_ns(pid: int) -> int:
    """Nanoseconds on a CPU of `pid`'s threads and its descendants' (the scheduler's own count: /proc's
    user and system times move in whole clock ticks, 2 % of a 4 s share of one CPU)."""
    total = 0
    for p in tree(pid):
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                total += int(Path(f"/proc/{p}/task/{task}/schedstat").read_text().split()[0])
            except (OSError, IndexError, ValueError):
                continue
    return total


def pin(pid: int, cpus: set[int]) -> None:
    """Run `pid`'s threads and its descendants' on `cpus` (threads started later inherit it)."""
    for p in tree(pid):
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                os.sched_setaffinity(int(task), cpus)
        except OSError:
            continue


@dataclass
class Target:
    """A running process under test: where it listens and what it has cost so far."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    ready_s: float | None
    path: str = "/v1/chat/completions"
    peak_rss_mb: float = 0.0
    _sampler: threading.Thread | None = field(default=None, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)

    def watch(self) -> None:
        """Sample the tree's RSS every 50 ms until stopped; the peak survives the process."""
        def loop() -> None:
            while not self._stop.wait(0.05):
                if self.proc.poll() is not None:
                    return
                self.peak_rss_mb = max(self.peak_rss_mb, rss_mb(self.proc.pid))
        self._sampler = threading.Thread(target=loop, daemon=True)
        self._sampler.start()

    def rss_mb(self) -> float:
        return rss_mb(self.proc.pid)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.proc.pid)

    def cpu_ns(self) -> int:
        return cpu_ns(self.proc.pid)

    def pin(self, cpus: set[int]) -> None:
        pin(self.proc.pid, cpus)

    def stop(self) -> None:
        self._stop.set()
        if self._sampler is not None:
            self._sampler.join()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Fleet:
    """Owns every process it started; `close` stops them in reverse order. The gateway runs on
    `gateway_python` (the project's .venv unless told otherwise)."""

    def __init__(self, gateway_python: Path = REPO / ".venv/bin/python") -> None:
        self.targets: list[Target] = []
        self.gateway_python = gateway_python
        self._compiled: set[Path] = set()
        OUT.mkdir(exist_ok=True)
        shutil.rmtree(OUT / "state", ignore_errors=True)  # earlier runs' route ledgers (up to 300 MB each)

    def upstream(self, *, chunks: int, gap_ms: float = 0.0) -> Target:
        return self._announced("direct", [sys.executable, str(HERE / "fake_upstream.py"), "--chunks", str(chunks),
                                          "--gap-ms", str(gap_ms)], "upstream.log", timed=False)

    def floor(self, upstream_port: int, *, python: Path | None = None) -> Target:
        """The bare aiohttp pass-through (`floor_proxy.py`) on the gateway's interpreter, so both run the same
        aiohttp and event loop."""
        return self._announced(FLOOR, [str(python or self.gateway_python), str(HERE / "floor_proxy.py"),
                                       "--upstream-port", str(upstream_port)], "floor.log", timed=True)

    def _announced(self, name: str, cmd: list[str], log_name: str, *, timed: bool) -> Target:
        """A helper process that prints `PORT <n>` once listening; `timed`: record its start → ready."""
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(OUT / log_name, "wb"))
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        if not line.startswith("PORT "):
            proc.kill()
            raise RuntimeError(f"{name} did not start: {line!r}; see {OUT / log_name}")
        return self._add(Target(name, proc, int(line.split()[1]), time.perf_counter() - started if timed else None))

    def gateway(self, upstream_port: int, *, log_name: str = "gateway.log", timeout: float = 15.0,
                extra: dict[str, object] | None = None, args: tuple[str, ...] = (), log: bool = True,
                root: Path = REPO, name: str = "plano-daemon") -> Target:
        """plano-daemon serve, ready when it sends READY=1 on a NOTIFY_SOCKET we own (as systemd would).
        `extra` adds top-level config keys, `args` serve options, `root` another source tree (for A/B runs)."""
        config = write_gateway_config(OUT / "gateway.yaml", upstream_port, extra)
        if root not in self._compiled:  # as installed (pip, Nix): with bytecode, also where the environment
            # sets PYTHONDONTWRITEBYTECODE (then every start would compile the whole package first)
            subprocess.run([str(self.gateway_python), "-m", "compileall", "-q", str(root / "plano_daemon")],
                           check=True, stdout=subprocess.DEVNULL)
            self._compiled.add(root)
        sock_dir = tempfile.mkdtemp(prefix="plano-bench-")
        sock_path = os.path.join(sock_dir, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(sock_path)
        sock.settimeout(timeout)
        state = OUT / "state"
        env = {**os.environ, "NOTIFY_SOCKET": sock_path, "STATE_DIRECTORY": str(state),
               "CACHE_DIRECTORY": str(state)}
        env.pop("JOURNAL_STREAM", None)
        started = time.perf_counter()
        proc = subprocess.Popen([str(self.gateway_python), "-m", "plano_daemon", "serve", "--config",
                                 str(config), *args], cwd=root, env=env, stdout=subprocess.DEVNULL,
                                stderr=open(OUT / log_name, "wb") if log else subprocess.DEVNULL)
        try:
            while True:
                msg = sock.recv(4096).decode()
                if "READY=1" in msg:
                    break
        except TimeoutError:
            proc.kill()
            raise RuntimeError(f"gateway not ready in {timeout}s; see {OUT / log_name}") from None
        finally:
            sock.close()
            os.unlink(sock_path)
            os.rmdir(sock_dir)
        ready = time.perf_counter() - started
        status = next(x for x in msg.splitlines() if x.startswith("STATUS="))
        port = int(status.split("listening on ", 1)[1].split(";")[0].split(",")[0].rsplit(":", 1)[1])
        return self._add(Target(name, proc, port, ready))

    def litellm(self, upstream_port: int, *, timeout: float = 120.0) -> Target:
        """LiteLLM proxy (its own virtualenv), one worker, no retries, ready when /health/liveliness answers."""
        exe = PERF_VENV / "bin/litellm"
        if not exe.exists():
            raise FileNotFoundError(f"{exe} is missing: run tests/perf/setup.sh")
        config = OUT / "litellm.yaml"
        config.write_text(yaml.safe_dump({
            "model_list": [{"model_name": MODEL_ALIAS, "litellm_params": {
                "model": MODEL, "api_base": f"http://127.0.0.1:{upstream_port}/v1",
                "api_key": "sk-bench-upstream"}}],
            "litellm_settings": {"num_retries": 0, "request_timeout": 120, "telemetry": False},
            "general_settings": {"master_key": API_KEY},
        }, sort_keys=False))
        port = free_port()
        env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False",
               "DISABLE_SCHEMA_UPDATE": "True", "NO_DOCS": "True"}
        started = time.perf_counter()
        proc = subprocess.Popen([str(exe), "--config", str(config), "--host", "127.0.0.1", "--port", str(port),
                                 "--num_workers", "1"], env=env, stdout=subprocess.DEVNULL,
                                stderr=open(OUT / "litellm.log", "wb"))
        deadline = started + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"litellm exited with {proc.returncode}; see {OUT / 'litellm.log'}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/liveliness", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.perf_counter() > deadline:
                proc.kill()
                raise RuntimeError(f"litellm not ready in {timeout}s; see {OUT / 'litellm.log'}")
            time.sleep(0.02)
        return self._add(Target("litellm", proc, port, time.perf_counter() - started))

    def _add(self, target: Target) -> Target:
        target.watch()
        self.targets.append(target)
        return target

    def close(self) -> None:
        for target in reversed(self.targets):
            target.stop()
        self.targets.clear()

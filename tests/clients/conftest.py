"""The real clients' harness: the pinned installs, a strict fake LLM per upstream interface, the gateway in
front of it, and a sandbox for each client run (HOME in tmp, updates and telemetry off, loopback only)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.clients import install
from tests.conftest import CLIENT_KEY, GatewayFactory, RunningGateway
from tests.fakes.strict_llm import Planner, StrictLLM

#: The served model, as vLLM names it and as the upstream must receive it (bare, no provider prefix).
MODEL = "qwen3-coder-30b"
UPSTREAM_KEY = "sk-upstream-configured-key"
MAX_MODEL_LEN = 65536  # a local vLLM's context window as its /v1/models reports it (Hermes requires 64K)
RUN_TIMEOUT = 120.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here runs a real client (marker `clients`), except the fake's own rules."""
    for item in items:
        where = str(item.path).replace(os.sep, "/")
        if "tests/clients/" in where and not where.endswith("/test_strict_llm.py"):
            item.add_marker(pytest.mark.clients)
            item.add_marker(pytest.mark.timeout(600))  # a first run installs the clients (minutes)


@pytest.fixture(scope="session")
def clients_dir() -> Path:
    """The pinned clients, installed once per machine (CI installs them first with install.py)."""
    if install.installed():
        return install.client_dir()
    if shutil.which("npm") is None:
        if os.environ.get("CI"):
            pytest.fail("npm is missing: .ci/run installs it")
        pytest.skip("npm is missing (apt-get install nodejs npm), cannot install the real clients")
    return install.install()


@dataclass
class Blackhole:
    """A proxy that refuses everything and remembers who asked: a client that tries the internet shows here."""
    port: int = 0
    attempts: list[str] = field(default_factory=list)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        line = await reader.readline()
        self.attempts.append(line.decode(errors="replace").strip())
        writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()


@pytest.fixture
async def blackhole(request: pytest.FixtureRequest) -> AsyncIterator[Blackhole]:
    hole = Blackhole()
    server = await asyncio.start_server(hole._serve, "127.0.0.1", 0)
    hole.port = server.sockets[0].getsockname()[1]
    yield hole
    server.close()
    await server.wait_closed()
    capture = os.environ.get("PLANO_CLIENTS_CAPTURE")
    if capture:
        Path(capture).mkdir(parents=True, exist_ok=True)
        (Path(capture) / f"{request.node.name}-internet.json").write_text(json.dumps(hole.attempts, indent=1))


@dataclass
class Sandbox:
    """Where a client runs: its HOME, its working directory (where its tool writes), its environment."""
    home: Path
    work: Path
    env: dict[str, str]


@pytest.fixture
def sandbox(tmp_path: Path, clients_dir: Path, blackhole: Blackhole) -> Sandbox:
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir(parents=True)
    for sub in (".config", ".cache", ".local/share", ".local/state"):
        (home / sub).mkdir(parents=True)
    proxy = f"http://127.0.0.1:{blackhole.port}"
    path = os.pathsep.join([str(clients_dir / "npm" / "node_modules" / ".bin"), str(clients_dir / "hermes" / "bin"),
                            os.environ.get("PATH", "/usr/bin:/bin")])
    env = {
        "PATH": path, "HOME": str(home), "USER": "tester", "LANG": "C.UTF-8", "TERM": "dumb", "NO_COLOR": "1",
        "XDG_CONFIG_HOME": str(home / ".config"), "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local/share"), "XDG_STATE_HOME": str(home / ".local/state"),
        "TMPDIR": str(tmp_path),
        # loopback only: anything else goes to the blackhole proxy, which refuses and records it
        "HTTP_PROXY": proxy, "HTTPS_PROXY": proxy, "ALL_PROXY": proxy,
        "http_proxy": proxy, "https_proxy": proxy, "all_proxy": proxy,
        "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
    }
    return Sandbox(home=home, work=work, env=env)


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout[-4000:]}\n--- stderr\n{self.stderr[-4000:]}"


async def run_client(argv: list[str], box: Sandbox, *, stdin: str | None = None,
                     timeout: float = RUN_TIMEOUT) -> Finished:
    """Run a client to completion without blocking the event loop the gateway and the fake serve on."""
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=box.work, env=box.env,
        stdin=asyncio.subprocess.DEVNULL if stdin is None else asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True)
    try:
        out, err = await asyncio.wait_for(proc.communicate(None if stdin is None else stdin.encode()), timeout)
    except TimeoutError:  # the whole group: npm's launchers leave the real binary as a child
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = await proc.communicate()
        return Finished(-9, out.decode(errors="replace"), err.decode(errors="replace") + "\n[timed out]")
    assert proc.returncode is not None
    return Finished(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"))


@dataclass
class Stack:
    """A strict fake LLM, and the gateway configured in front of it."""
    llm: StrictLLM
    gateway: RunningGateway
    interface: str  # "chat" or "anthropic"


StackFactory = Callable[..., Awaitable[Stack]]


@pytest.fixture
async def stack(aiohttp_server: Any, gateway: GatewayFactory,
                request: pytest.FixtureRequest) -> AsyncIterator[StackFactory]:
    """`await stack(interface, plan, aliases=..., provider=...)`: the fake LLM behind the real gateway.

    With `PLANO_CLIENTS_CAPTURE=<dir>`, every request the fake received is written there as JSON (what the
    real clients send, for study)."""
    made: list[Stack] = []

    async def make(interface: str, plan: Planner, *, aliases: dict[str, str] | None = None,
                   **provider: Any) -> Stack:
        llm = StrictLLM(model=MODEL, key=UPSTREAM_KEY, plan=plan, max_model_len=MAX_MODEL_LEN)
        server = await aiohttp_server(llm.app())
        llm.url = str(server.make_url("")).rstrip("/")
        prefix = "vllm" if interface == "chat" else "anthropic"
        entry = {"model": f"{prefix}/{MODEL}", "base_url": llm.base_url, "access_key": UPSTREAM_KEY,
                 "default": True, **provider}
        cfg: dict[str, Any] = {
            "version": "v0.4.0",
            "listeners": [{"type": "model", "name": "clients", "address": "127.0.0.1", "port": 0}],
            "model_providers": [entry]}
        if aliases:
            cfg["model_aliases"] = {name: {"target": target} for name, target in aliases.items()}
        made.append(Stack(llm=llm, gateway=await gateway(cfg), interface=interface))
        return made[-1]
    yield make
    capture = os.environ.get("PLANO_CLIENTS_CAPTURE")
    if capture:
        Path(capture).mkdir(parents=True, exist_ok=True)
        for i, st in enumerate(made):
            dump = [{"method": e.method, "path": e.path, "headers": e.headers, "body": e.body, "outcome": e.outcome}
                    for e in st.llm.received]
            (Path(capture) / f"{request.node.name}-{i}.json").write_text(json.dumps(dump, indent=1))


def assert_round_trip(stack: Stack, finished: Finished, written: Path, expected: str) -> None:
    """The effect and what the upstream saw: our call, its result sent back, the final answer, the configured
    key on every request, the bare model id, no refusal, and never the client's key."""
    llm = stack.llm
    assert not llm.errors(), f"the strict upstream refused requests: {llm.errors()}\n{finished}"
    assert written.is_file(), f"the client's tool did not write {written}\n{finished}"
    assert expected in written.read_text()
    calls = llm.tool_calls()
    assert calls, f"the upstream was never offered the tool it plans to call\n{finished}"
    call_id = calls[0].call_id
    assert call_id is not None and llm.answered(call_id), f"no tool result came back for {call_id}"
    assert any(e.outcome == "final" for e in llm.generations())
    for e in llm.generations():
        assert e.body["model"] == MODEL
        assert CLIENT_KEY not in str(e.headers) and CLIENT_KEY not in str(e.body)
    assert finished.returncode == 0, str(finished)

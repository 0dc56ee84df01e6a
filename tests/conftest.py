"""Factories for socket tests: fake upstreams, a real gateway, SDK clients; all on 127.0.0.1, closed in reverse."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anthropic
import openai
import pytest
import yaml

from plano_daemon.config.load import LoadedConfig, load_config
from plano_daemon.runtime import build_gateway
from plano_daemon.server import Server
from plano_daemon.systemd_notify import Notifier
from tests.fakes.upstream import FakeUpstream

FIXTURES = Path(__file__).parent / "fixtures"
CLIENT_KEY = "sk-client-key-that-must-never-reach-upstream"


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a daemon subprocess: ours (PATH, and PYTHONPATH under Nix's check phase) without
    anything that would change its behaviour (systemd's variables, the user's policy profile, secrets)."""
    dropped = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "STATE_DIRECTORY",
               "CACHE_DIRECTORY", "MODEL_ROUTER_CONFIG_HOME", "MODEL_ROUTER_PROFILE", "JOURNAL_STREAM")
    env = {k: v for k, v in os.environ.items() if k not in dropped and not k.endswith("_API_KEY")}
    return {**env, **extra}


def provider(model: str, upstream: FakeUpstream, **extra: Any) -> dict[str, Any]:
    """A model_providers entry pointing at a fake upstream."""
    return {"model": model, "base_url": upstream.base_url, "access_key": f"key-for-{model}", **extra}


def config(*providers: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A minimal v0.4.0 config with one loopback listener on a free port."""
    return {"version": "v0.4.0",
            "listeners": [{"type": "model", "name": "test", "address": "127.0.0.1", "port": 0}],
            "model_providers": list(providers), **extra}


@dataclass
class RunningGateway:
    server: Server
    url: str

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def accounted(self) -> None:
        """Account for every answered request now (metrics, access line, ledger record): the gateway does
        it in batches, 2 ms after a request ends."""
        self.server.gateway.services.accounting.drain()


SDKClient = TypeVar("SDKClient", openai.AsyncOpenAI, anthropic.AsyncAnthropic)
FakeFactory = Callable[..., Awaitable[FakeUpstream]]
GatewayFactory = Callable[..., Awaitable[RunningGateway]]


@pytest.fixture(autouse=True)
def state_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own $STATE_DIRECTORY: the route ledger never lands in the user's home."""
    state = tmp_path / "state"
    monkeypatch.setenv("STATE_DIRECTORY", str(state))
    return state


@pytest.fixture(autouse=True)
def no_users_policy_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    """The user's shell sets MODEL_ROUTER_*: a test gets a policy profile only when it asks for one."""
    monkeypatch.delenv("MODEL_ROUTER_CONFIG_HOME", raising=False)
    monkeypatch.delenv("MODEL_ROUTER_PROFILE", raising=False)


@pytest.fixture
async def fake_upstream(aiohttp_server: Any) -> FakeFactory:
    async def make(name: str = "upstream") -> FakeUpstream:
        fake = FakeUpstream(name)
        server = await aiohttp_server(fake.app())
        fake.url = str(server.make_url("")).rstrip("/")
        return fake
    return make


def load_text(text: str, env: dict[str, str] | None = None) -> LoadedConfig:
    return load_config(None, text=text, environ=env or {})


@pytest.fixture
async def gateway() -> AsyncIterator[GatewayFactory]:
    started: list[Server] = []

    async def make(cfg: dict[str, Any] | str, *, env: dict[str, str] | None = None,
                   notifier: Notifier | None = None) -> RunningGateway:
        text = cfg if isinstance(cfg, str) else yaml.safe_dump(cfg, sort_keys=False)
        server = Server(gateway=build_gateway(load_text(text, env)),
                        loader=lambda: load_text(text, env), notifier=notifier or Notifier({}))
        await server.start()
        started.append(server)
        _, port = server.addresses[0]
        return RunningGateway(server=server, url=f"http://127.0.0.1:{port}")

    yield make
    for server in reversed(started):
        await server.stop()


@contextlib.asynccontextmanager
async def _closing(build: Callable[..., SDKClient]) -> AsyncIterator[Callable[..., SDKClient]]:
    """A factory of SDK clients that closes every client it made, in reverse."""
    clients: list[SDKClient] = []

    def make(gw: RunningGateway, **kw: Any) -> SDKClient:
        client = build(gw, **kw)
        clients.append(client)
        return client

    try:
        yield make
    finally:
        for client in reversed(clients):
            await client.close()


@pytest.fixture
async def openai_client() -> AsyncIterator[Callable[..., openai.AsyncOpenAI]]:
    async with _closing(lambda gw, **kw: openai.AsyncOpenAI(
            base_url=gw.base_url, api_key=CLIENT_KEY, max_retries=0, **kw)) as make:
        yield make


@pytest.fixture
async def anthropic_client() -> AsyncIterator[Callable[..., anthropic.AsyncAnthropic]]:
    async with _closing(lambda gw, **kw: anthropic.AsyncAnthropic(
            base_url=gw.url, api_key=CLIENT_KEY, max_retries=0, **kw)) as make:
        yield make

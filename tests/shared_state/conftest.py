"""A real redis-server (Debian's package) on a free loopback port in a temp dir, started and stopped here.

Missing redis-server: skipped locally, a failure under CI=true (.ci/run installs it).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from tests.conftest import RunningGateway


class RedisServer:
    """One redis-server process; `stop` and `start` again keep the port (the gateways' URL stays valid)."""

    def __init__(self, binary: str, workdir: Path) -> None:
        self.binary, self.workdir = binary, workdir
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir),
             "--save", "", "--appendonly", "no", "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start within 10 s")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None

    def client(self) -> aioredis.Redis:
        return aioredis.Redis.from_url(self.url, decode_responses=True)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is not installed (apt-get install redis-server)")
        pytest.skip("redis-server is not installed")
    server = RedisServer(binary, tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def redis_client(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    client = redis_server.client()
    try:
        yield client
    finally:
        await client.aclose()


async def readyz(gw: RunningGateway) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(gw.url + "/readyz") as resp:
        body: dict[str, Any] = await resp.json()
        assert resp.status == 200
        return body


async def until_shared(gw: RunningGateway, up: bool, timeout: float = 10.0) -> None:
    """Wait until the gateway's /readyz says the shared store is up (or down)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (await readyz(gw))["shared_state"].get("up") is up:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"/readyz never said shared_state.up={up}")


async def eventually(check: Any, timeout: float = 5.0) -> None:
    """Wait (bounded) for another instance's announcement to arrive."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the announcement did not arrive in time")
        await asyncio.sleep(0.02)

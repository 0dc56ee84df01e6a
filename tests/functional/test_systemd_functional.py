"""`plano-daemon serve` as systemd runs it: a real NOTIFY_SOCKET datagram socket, real signals."""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import yaml
from aiohttp import web

from tests.conftest import child_env, config, provider
from tests.fakes.upstream import chat_completion


@dataclass
class Daemon:
    proc: asyncio.subprocess.Process
    notify: socket.socket
    config_path: Path
    messages: list[str]

    async def next_message(self, timeout: float = 15.0) -> str:
        loop = asyncio.get_running_loop()
        data = await asyncio.wait_for(loop.sock_recv(self.notify, 4096), timeout)
        text = data.decode()
        self.messages.append(text)
        return text

    async def wait_for(self, needle: str, timeout: float = 15.0) -> str:
        async with asyncio.timeout(timeout):
            while True:
                msg = await self.next_message(timeout)
                if needle in msg.split("\n"):
                    return msg

    @staticmethod
    def port(status_msg: str) -> int:
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", status_msg)
        assert m, status_msg
        return int(m.group(1))


@pytest.fixture
async def daemon(tmp_path: Path, fake_upstream) -> AsyncIterator:
    started: list[Daemon] = []

    async def start(cfg: dict, *, watchdog_usec: int | None = None) -> Daemon:
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(cfg))
        sock_path = tmp_path / "notify.sock"
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(str(sock_path))
        notify.setblocking(False)
        env = child_env(NOTIFY_SOCKET=str(sock_path), STATE_DIRECTORY=str(tmp_path / "state"))
        if watchdog_usec:
            env["WATCHDOG_USEC"] = str(watchdog_usec)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "plano_daemon", "serve", "--config", str(path), env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        d = Daemon(proc=proc, notify=notify, config_path=path, messages=[])
        started.append(d)
        return d

    yield start
    for d in started:
        if d.proc.returncode is None:
            d.proc.kill()
            await d.proc.wait()
        d.notify.close()


async def test_ready_only_when_the_port_accepts_then_watchdog_then_clean_stop(daemon, fake_upstream) -> None:
    up = await fake_upstream()
    d = await daemon(config(provider("openai/m", up)), watchdog_usec=200_000)

    ready = await d.wait_for("READY=1")
    port = Daemon.port(ready)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)  # accepts right now
    writer.close()
    await writer.wait_closed()
    assert "STATUS=listening on 127.0.0.1:" in ready and "1 providers" in ready

    await d.wait_for("WATCHDOG=1", timeout=2)
    await d.wait_for("WATCHDOG=1", timeout=2)

    d.proc.send_signal(signal.SIGTERM)
    await d.wait_for("STOPPING=1")
    assert await asyncio.wait_for(d.proc.wait(), 20) == 0


async def test_sighup_with_a_broken_config_keeps_serving_the_old_one(daemon, fake_upstream) -> None:
    up = await fake_upstream()
    good = config(provider("openai/m", up))
    d = await daemon(good)
    port = Daemon.port(await d.wait_for("READY=1"))
    url = f"http://127.0.0.1:{port}/v1"
    body = {"model": "openai/m", "messages": [{"role": "user", "content": "hi"}]}

    d.config_path.write_text("model_providers: [this is: not valid")
    d.proc.send_signal(signal.SIGHUP)
    await d.wait_for("RELOADING=1")
    after = await d.wait_for("READY=1")
    assert "reload rejected" in after
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{url}/chat/completions", json=body) as resp:
            assert resp.status == 200

    d.config_path.write_text(yaml.safe_dump({**good, "model_aliases": {"added": {"target": "openai/m"}}}))
    d.proc.send_signal(signal.SIGHUP)
    await d.wait_for("RELOADING=1")
    await d.wait_for("READY=1")
    async with aiohttp.ClientSession() as s:
        async with s.get(f"{url}/models") as resp:
            assert "added" in [m["id"] for m in (await resp.json())["data"]]

    d.proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(d.proc.wait(), 20) == 0
    stderr = (await d.proc.stderr.read()).decode()
    assert "reload rejected" in stderr and "Traceback" not in stderr


async def test_sigterm_lets_in_flight_requests_finish(daemon, fake_upstream) -> None:
    up = await fake_upstream()

    async def slow(request: web.Request, rec) -> web.Response:
        await asyncio.sleep(1.0)
        return web.json_response(chat_completion("m", "finished"))

    up.script(slow)
    d = await daemon(config(provider("openai/m", up)))
    port = Daemon.port(await d.wait_for("READY=1"))
    async with aiohttp.ClientSession() as s:
        pending = asyncio.ensure_future(s.post(f"http://127.0.0.1:{port}/v1/chat/completions", json={
            "model": "openai/m", "messages": [{"role": "user", "content": "x"}]}))
        while not up.received:
            await asyncio.sleep(0.02)
        d.proc.send_signal(signal.SIGTERM)
        await d.wait_for("STOPPING=1")
        resp = await pending
        assert resp.status == 200
        assert (await resp.json())["choices"][0]["message"]["content"] == "finished"
        resp.release()
    assert await asyncio.wait_for(d.proc.wait(), 20) == 0


async def test_port_in_use_exits_1_without_ready(daemon, fake_upstream) -> None:
    up = await fake_upstream()
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    try:
        cfg = config(provider("openai/m", up))
        cfg["listeners"][0]["port"] = blocker.getsockname()[1]
        d = await daemon(cfg)
        assert await asyncio.wait_for(d.proc.wait(), 20) == 1
        with pytest.raises(TimeoutError):
            await d.wait_for("READY=1", timeout=0.2)
    finally:
        blocker.close()


async def test_invalid_config_exits_2(daemon) -> None:
    d = await daemon({"version": "v0.4.0", "model_providers": [{"model": "nope"}]})
    assert await asyncio.wait_for(d.proc.wait(), 20) == 2
    assert "model_providers[0].model" in (await d.proc.stderr.read()).decode()

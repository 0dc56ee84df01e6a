"""One live gateway (and a fake upstream) on 127.0.0.1, run in a thread of its own so that hypothesis tests
can talk to it with blocking sockets; every log record it writes is kept for the secret-leak checks."""

from __future__ import annotations

import asyncio
import http.client
import logging
import os
import pathlib
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from aiohttp import web

from plano_daemon.config.load import load_config
from plano_daemon.runtime import build_gateway
from plano_daemon.server import Server
from plano_daemon.systemd_notify import Notifier
from tests.fakes.upstream import FakeUpstream, Received, anthropic_message, chat_completion

#: Distinctive values configured as keys: none may appear in any answer or log line.
SECRETS = ("sk-live-HOSTILE-a1b2c3d4e5f6", "hdr-secret-9z8y7x6w5v")
HEADERS_TIMEOUT = 0.6
BODY_TIMEOUT = 0.6


class Live:
    """The running gateway's port, and what it wrote (log records) and answered (bodies).
    Not a dataclass: hypothesis prints a dataclass argument field by field, records included."""

    def __init__(self, port: int, loop: asyncio.AbstractEventLoop, state: pathlib.Path, records: list[str]) -> None:
        self.port = port
        self.loop = loop
        self.state = state  # $STATE_DIRECTORY when the gateway started: its ledger and budgets
        self.records = records
        self.bodies: list[bytes] = []

    def __repr__(self) -> str:
        return f"Live(port={self.port})"

    def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        answer = self.send(f"GET {path} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n".encode())
        assert answer is not None
        return answer

    def send(self, raw: bytes, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes] | None:
        """Send raw bytes; the parsed response (None when the gateway closed without answering)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            sock.sendall(raw)
            resp = http.client.HTTPResponse(sock)
            try:
                resp.begin()
            except (http.client.RemoteDisconnected, ConnectionResetError):
                return None
            body = resp.read()
            self.bodies.append(body)
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body

    def post(self, path: str, body: bytes, headers: dict[str, str] | None = None
             ) -> tuple[int, dict[str, str], bytes]:
        headers = {"Content-Type": "application/json"} if headers is None else headers
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        raw = (f"POST {path} HTTP/1.1\r\nHost: gw\r\n"
               f"Content-Length: {len(body)}\r\nConnection: close\r\n{head}\r\n").encode() + body
        answer = self.send(raw)
        assert answer is not None, "the gateway closed without answering"
        return answer


async def answer_anything(request: web.Request, rec: Received) -> web.StreamResponse:
    """Whatever the gateway forwards (hostile bodies pass through unchanged), a plain answer: this upstream
    is not under test."""
    if request.path.endswith("/count_tokens"):
        return web.json_response({"input_tokens": 3})
    if request.path.endswith("/messages"):
        return web.json_response(anthropic_message("m", "ok"))
    return web.json_response(chat_completion("m", "ok"))


class _Keep(logging.Handler):
    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.into = into
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(self.format(record))


def hostile_config(upstream_url: str) -> dict[str, Any]:
    return {
        "version": "v0.4.0",
        "listeners": [{"type": "model", "name": "hostile", "address": "127.0.0.1", "port": 0}],
        "model_providers": [
            {"model": "openai/m", "base_url": f"{upstream_url}/v1", "access_key": SECRETS[0], "default": True},
            {"model": "other/m", "base_url": f"{upstream_url}/v1", "provider_interface": "anthropic",
             "headers": {"X-Token": SECRETS[1]}},
        ],
        "routing_preferences": [{"name": "code", "description": "writing code", "models": ["openai/m"]}],
        "dubnium": {"timeouts": {"request_headers": f"{HEADERS_TIMEOUT}s", "request_body": f"{BODY_TIMEOUT}s",
                                 "first_byte": "5s"}},
    }


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    # Module-scoped: set up before the per-test $STATE_DIRECTORY, so it gets one of its own.
    state_dir = tmp_path_factory.mktemp("hostile-state")
    saved_state = os.environ.get("STATE_DIRECTORY")
    os.environ["STATE_DIRECTORY"] = str(state_dir)
    loop = asyncio.new_event_loop()
    started = threading.Event()
    state: dict[str, Any] = {}
    records: list[str] = []
    keep = _Keep(records)
    loggers = [logging.getLogger(name) for name in ("plano_daemon", "aiohttp")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(keep)
        lg.setLevel(logging.DEBUG)

    async def start() -> None:
        fake = FakeUpstream("hostile")
        fake.default = answer_anything
        runner = web.AppRunner(fake.app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        fake.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        text = yaml.safe_dump(hostile_config(fake.url))
        server = Server(gateway=build_gateway(load_config(None, text=text, environ={})),
                        loader=lambda: load_config(None, text=text, environ={}), notifier=Notifier({}))
        await server.start()
        state.update(server=server, runner=runner, port=server.addresses[0][1])
        started.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=run, name="hostile-gateway", daemon=True)
    thread.start()
    assert started.wait(20), "the gateway did not start"
    yield Live(port=state["port"], loop=loop, state=state_dir, records=records)

    async def stop() -> None:
        await state["server"].stop()
        await state["runner"].cleanup()

    asyncio.run_coroutine_threadsafe(stop(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()
    for lg, level in zip(loggers, levels, strict=True):
        lg.removeHandler(keep)
        lg.setLevel(level)
    if saved_state is None:
        os.environ.pop("STATE_DIRECTORY", None)
    else:
        os.environ["STATE_DIRECTORY"] = saved_state

"""One fault-matrix cell end to end on loopback: a faulty fake upstream `a` whose retry policy falls back
to a healthy fake `b` of the same interface, a real gateway, and a raw HTTP client that keeps every byte,
so the test can see event boundaries and the terminal event exactly as an SDK would.

    python -m tests.faults.harness      prints the fault matrix (case × API × interface → what the client saw)
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import yaml
from aiohttp import web

from plano_daemon.config.load import load_config
from plano_daemon.runtime import build_gateway
from plano_daemon.server import Server
from plano_daemon.systemd_notify import Notifier
from tests.fakes.faulty_upstream import MID_FAULTS, START_FAULTS, Position, applies, fault
from tests.fakes.upstream import Behaviour, FakeUpstream

APIS = ("chat", "messages", "responses")
INTERFACES = ("openai", "anthropic")
#: Gateway limits for fault tests: short, so a hang costs well under a second.
FIRST_BYTE = 0.5
STREAM_IDLE = 0.5
PATHS = {"chat": "/v1/chat/completions", "messages": "/v1/messages", "responses": "/v1/responses"}
#: The events that end each client API's stream normally.
NORMAL_END = {"chat": "[DONE]", "messages": "message_stop", "responses": "response.completed"}


@dataclass(frozen=True)
class Cell:
    case: str
    position: Position
    stream: bool
    api: str
    interface: str

    @property
    def id(self) -> str:
        return f"{self.case}-{self.position}-{'stream' if self.stream else 'json'}-{self.api}-{self.interface}"


def cells() -> list[Cell]:
    out = []
    for position, names in (("start", START_FAULTS), ("mid", MID_FAULTS)):
        for case in names:
            for stream in (False, True):
                if not applies(case, position, stream):  # type: ignore[arg-type]
                    continue
                for api in APIS:
                    for interface in INTERFACES:
                        out.append(Cell(case, position, stream, api, interface))  # type: ignore[arg-type]
    return out


@dataclass
class Seen:
    """What the client received, and what the gateway recorded about it."""

    status: int
    body: bytes
    events: list[tuple[str | None, Any]] = field(default_factory=list)  # (event name, parsed data)
    torn: list[bytes] = field(default_factory=list)  # SSE blocks whose data is not JSON: a broken event
    access: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (log level, access line)
    calls: tuple[int, int] = (0, 0)  # requests received by a, b

    @property
    def terminal(self) -> str:
        """The client-visible end of a stream: its normal end event, `error`, or what came last."""
        if not self.events:
            return "nothing"
        name, data = self.events[-1]
        if data == "[DONE]":
            return "[DONE]"
        if name in ("error", "response.failed") or (isinstance(data, dict) and "error" in data
                                                   and "choices" not in data and "type" not in data):
            return f"error event ({name or 'data'})"
        return name or "data"

    def summary(self) -> str:
        via = "b (failed over)" if self.calls == (1, 1) else "a" if self.calls == (1, 0) else f"calls={self.calls}"
        if not self.events:
            try:
                err = json.loads(self.body).get("error")
            except ValueError:
                return f"{self.status} non-JSON body"
            if err:
                code = err.get("code") or err.get("type")
                return f"{self.status} error {code} from {via}"
            return f"{self.status} answer from {via}"
        torn = f", {len(self.torn)} torn" if self.torn else ""
        return f"{self.status} stream from {via}: {len(self.events)} whole events{torn}, ends with {self.terminal}"


def config_text(a: FakeUpstream, b: FakeUpstream, interface: str) -> str:
    def provider(name: str, fake: FakeUpstream, **extra: Any) -> dict[str, Any]:
        return {"model": f"{name}/m", "base_url": fake.base_url, "access_key": f"key-for-{name}",
                "provider_interface": interface, **extra}
    cfg = {"version": "v0.4.0",
           "listeners": [{"type": "model", "name": "t", "address": "127.0.0.1", "port": 0, "timeout": "10s"}],
           "model_providers": [provider("a", a, retry_policy={"fallback_models": ["b/m"]}), provider("b", b)],
           "dubnium": {"timeouts": {"first_byte": f"{FIRST_BYTE}s", "stream_idle": f"{STREAM_IDLE}s"}}}
    return yaml.safe_dump(cfg, sort_keys=False)


def request_body(api: str, stream: bool, model: str = "a/m") -> dict[str, Any]:
    if api == "responses":
        return {"model": model, "input": "hi", "stream": stream}
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    return {**body, "max_tokens": 16} if api == "messages" else body


def parse_sse(raw: bytes) -> tuple[list[tuple[str | None, Any]], list[bytes]]:
    """Events as a client's SSE parser sees them; a block whose data is not JSON is a torn event."""
    events: list[tuple[str | None, Any]] = []
    torn: list[bytes] = []
    for block in raw.replace(b"\r\n", b"\n").split(b"\n\n"):
        name, data = None, []
        for line in block.decode("utf-8", "replace").split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        if not data:
            continue
        text = "\n".join(data)
        if text == "[DONE]":
            events.append((name, "[DONE]"))
            continue
        try:
            events.append((name, json.loads(text)))
        except ValueError:
            torn.append(block)
    return events, torn


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[int, dict[str, Any]]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelno, json.loads(record.getMessage())))


@asynccontextmanager
async def serving(fake: FakeUpstream) -> AsyncIterator[FakeUpstream]:
    runner = web.AppRunner(fake.app(), handler_cancellation=True, access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    fake.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    try:
        yield fake
    finally:
        await runner.cleanup()


@asynccontextmanager
async def gateway_for(text: str) -> AsyncIterator[str]:
    server = Server(gateway=build_gateway(load_config(None, text=text, environ={})),
                    loader=lambda: load_config(None, text=text, environ={}), notifier=Notifier({}))
    await server.start()
    try:
        yield f"http://127.0.0.1:{server.addresses[0][1]}"
    finally:
        await server.stop()


async def run(cell: Cell) -> Seen:
    return await run_with(fault(cell.case, cell.position), cell.api, cell.interface, cell.stream)


async def run_with(behaviour: Behaviour, api: str, interface: str, stream: bool) -> Seen:
    """One request through a gateway whose first channel answers with `behaviour`."""
    access = logging.getLogger("plano_daemon.access")
    lines = _Lines()
    access.addHandler(lines)
    old_level = access.level
    access.setLevel(logging.INFO)
    try:
        async with serving(FakeUpstream("a").script(behaviour)) as a, serving(FakeUpstream("b")) as b, \
                gateway_for(config_text(a, b, interface)) as url, aiohttp.ClientSession() as client:
            async with asyncio.timeout(10):
                async with client.post(url + PATHS[api], json=request_body(api, stream),
                                       headers={"Authorization": "Bearer client", "x-api-key": "client",
                                                "anthropic-version": "2023-06-01"}) as resp:
                    raw = await resp.read()
                    status = resp.status
                    is_sse = resp.content_type == "text/event-stream"
            for _ in range(100):  # the access line is written right after the answer
                if lines.lines:
                    break
                await asyncio.sleep(0.01)
            events, torn = parse_sse(raw) if is_sse else ([], [])
            return Seen(status, raw, events, torn, list(lines.lines), (len(a.received), len(b.received)))
    finally:
        access.removeHandler(lines)
        access.setLevel(old_level)


async def _table() -> None:
    rows: dict[tuple[str, str, str], dict[str, str]] = {}
    for cell in cells():
        seen = await run(cell)
        key = (cell.case, cell.position, "stream" if cell.stream else "json")
        rows.setdefault(key, {})[f"{cell.api}←{cell.interface}"] = seen.summary()
    cols = [f"{api}←{iface}" for api in APIS for iface in INTERFACES]
    print("| case | position | request | " + " | ".join(cols) + " |")
    print("|" + "---|" * (3 + len(cols)))
    for (case, position, kind), by_col in rows.items():
        print(f"| {case} | {position} | {kind} | " + " | ".join(by_col.get(c, "") for c in cols) + " |")


if __name__ == "__main__":
    logging.getLogger("plano_daemon").addHandler(logging.NullHandler())
    logging.getLogger("plano_daemon").propagate = False
    asyncio.run(_table())
    sys.exit(0)

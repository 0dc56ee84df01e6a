"""Timeouts: first byte, stream idle, the listener's whole-request deadline, connect."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import aiohttp
from aiohttp import web

from tests.conftest import config, provider
from tests.fakes.upstream import chat_chunks, hang

BODY = {"model": "openai/m", "messages": [{"role": "user", "content": "x"}]}


def _with(cfg: dict, *, timeout: str | None = None, **dubnium) -> dict:
    if timeout:
        cfg["listeners"][0]["timeout"] = timeout
    cfg["dubnium"] = dubnium
    return cfg


async def test_stream_that_stalls_ends_with_an_error_event(fake_upstream, gateway) -> None:
    up = await fake_upstream()
    chunks = chat_chunks("m", ["hello"])

    async def stall(request: web.Request, rec) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(chunks[0] + chunks[1])
        await asyncio.sleep(10)
        return resp

    up.script(stall)
    gw = await gateway(_with(config(provider("openai/m", up)), timeouts={"stream_idle": "300ms"}))
    started = time.monotonic()
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{gw.base_url}/chat/completions", json={**BODY, "stream": True}) as resp:
            assert resp.status == 200
            text = (await resp.read()).decode()
    events = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]
    assert events[1]["choices"][0]["delta"]["content"] == "hello"
    assert "stalled" in events[-1]["error"]["message"]
    assert time.monotonic() - started < 5


async def test_whole_request_deadline_gives_504(fake_upstream, gateway) -> None:
    up = await fake_upstream()
    up.script(hang(10))
    gw = await gateway(_with(config(provider("openai/m", up)), timeout="500ms"))
    started = time.monotonic()
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{gw.base_url}/chat/completions", json=BODY) as resp:
            data = await resp.json()
    assert resp.status == 504, data
    assert "timeout" in data["error"]["message"] or "timed out" in data["error"]["message"]
    assert time.monotonic() - started < 5


async def test_first_byte_timeout_applies_to_streams(fake_upstream, gateway) -> None:
    up = await fake_upstream()
    up.script(hang(10))
    gw = await gateway(_with(config(provider("openai/m", up)), timeouts={"first_byte": "300ms"}))
    started = time.monotonic()
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{gw.base_url}/chat/completions", json={**BODY, "stream": True}) as resp:
            data = await resp.json()
    assert resp.status == 504, data
    assert time.monotonic() - started < 5


async def test_connection_refused_is_502_json(gateway) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gw = await gateway(config({"model": "openai/m", "base_url": f"http://127.0.0.1:{port}/v1"}))
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{gw.base_url}/chat/completions", json=BODY) as resp:
            data = await resp.json()
    assert resp.status == 502
    assert "openai/m" in json.dumps(data)

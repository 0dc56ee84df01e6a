"""Faults an upstream can answer with, for both upstream interfaces (OpenAI chat at */chat/completions,
Anthropic at */messages), as `FakeUpstream` behaviours.

`fault(name, position)`: at "start" the fault comes before any valid byte (the gateway must fail over);
at "mid" a valid stream begins and the fault follows (the client must get a terminal error event).
Every wait is short and bounded: `STALL` is what a hang lasts, longer than the gateway's test timeouts.
"""

from __future__ import annotations

import asyncio
import json
from typing import Literal

from aiohttp import web

from tests.fakes.upstream import (
    Behaviour,
    Received,
    anthropic_message,
    anthropic_stream,
    chat_chunks,
    chat_completion,
)

Position = Literal["start", "mid"]
#: How long a hanging upstream waits: longer than the `first_byte`/`stream_idle` the fault tests configure.
STALL = 3.0
HTML = b"<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>\n"

#: Faults before any valid byte, by request kind; the stream and body variants share names.
START_FAULTS = ("empty", "garbage", "html", "wrong_shape", "truncated", "reset", "hang", "error_event",
                "sse_for_json", "json_for_sse")
#: Faults after a valid stream began.
MID_FAULTS = ("truncated", "garbage", "reset", "stall", "error_event")


def applies(name: str, position: Position, stream: bool) -> bool:
    if position == "mid":
        return stream and name in MID_FAULTS
    if name == "sse_for_json":
        return not stream
    if name in ("json_for_sse", "error_event"):
        return stream
    return True


def _anthropic(path: str) -> bool:
    return path.endswith("/messages")


def _stream_bytes(anthropic: bool, model: str) -> list[bytes]:
    return anthropic_stream(model, "partial") if anthropic else chat_chunks(model, ["par", "tial"])


def _body_bytes(anthropic: bool, model: str) -> bytes:
    return json.dumps(anthropic_message(model, "partial") if anthropic else chat_completion(model, "partial")).encode()


def _error_event(anthropic: bool) -> bytes:
    if anthropic:
        return (b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",'
                b'"message":"Overloaded"}}\n\n')
    return b'data: {"error":{"message":"upstream overloaded","type":"server_error","code":null}}\n\n'


async def _open(request: web.Request, content_type: str) -> web.StreamResponse:
    resp = web.StreamResponse(status=200, headers={"Content-Type": content_type})
    await resp.prepare(request)
    return resp


async def _abort(request: web.Request, resp: web.StreamResponse) -> web.StreamResponse:
    await asyncio.sleep(0.05)
    assert request.transport is not None
    request.transport.abort()
    return resp


def fault(name: str, position: Position = "start") -> Behaviour:
    """The behaviour answering one request with fault `name` at `position`."""
    async def behaviour(request: web.Request, rec: Received) -> web.StreamResponse:
        anthropic = _anthropic(request.path)
        body = rec.json
        model = str(body.get("model", "?"))
        stream = bool(body.get("stream"))
        events = _stream_bytes(anthropic, model)
        valid = _body_bytes(anthropic, model)
        kind = "text/event-stream" if stream else "application/json"
        resp = await _open(request, "text/html" if name == "html" else kind)
        if position == "mid":  # a valid beginning: the first two events
            await resp.write(b"".join(events[:2]))
            await asyncio.sleep(0.02)
        whole = b"".join(events) if stream else valid
        if name == "empty":
            pass
        elif name == "garbage":
            await resp.write(b"data: \x00\xff not json {{{\n\n" if stream else b"\x00\xff not json {{{")
        elif name == "html":
            await resp.write(HTML)
        elif name == "wrong_shape":
            if stream:
                end = b"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n" if anthropic else b"data: [DONE]\n\n"
                await resp.write(b'data: {"result":"ok","tokens":3}\n\n' + end)
            else:
                await resp.write(b'{"result":"ok","choices":null,"content":null}')
        elif name in ("truncated", "reset"):  # cut inside an event (the first, at "start"), then EOF or reset
            cut = b"".join(events[2:]) if position == "mid" else (events[0] if stream else whole)
            await resp.write(cut[:len(cut) // 2])
            if name == "reset":
                return await _abort(request, resp)
        elif name in ("hang", "stall"):
            await resp.write(whole[:len(whole) // 3] if not stream else b"")
            await asyncio.sleep(STALL)
        elif name == "error_event":
            await resp.write(_error_event(anthropic))
        elif name == "sse_for_json":
            await resp.write(b"".join(_stream_bytes(anthropic, model)))
        elif name == "json_for_sse":
            await resp.write(valid)
        else:
            raise ValueError(f"unknown fault {name!r}")
        await resp.write_eof()
        return resp
    return behaviour


def echo_key_401(header: str) -> Behaviour:
    """A 401 whose body quotes the key it received (some providers do), in `header`."""
    async def behaviour(request: web.Request, rec: Received) -> web.StreamResponse:
        key = request.headers.get(header, "").removeprefix("Bearer ")
        body = {"error": {"message": f"Incorrect API key provided: {key}", "type": "invalid_request_error",
                          "code": "invalid_api_key", "key": key}}
        return web.json_response(body, status=401)
    return behaviour

"""A scriptable fake LLM upstream: a real aiohttp server on 127.0.0.1 that records what it receives.

Queue behaviours with `script(...)`; when the queue is empty, it answers like a well-behaved provider
(OpenAI chat at */chat/completions, Anthropic at */messages), echoing the last user message.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Behaviour = Callable[[web.Request, "Received"], Awaitable[web.StreamResponse]]


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)

    @property
    def json(self) -> Any:
        return json.loads(self.body)


class FakeUpstream:
    def __init__(self, name: str = "upstream") -> None:
        self.name = name
        self.received: list[Received] = []
        self._script: deque[Behaviour] = deque()
        self.default: Behaviour = answer_like_provider
        self.url = ""  # http://127.0.0.1:PORT, set once started
        #: GET */models answers these ids, with vLLM's `max_model_len` when set (model id → window).
        self.models: dict[str, int | None] = {}
        self.model_list_requests: list[Received] = []

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def script(self, *behaviours: Behaviour) -> FakeUpstream:
        self._script.extend(behaviours)
        return self

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        rec = Received(request.method, request.path, dict(request.headers), await request.read())
        if request.method == "GET" and request.path.endswith("/models"):  # like vLLM; not a scripted call
            self.model_list_requests.append(rec)
            data = [{"id": m, "object": "model", **({"max_model_len": n} if n else {})}
                    for m, n in self.models.items()]
            return web.json_response({"object": "list", "data": data})
        self.received.append(rec)
        behaviour = self._script.popleft() if self._script else self.default
        return await behaviour(request, rec)


# --- behaviours --------------------------------------------------------------------------------------

def last_user_text(body: dict[str, Any]) -> str:
    for msg in reversed(body.get("messages") or []):
        if msg.get("role") == "user":
            content = msg.get("content")
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def chat_completion(model: str, content: str | None, *, tool_calls: list[dict[str, Any]] | None = None,
                    finish_reason: str = "stop") -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": 1700000000, "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}}


def chat_chunks(model: str, pieces: list[str], *, usage: bool = True) -> list[bytes]:
    """An OpenAI chat SSE stream, one text piece per chunk, then a usage chunk and [DONE]."""
    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        obj = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1700000000,
               "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return f"data: {json.dumps(obj)}\n\n".encode()

    out = [chunk({"role": "assistant", "content": ""})]
    out += [chunk({"content": p}) for p in pieces]
    out.append(chunk({}, "stop"))
    if usage:
        u = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 1700000000, "model": model,
             "choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": len(pieces),
                                      "total_tokens": 11 + len(pieces)}}
        out.append(f"data: {json.dumps(u)}\n\n".encode())
    out.append(b"data: [DONE]\n\n")
    return out


def anthropic_message(model: str, text: str) -> dict[str, Any]:
    return {"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 11, "output_tokens": 7}}


async def answer_like_provider(request: web.Request, rec: Received) -> web.StreamResponse:
    body = rec.json
    model = body.get("model", "?")
    text = f"echo: {last_user_text(body)}"
    if request.path.endswith("/messages"):
        if body.get("stream"):
            return await send_sse(request, anthropic_stream(model, text))
        return web.json_response(anthropic_message(model, text))
    if body.get("stream"):
        return await send_sse(request, chat_chunks(model, [text[:5], text[5:]]))
    return web.json_response(chat_completion(model, text))


def anthropic_stream(model: str, text: str) -> list[bytes]:
    def ev(name: str, data: dict[str, Any]) -> bytes:
        return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()

    msg = {**anthropic_message(model, ""), "content": [], "stop_reason": None,
           "usage": {"input_tokens": 11, "output_tokens": 0}}
    return [
        ev("message_start", {"type": "message_start", "message": msg}),
        ev("content_block_start", {"type": "content_block_start", "index": 0,
                                   "content_block": {"type": "text", "text": ""}}),
        ev("content_block_delta", {"type": "content_block_delta", "index": 0,
                                   "delta": {"type": "text_delta", "text": text}}),
        ev("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ev("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                             "usage": {"output_tokens": 7}}),
        ev("message_stop", {"type": "message_stop"}),
    ]


async def send_sse(request: web.Request, chunks: list[bytes], *, gaps: dict[int, float] | None = None,
                   status: int = 200) -> web.StreamResponse:
    """Write `chunks` one by one; `gaps[i]` sleeps before chunk i (to prove nothing is buffered)."""
    resp = web.StreamResponse(status=status, headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    for i, chunk in enumerate(chunks):
        if gaps and i in gaps:
            await asyncio.sleep(gaps[i])
        await resp.write(chunk)
    await resp.write_eof()
    return resp


def reply_json(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Behaviour:
    async def behaviour(request: web.Request, rec: Received) -> web.StreamResponse:
        return web.json_response(body, status=status, headers=headers)
    return behaviour


def reply_status(status: int, *, body: dict[str, Any] | None = None, retry_after: str | None = None) -> Behaviour:
    headers = {"Retry-After": retry_after} if retry_after is not None else None
    payload = body if body is not None else {"error": {"message": f"fake upstream says {status}",
                                                        "type": "fake_error", "code": str(status)}}
    return reply_json(payload, status=status, headers=headers)


def reply_sse(chunks: list[bytes], *, gaps: dict[int, float] | None = None) -> Behaviour:
    async def behaviour(request: web.Request, rec: Received) -> web.StreamResponse:
        return await send_sse(request, chunks, gaps=gaps)
    return behaviour


def hang(seconds: float = 60.0) -> Behaviour:
    async def behaviour(request: web.Request, rec: Received) -> web.StreamResponse:
        await asyncio.sleep(seconds)
        return web.json_response({"late": True})
    return behaviour


def reset_connection() -> Behaviour:
    async def behaviour(request: web.Request, rec: Received) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.abort()
        return web.Response()
    return behaviour


def sse_then_reset(chunks: list[bytes]) -> Behaviour:
    """Send some chunks, then drop the connection mid-stream."""
    async def behaviour(request: web.Request, rec: Received) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for chunk in chunks:
            await resp.write(chunk)
        await asyncio.sleep(0.05)
        assert request.transport is not None
        request.transport.abort()
        return resp
    return behaviour

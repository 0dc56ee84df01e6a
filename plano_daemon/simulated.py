"""Simulated LLM upstreams for the demo: real aiohttp servers on 127.0.0.1 that need no key and no network.

They answer OpenAI chat (JSON or SSE, with a tool call when tools are offered) and Anthropic Messages,
and can be told to fail their next requests (429 with Retry-After, 503) to show failover.
"""

from __future__ import annotations

import json
import time
from collections import deque
from typing import Any

from aiohttp import web


class SimulatedUpstream:
    def __init__(self, name: str) -> None:
        self.name = name
        self.models_seen: list[str] = []
        self.failures: deque[tuple[int, dict[str, str]]] = deque()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def fail_next(self, status: int, *, retry_after: str | None = None, times: int = 1) -> None:
        headers = {"Retry-After": retry_after} if retry_after else {}
        self.failures.extend([(status, headers)] * times)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/messages", self._messages)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _failure(self) -> web.Response | None:
        if not self.failures:
            return None
        status, headers = self.failures.popleft()
        body = {"error": {"message": f"{self.name} is simulating HTTP {status}", "type": "simulated",
                          "code": str(status)}}
        return web.json_response(body, status=status, headers=headers)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.models_seen.append(body.get("model", "?"))
        failure = self._failure()
        if failure is not None:
            return failure
        model = body.get("model", "?")
        tools = body.get("tools") or []
        last = body.get("messages", [{}])[-1]
        if tools and last.get("role") == "user":
            name = tools[0].get("function", {}).get("name", "tool")
            call = {"id": "call_demo", "type": "function",
                    "function": {"name": name, "arguments": json.dumps({"city": "Oslo"})}}
            if body.get("stream"):
                return await _sse(request, _tool_chunks(model, call))
            return web.json_response(_completion(model, None, [call], "tool_calls"))
        text = f"[{self.name}] {_reply_text(last)}"
        if body.get("stream"):
            words = text.split(" ")
            return await _sse(request, _text_chunks(model, [w + " " for w in words[:-1]] + words[-1:]))
        return web.json_response(_completion(model, text, None, "stop"))

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.models_seen.append(body.get("model", "?"))
        failure = self._failure()
        if failure is not None:
            return failure
        text = f"[{self.name}] {_reply_text((body.get('messages') or [{}])[-1])}"
        return web.json_response({
            "id": "msg_demo", "type": "message", "role": "assistant", "model": body.get("model"),
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 12, "output_tokens": 9}})


def _reply_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    if message.get("role") == "tool":
        return f"the tool said: {content}"
    return f"you said: {content}"


def _completion(model: str, text: str | None, calls: list[dict[str, Any]] | None, finish: str) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if calls:
        message["tool_calls"] = calls
    return {"id": "chatcmpl-demo", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21}}


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> bytes:
    obj = {"id": "chatcmpl-demo", "object": "chat.completion.chunk", "created": int(time.time()),
           "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return f"data: {json.dumps(obj)}\n\n".encode()


def _text_chunks(model: str, pieces: list[str]) -> list[bytes]:
    return ([_chunk(model, {"role": "assistant", "content": ""})]
            + [_chunk(model, {"content": p}) for p in pieces] + [_chunk(model, {}, "stop"), b"data: [DONE]\n\n"])


def _tool_chunks(model: str, call: dict[str, Any]) -> list[bytes]:
    args = call["function"]["arguments"]
    first = {"index": 0, "id": call["id"], "type": "function",
             "function": {"name": call["function"]["name"], "arguments": ""}}
    return [_chunk(model, {"role": "assistant", "content": None, "tool_calls": [first]}),
            _chunk(model, {"tool_calls": [{"index": 0, "function": {"arguments": args[:8]}}]}),
            _chunk(model, {"tool_calls": [{"index": 0, "function": {"arguments": args[8:]}}]}),
            _chunk(model, {}, "tool_calls"), b"data: [DONE]\n\n"]


async def _sse(request: web.Request, chunks: list[bytes]) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await resp.prepare(request)
    for chunk in chunks:
        await resp.write(chunk)
    await resp.write_eof()
    return resp

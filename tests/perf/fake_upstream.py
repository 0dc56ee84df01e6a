"""A fake OpenAI-compatible upstream built for speed, so it is never what a benchmark measures.

A raw asyncio protocol (uvloop when installed) with every reply precomputed: a chat completion with
Content-Length, or, when the body asks for `"stream": true`, an SSE stream of `--chunks` chunks written
one by one (optionally `--gap-ms` apart). A stream asking for `"max_tokens": 100` or more is paced like a
model instead: that many chunks, `PACED_GAP` apart (what per-chunk relay cost is measured with).
It prints `PORT <n>` once listening and runs until SIGTERM.

    python tests/perf/fake_upstream.py --port 0 --chunks 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import sys
from typing import cast

_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)
_STREAM = re.compile(rb'"stream"\s*:\s*true')
_MAX_TOKENS = re.compile(rb'"max_tokens"\s*:\s*(\d+)')
PACED_MIN_TOKENS = 100
PACED_GAP = 0.001


def json_reply() -> bytes:
    body = json.dumps({
        "id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000, "model": "bench-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello! How can I help you today?"},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21}}).encode()
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode() + b"\r\nConnection: keep-alive\r\n\r\n")
    return head + body


def sse_chunks(n: int) -> tuple[bytes, list[bytes], bytes]:
    """Response head, the chunked-encoded SSE events, and the terminating chunk."""
    def frame(obj: object) -> bytes:
        data = b"data: " + json.dumps(obj).encode() + b"\n\n"
        return f"{len(data):x}\r\n".encode() + data + b"\r\n"

    def chunk(delta: dict[str, object], finish: str | None = None) -> bytes:
        return frame({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000,
                      "model": "bench-model", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": f"tok{i} "}) for i in range(max(n - 4, 1))]
    events.append(chunk({}, "stop"))
    events.append(frame({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1700000000,
                         "model": "bench-model", "choices": [],
                         "usage": {"prompt_tokens": 12, "completion_tokens": n, "total_tokens": 12 + n}}))
    done = b"data: [DONE]\n\n"
    events.append(f"{len(done):x}\r\n".encode() + done + b"\r\n")
    head = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n")
    return head, events, b"0\r\n\r\n"


class Upstream(asyncio.Protocol):
    """One keep-alive connection: parse requests by Content-Length, answer from precomputed bytes."""

    def __init__(self, reply: bytes, stream: tuple[bytes, list[bytes], bytes], gap: float) -> None:
        self._reply, self._stream, self._gap = reply, stream, gap
        self._paced: dict[int, tuple[bytes, list[bytes], bytes]] = {}
        self._buf = b""
        self._transport: asyncio.Transport | None = None
        self._busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's transport is not a subclass

    def data_received(self, data: bytes) -> None:
        self._buf += data
        self._drain()

    def _drain(self) -> None:
        while not self._busy and self._transport is not None:
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                return
            m = _CONTENT_LENGTH.search(self._buf, 0, end + 2)
            length = int(m.group(1)) if m else 0
            total = end + 4 + length
            if len(self._buf) < total:
                return
            body, self._buf = self._buf[end + 4:total], self._buf[total:]
            if _STREAM.search(body):
                m = _MAX_TOKENS.search(body)
                tokens = int(m.group(1)) if m else 0
                if tokens >= PACED_MIN_TOKENS:
                    stream = self._paced.get(tokens) or self._paced.setdefault(tokens, sse_chunks(tokens))
                    self._busy = True
                    asyncio.ensure_future(self._paced_send(*stream, PACED_GAP))
                else:
                    self._send_stream()
            else:
                self._transport.write(self._reply)

    def _send_stream(self) -> None:
        head, events, tail = self._stream
        transport = self._transport
        assert transport is not None
        if self._gap <= 0:
            transport.write(head)
            for event in events:
                transport.write(event)
            transport.write(tail)
            return
        self._busy = True
        asyncio.ensure_future(self._paced_send(head, events, tail, self._gap))

    async def _paced_send(self, head: bytes, events: list[bytes], tail: bytes, gap: float) -> None:
        transport = self._transport
        assert transport is not None
        transport.write(head + events[0])
        for event in events[1:]:
            await asyncio.sleep(gap)
            if transport.is_closing():
                return
            transport.write(event)
        transport.write(tail)
        self._busy = False
        self._drain()

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None


async def serve(port: int, chunks: int, gap_ms: float) -> None:
    loop = asyncio.get_running_loop()
    reply, stream, gap = json_reply(), sse_chunks(chunks), gap_ms / 1000
    server = await loop.create_server(lambda: Upstream(reply, stream, gap), "127.0.0.1", port, backlog=1024)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    server.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--chunks", type=int, default=20, help="SSE events per streamed reply")
    p.add_argument("--gap-ms", type=float, default=0.0, help="pause between SSE events")
    args = p.parse_args()
    try:
        import uvloop
        runner = uvloop.run
    except ImportError:
        runner = asyncio.run
    runner(serve(args.port, args.chunks, args.gap_ms))
    sys.exit(0)


if __name__ == "__main__":
    main()

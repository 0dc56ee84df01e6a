"""Fake vLLM for the systemd guest: an OpenAI-compatible server on 127.0.0.1:8000 (stdlib only).

It accepts only `Authorization: Bearer $EXPECTED_KEY` (the key plano.service got from its root-only
environment file), appends each chat request to $STATE_DIRECTORY/requests.jsonl, answers
"fake-vllm saw <model>", and streams STREAM_CHUNKS chunks STREAM_DELAY seconds apart when asked to, so a
reload can land in the middle of a stream.
"""

from __future__ import annotations

import json
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

EXPECTED_KEY = os.environ["EXPECTED_KEY"]
LOG = os.path.join(os.environ["STATE_DIRECTORY"], "requests.jsonl")
STREAM_CHUNKS = 16
STREAM_DELAY = 0.25


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/v1/models":
            self.reply(200, {"object": "list", "data": [{"id": "qwen2.5-coder-14b-instruct", "object": "model"}]})
        else:
            self.reply(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length", "0")))
        if self.path != "/v1/chat/completions":
            self.reply(404, {"error": {"message": "not found"}})
            return
        authorized = self.headers.get("authorization") == f"Bearer {EXPECTED_KEY}"
        request = json.loads(raw)
        with open(LOG, "a", encoding="utf-8") as log:
            log.write(json.dumps({"model": request.get("model"), "authorized": authorized}) + "\n")
        if not authorized:
            self.reply(401, {"error": {"message": "bad key"}})
            return
        model = request.get("model")
        if request.get("stream"):
            self.stream(model)
            return
        self.reply(200, {
            "id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": f"fake-vllm saw {model}"}}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
        })

    def stream(self, model: str) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("connection", "close")
        self.end_headers()
        for i in range(STREAM_CHUNKS):
            chunk = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model,
                     "choices": [{"index": 0, "delta": {"content": f"c{i} "}, "finish_reason": None}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
            time.sleep(STREAM_DELAY)
        last = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": model,
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        self.wfile.write(f"data: {json.dumps(last)}\n\ndata: [DONE]\n\n".encode())
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the console carries the check table."""


ThreadingHTTPServer(("127.0.0.1", 8000), Handler).serve_forever()

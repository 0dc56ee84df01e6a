"""The terminal error event a stream ends with when its upstream fails after the first byte."""

from __future__ import annotations

import json

from plano_daemon.wire.sse import encode


def stream_error_event(api: str, message: str, code: str = "upstream_stream_error") -> bytes:
    """An SSE error event in the client's dialect (OpenAI chat, Anthropic Messages, OpenAI Responses)."""
    if api == "messages":
        return encode(json.dumps({"type": "error", "error": {"type": "api_error", "message": message}}),
                      event="error")
    if api == "responses":
        return encode(json.dumps({"type": "error", "code": code, "message": message, "param": None}),
                      event="error")
    return encode(json.dumps({"error": {"message": message, "type": "api_error", "code": code}}))

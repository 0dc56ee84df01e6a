"""An Anthropic Messages event stream rebuilt as OpenAI chat.completion.chunk events.

Lifecycle guaranteed for any upstream input, even an empty one: a first chunk with the assistant
role; content, reasoning and tool-call deltas (tool calls numbered 0, 1, ... in block order); one
chunk with the finish_reason; a usage chunk (empty choices) when the client asked for
`stream_options.include_usage`; then `data: [DONE]`, once, and nothing after it.
"""

from __future__ import annotations

from typing import Any

from plano_daemon.translate.mappings import finish_reason
from plano_daemon.translate.stream_base import (
    StreamTranslatorBase,
    as_dict,
    as_int,
    sse,
)
from plano_daemon.wire.stream_errors import stream_error_event

DONE = b"data: [DONE]\n\n"


def chat_usage(usage: dict[str, Any]) -> dict[str, Any]:
    """Anthropic usage → chat usage; cached prompt tokens count as prompt tokens, as OpenAI counts them."""
    cached = as_int(usage.get("cache_read_input_tokens"))
    prompt = as_int(usage.get("input_tokens")) + cached + as_int(usage.get("cache_creation_input_tokens"))
    completion = as_int(usage.get("output_tokens"))
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached}}


class AnthropicStreamToChat(StreamTranslatorBase):
    __slots__ = ("_include_usage", "_created", "_id", "_model", "_started", "_finished",
                 "_tools", "_raw_usage")

    def __init__(self, *, include_usage: bool = False, created: int = 0) -> None:
        super().__init__()
        self._include_usage = include_usage
        self._created = created
        self._id = ""
        self._model = ""
        self._started = False
        self._finished = False
        self._tools: dict[int, int] = {}  # Anthropic block index → chat tool_call index
        self._raw_usage: dict[str, Any] = {}

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        return sse({"id": self._id, "object": "chat.completion.chunk", "created": self._created,
                    "model": self._model, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                                       "finish_reason": finish}]})

    def _start(self) -> bytes:
        self._started = True
        return self._chunk({"role": "assistant", "content": ""})

    def _on_json(self, event: str | None, obj: dict[str, Any]) -> bytes | None:
        kind = obj.get("type", event)
        if kind == "error":
            return self._upstream_error(obj)
        if kind == "ping":
            return b""
        if kind == "message_start":
            message = as_dict(obj.get("message"))
            self._id = str(message.get("id", ""))
            self._model = str(message.get("model", ""))
            self._note_usage(message.get("usage"))
            return b"" if self._started else self._start()
        if kind == "content_block_start":
            return self._prefix() + self._block_start(obj)
        if kind == "content_block_delta":
            body = self._block_delta(obj)
            return None if body is None else self._prefix() + body
        if kind == "content_block_stop":
            return self._prefix()
        if kind == "message_delta":
            self._note_usage(obj.get("usage"))
            delta = as_dict(obj.get("delta"))
            self._finished = True
            return self._prefix() + self._chunk({}, finish_reason(delta.get("stop_reason")))
        if kind == "message_stop":
            self._done = True
            return self._close()
        return None

    def _prefix(self) -> bytes:
        return b"" if self._started else self._start()

    def _note_usage(self, usage: Any) -> None:
        if isinstance(usage, dict):
            self._raw_usage.update({k: v for k, v in usage.items() if isinstance(v, int)})
            totals = chat_usage(self._raw_usage)
            self.usage.input_tokens = totals["prompt_tokens"]
            self.usage.output_tokens = totals["completion_tokens"]

    def _block_start(self, obj: dict[str, Any]) -> bytes:
        block = as_dict(obj.get("content_block"))
        if block.get("type") != "tool_use":
            text = block.get("text")
            return self._chunk({"content": text}) if isinstance(text, str) and text else b""
        number = len(self._tools)
        self._tools[as_int(obj.get("index"))] = number
        return self._chunk({"tool_calls": [{"index": number, "id": block.get("id", ""), "type": "function",
                                            "function": {"name": block.get("name", ""), "arguments": ""}}]})

    def _block_delta(self, obj: dict[str, Any]) -> bytes | None:
        delta = as_dict(obj.get("delta"))
        kind = delta.get("type")
        if kind == "text_delta":
            return self._chunk({"content": delta.get("text", "")})
        if kind == "thinking_delta":
            return self._chunk({"reasoning_content": delta.get("thinking", "")})
        if kind == "signature_delta":
            return b""
        if kind == "input_json_delta":
            number = self._tools.get(as_int(obj.get("index")))
            if number is None:
                return None
            return self._chunk({"tool_calls": [{"index": number,
                                                "function": {"arguments": delta.get("partial_json", "")}}]})
        return None

    def _close(self) -> bytes:
        out: list[bytes] = []
        if not self._started:
            out.append(self._start())
        if not self._finished:
            self._finished = True
            out.append(self._chunk({}, "tool_calls" if self._tools else "stop"))
        if self._include_usage:
            out.append(sse({"id": self._id, "object": "chat.completion.chunk", "created": self._created,
                            "model": self._model, "choices": [], "usage": chat_usage(self._raw_usage)}))
        out.append(DONE)
        return b"".join(out)

    def _error_event(self, message: str) -> bytes:
        return stream_error_event("chat", message)

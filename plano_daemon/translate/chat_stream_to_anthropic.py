"""An OpenAI chat.completion.chunk stream rebuilt as an Anthropic Messages event stream.

Lifecycle guaranteed for any upstream input, even an empty one:
message_start first and once; then per content block (thinking, text, each tool call) one
content_block_start, its deltas and one content_block_stop, with indices 0, 1, 2 ... and no two
blocks open at once; then message_delta (stop_reason, usage) and message_stop, exactly once, and
nothing after it. An upstream error inside the stream ends it with an Anthropic `error` event.
"""

from __future__ import annotations

import uuid
from typing import Any

from plano_daemon.translate.mappings import stop_reason
from plano_daemon.translate.stream_base import ChatChunkStream, as_dict, as_int, sse
from plano_daemon.wire.stream_errors import stream_error_event


def message_id(upstream_id: Any) -> str:
    if isinstance(upstream_id, str) and upstream_id:
        return upstream_id if upstream_id.startswith("msg_") else f"msg_{upstream_id}"
    return f"msg_{uuid.uuid4().hex[:24]}"


def _event(obj: dict[str, Any]) -> bytes:
    return sse(obj, event=obj["type"])


class ChatStreamToAnthropic(ChatChunkStream):
    __slots__ = ("_stop_sequences", "_thinking", "_open", "_next_index", "_tool_blocks",
                 "_finish_reason", "_matched_stop")

    def __init__(self, *, stop_sequences: tuple[str, ...] = (), thinking: bool = False) -> None:
        super().__init__()
        self._stop_sequences = stop_sequences
        self._thinking = thinking  # reasoning shown only to clients that asked for thinking blocks
        self._open: tuple[str, int] | None = None  # (kind, block index) of the open block
        self._next_index = 0
        self._tool_blocks: dict[int, int] = {}  # chat tool_call index → block index
        self._finish_reason: Any = None
        self._matched_stop: Any = None

    def _start(self, chunk: dict[str, Any]) -> bytes:
        self._started = True
        return _event({"type": "message_start", "message": {
            "id": message_id(chunk.get("id")), "type": "message", "role": "assistant",
            "model": chunk.get("model", ""), "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0}}})

    def _on_choice(self, choice: dict[str, Any]) -> list[bytes]:
        delta = choice.get("delta")
        out = self._delta(delta) if isinstance(delta, dict) else []
        if choice.get("finish_reason"):
            self._finish_reason = choice["finish_reason"]
            self._matched_stop = choice.get("stop_reason")
        return out

    def _delta(self, delta: dict[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        reasoning = delta.get("reasoning_content") or delta.get("reasoning")
        if self._thinking and isinstance(reasoning, str) and reasoning:
            index = self._ensure_open("thinking", {"type": "thinking", "thinking": "", "signature": ""}, out)
            out.append(_event({"type": "content_block_delta", "index": index,
                               "delta": {"type": "thinking_delta", "thinking": reasoning}}))
        text = delta.get("content")
        if isinstance(text, str) and text:
            index = self._ensure_open("text", {"type": "text", "text": ""}, out)
            out.append(_event({"type": "content_block_delta", "index": index,
                               "delta": {"type": "text_delta", "text": text}}))
        calls = delta.get("tool_calls")
        for call in calls if isinstance(calls, list) else []:
            if isinstance(call, dict):
                out.extend(self._tool_delta(call))
        return out

    def _tool_delta(self, call: dict[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        function = as_dict(call.get("function"))
        key = as_int(call.get("index"))
        index = self._tool_blocks.get(key)
        if index is None:
            block: dict[str, Any] = {"type": "tool_use", "id": call.get("id") or f"toolu_{uuid.uuid4().hex[:24]}",
                     "name": function.get("name") or "", "input": {}}
            index = self._open_block(f"tool{key}", block, out)
            self._tool_blocks[key] = index
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            # A late fragment for an earlier call keeps that call's index: nothing is lost.
            out.append(_event({"type": "content_block_delta", "index": index,
                               "delta": {"type": "input_json_delta", "partial_json": arguments}}))
        return out

    def _ensure_open(self, kind: str, block: dict[str, Any], out: list[bytes]) -> int:
        if self._open is not None and self._open[0] == kind:
            return self._open[1]
        return self._open_block(kind, block, out)

    def _open_block(self, kind: str, block: dict[str, Any], out: list[bytes]) -> int:
        self._close_block(out)
        index = self._next_index
        self._next_index += 1
        self._open = (kind, index)
        out.append(_event({"type": "content_block_start", "index": index, "content_block": block}))
        return index

    def _close_block(self, out: list[bytes]) -> None:
        if self._open is not None:
            if self._open[0] == "thinking":
                out.append(_event({"type": "content_block_delta", "index": self._open[1],
                                   "delta": {"type": "signature_delta", "signature": ""}}))
            out.append(_event({"type": "content_block_stop", "index": self._open[1]}))
            self._open = None

    def _close(self) -> bytes:
        out: list[bytes] = []
        if not self._started:
            out.append(self._start({}))
        self._close_block(out)
        matched = self._matched_stop
        sequence = matched if isinstance(matched, str) and matched in self._stop_sequences else None
        reason = "stop_sequence" if sequence else stop_reason(
            self._finish_reason, has_tool_calls=bool(self._tool_blocks))
        out.append(_event({"type": "message_delta",
                           "delta": {"stop_reason": reason, "stop_sequence": sequence},
                           "usage": {"input_tokens": self.usage.input_tokens,
                                     "output_tokens": self.usage.output_tokens}}))
        out.append(_event({"type": "message_stop"}))
        return b"".join(out)

    def _error_event(self, message: str) -> bytes:
        return stream_error_event("messages", message)

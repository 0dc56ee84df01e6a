"""An OpenAI chat.completion.chunk stream rebuilt as an OpenAI Responses event stream.

Lifecycle guaranteed for any upstream input, even an empty one: `response.created` then
`response.in_progress`; per output item (a message, each function or custom tool call, in order)
`response.output_item.added`, its parts and deltas, their `.done` events and `response.output_item.done`,
never two items open at once; then exactly one terminal event: `response.completed`,
`response.incomplete` (the upstream stopped on length or a content filter) or `response.failed`.
Every event carries `sequence_number` 0, 1, 2 ... (Codex checks them).
"""

from __future__ import annotations

import json
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from plano_daemon.translate.stream_base import ChatChunkStream, as_dict, as_int, sse

_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def custom_input(arguments: str) -> str:
    """The free-form text of a custom tool call, from the `{"input": ...}` the chat model produced."""
    try:
        value = json.loads(arguments)
    except ValueError:
        return arguments
    if isinstance(value, dict) and isinstance(value.get("input"), str):
        return str(value["input"])
    return arguments


def responses_usage(usage: dict[str, Any]) -> dict[str, Any]:
    prompt = as_int(usage.get("prompt_tokens"))
    completion = as_int(usage.get("completion_tokens"))
    details = as_dict(usage.get("prompt_tokens_details"))
    reasoning = usage.get("completion_tokens_details")
    reasoning = reasoning if isinstance(reasoning, dict) else {}
    return {"input_tokens": prompt, "output_tokens": completion, "total_tokens": prompt + completion,
            "input_tokens_details": {"cached_tokens": as_int(details.get("cached_tokens"))},
            "output_tokens_details": {"reasoning_tokens": as_int(reasoning.get("reasoning_tokens"))}}


@dataclass(frozen=True, slots=True)
class ResponseIds:
    """Ids derived from the upstream's, so one upstream answer always renders identically."""

    base: str

    @property
    def response(self) -> str:
        return f"resp_{self.base}"

    def item(self, index: int, prefix: str = "msg") -> str:
        return f"{prefix}_{self.base}_{index}"


#: Set for a request whose response will be stored (`state_storage`): its id must then name one conversation
#: only, and some servers reuse ids (Ollama draws them from 1000), so a random part is added.
UNIQUE_RESPONSE_IDS: ContextVar[bool] = ContextVar("unique_response_ids", default=False)


def response_ids(upstream_id: Any) -> ResponseIds:
    if isinstance(upstream_id, str) and upstream_id:
        base = upstream_id.removeprefix("chatcmpl-").removeprefix("msg_")
        return ResponseIds(f"{base}_{uuid.uuid4().hex[:12]}" if UNIQUE_RESPONSE_IDS.get() else base)
    return ResponseIds(uuid.uuid4().hex[:24])


@dataclass(frozen=True, slots=True)
class ToolOrigin:
    """What a chat function name stands for in the client's request: a tool, maybe in a namespace,
    maybe custom (free-form input)."""

    name: str
    namespace: str | None = None
    custom: bool = False


@dataclass(frozen=True, slots=True)
class ResponseShape:
    """The request fields a Response object echoes, and what each chat function name maps back to."""

    echo: dict[str, Any] = field(default_factory=dict)
    custom: frozenset[str] = frozenset()
    #: Chat function name → the client's tool, for names that are not plain function tools.
    origins: dict[str, ToolOrigin] = field(default_factory=dict)

    def call_item(self, chat_name: str, *, item_id: str, call_id: str, payload: str) -> dict[str, Any]:
        """A function_call or custom_tool_call output item, with the client's name and namespace."""
        origin = self.origins.get(chat_name) or ToolOrigin(chat_name, custom=chat_name in self.custom)
        item: dict[str, Any]
        if origin.custom:
            item = {"type": "custom_tool_call", "id": item_id, "call_id": call_id, "name": origin.name,
                    "input": custom_input(payload)}
        else:
            item = {"type": "function_call", "id": item_id, "call_id": call_id, "name": origin.name,
                    "arguments": payload}
        if origin.namespace is not None:
            item["namespace"] = origin.namespace
        return item

    def is_custom(self, chat_name: str) -> bool:
        origin = self.origins.get(chat_name)
        return origin.custom if origin is not None else chat_name in self.custom

    @classmethod
    def from_request(cls, body: dict[str, Any], custom: frozenset[str],
                     origins: dict[str, ToolOrigin] | None = None) -> ResponseShape:
        echo = {"instructions": body.get("instructions"), "tools": body.get("tools") or [],
                "tool_choice": body.get("tool_choice", "auto"),
                "parallel_tool_calls": body.get("parallel_tool_calls", True),
                "temperature": body.get("temperature"), "top_p": body.get("top_p"),
                "max_output_tokens": body.get("max_output_tokens"), "reasoning": body.get("reasoning"),
                "metadata": body.get("metadata") or {}, "text": body.get("text") or {"format": {"type": "text"}}}
        return cls(echo=echo, custom=custom, origins=origins or {})

    def render(self, response_id: str, *, created_at: int, model: Any, output: list[dict[str, Any]],
               finish_reason: Any, usage: dict[str, Any] | None, status: str | None = None) -> dict[str, Any]:
        incomplete = _INCOMPLETE.get(finish_reason) if isinstance(finish_reason, str) else None
        if status is None:
            status = "incomplete" if incomplete else "completed"
        return {"id": response_id, "object": "response", "created_at": created_at, "status": status,
                "error": None, "incomplete_details": {"reason": incomplete} if status == "incomplete" else None,
                "model": model if isinstance(model, str) else "", "output": output, "usage": usage,
                "tools": [], "tool_choice": "auto", "parallel_tool_calls": True, **self.echo}


class ChatStreamToResponses(ChatChunkStream):
    __slots__ = ("_shape", "_created", "_ids", "_model", "_seq", "_items", "_open", "_calls",
                 "_finish_reason")

    def __init__(self, *, shape: ResponseShape | None = None, created: int = 0) -> None:
        super().__init__()
        self._shape = shape or ResponseShape()
        self._created = created
        self._ids = ResponseIds("")
        self._model: Any = ""
        self._seq = 0
        self._items: list[dict[str, Any]] = []  # output items, in their latest state
        self._open: int | None = None  # output index of the item still streaming
        self._calls: dict[int, int] = {}  # chat tool_call index → output index
        self._finish_reason: Any = None

    def _event(self, kind: str, **fields: Any) -> bytes:
        obj = {"type": kind, "sequence_number": self._seq, **fields}
        self._seq += 1
        return sse(obj, event=kind)

    def _snapshot(self, status: str | None = None) -> dict[str, Any]:
        usage = responses_usage(self._raw_usage) if status != "in_progress" else None
        return self._shape.render(self._ids.response, created_at=self._created, model=self._model,
                                  output=[_public(i) for i in self._items], finish_reason=self._finish_reason,
                                  usage=usage, status=status)

    def _start(self, chunk: dict[str, Any]) -> bytes:
        self._started = True
        self._ids = response_ids(chunk.get("id"))
        self._model = chunk.get("model", "")
        head = self._snapshot("in_progress")
        return (self._event("response.created", response=head)
                + self._event("response.in_progress", response=head))

    def _on_choice(self, choice: dict[str, Any]) -> list[bytes]:
        out: list[bytes] = []
        delta = as_dict(choice.get("delta"))
        text = delta.get("content")
        if isinstance(text, str) and text:
            out.append(self._text(text))
        calls = delta.get("tool_calls")
        for call in calls if isinstance(calls, list) else []:
            if isinstance(call, dict):
                out.append(self._call(call))
        if choice.get("finish_reason"):
            self._finish_reason = choice["finish_reason"]
        return out

    def _text(self, text: str) -> bytes:
        out = b""
        if self._open is None or self._items[self._open]["type"] != "message":
            out += self._close_item()
            index = len(self._items)
            item: dict[str, Any] = {"type": "message", "id": self._ids.item(index), "status": "in_progress",
                    "role": "assistant", "content": []}
            self._items.append(item)
            self._open = index
            out += self._event("response.output_item.added", output_index=index, item=dict(item))
            out += self._event("response.content_part.added", item_id=item["id"], output_index=index,
                               content_index=0, part=_text_part(""))
            item["content"] = [_text_part("")]
        item = self._items[self._open]
        item["content"][0]["text"] += text
        return out + self._event("response.output_text.delta", item_id=item["id"], output_index=self._open,
                                 content_index=0, delta=text, logprobs=[])

    def _call(self, call: dict[str, Any]) -> bytes:
        out = b""
        function = as_dict(call.get("function"))
        key = as_int(call.get("index"))
        index = self._calls.get(key)
        if index is None:
            out += self._close_item()
            index = len(self._items)
            name = function.get("name") or ""
            call_id = call.get("id") or f"call_{self._ids.base}_{index}"
            custom = self._shape.is_custom(name)
            item = self._shape.call_item(name, item_id=self._ids.item(index, "ctc" if custom else "fc"),
                                         call_id=call_id, payload="")
            item["chat_name"] = name
            item["arguments"] = ""
            if not custom:
                item["status"] = "in_progress"
            self._items.append(item)
            self._calls[key] = index
            self._open = index
            out += self._event("response.output_item.added", output_index=index, item=_public(item))
        item = self._items[index]
        fragment = function.get("arguments")
        if isinstance(fragment, str) and fragment:
            item["arguments"] += fragment
            if item["type"] == "function_call":
                out += self._event("response.function_call_arguments.delta", item_id=item["id"],
                                   output_index=index, delta=fragment)
        return out

    def _close_item(self) -> bytes:
        if self._open is None:
            return b""
        index, self._open = self._open, None
        item = self._items[index]
        out = b""
        if item["type"] == "message":
            part = item["content"][0]
            out += self._event("response.output_text.done", item_id=item["id"], output_index=index,
                               content_index=0, text=part["text"], logprobs=[])
            out += self._event("response.content_part.done", item_id=item["id"], output_index=index,
                               content_index=0, part=dict(part))
            item["status"] = "completed"
        elif item["type"] == "custom_tool_call":
            item["input"] = custom_input(item.pop("arguments"))
            out += self._event("response.custom_tool_call_input.delta", item_id=item["id"],
                               output_index=index, delta=item["input"])
            out += self._event("response.custom_tool_call_input.done", item_id=item["id"],
                               output_index=index, input=item["input"])
        else:
            out += self._event("response.function_call_arguments.done", item_id=item["id"],
                               output_index=index, name=item["name"], arguments=item["arguments"])
            item["status"] = "completed"
        return out + self._event("response.output_item.done", output_index=index, item=_public(item))

    def _close(self) -> bytes:
        out = b"" if self._started else self._start({})
        out += self._close_item()
        final = self._snapshot()
        kind = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
        return out + self._event(kind, response=final)

    def _error_event(self, message: str) -> bytes:
        out = b"" if self._started else self._start({})
        failed = self._snapshot("failed")
        failed["error"] = {"code": "server_error", "message": message}
        return out + self._event("response.failed", response=failed)


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _public(item: dict[str, Any]) -> dict[str, Any]:
    """A copy of an item as clients see it (calls keep their chat name, custom ones their raw arguments,
    to themselves)."""
    out = dict(item)
    out.pop("chat_name", None)
    if out["type"] == "custom_tool_call":
        out.pop("arguments", None)
    return out

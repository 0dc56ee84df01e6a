"""Anthropic Messages client → OpenAI Chat upstream: the request down, the JSON response back up."""

from __future__ import annotations

import uuid
from typing import Any

from plano_daemon.errors import BadRequest
from plano_daemon.translate.chat_stream_to_anthropic import (
    ChatStreamToAnthropic,
    message_id,
)
from plano_daemon.translate.mappings import (
    arguments_to_input,
    image_to_chat,
    input_to_arguments,
    stop_reason,
    text_of,
    tool_choice_to_chat,
    tool_to_chat,
)
from plano_daemon.translate.stream_base import as_dict, as_int, as_list
from plano_daemon.translate.system_prompt import hosted_note, settle_system

_PASSED = ("temperature", "top_p", "stream")


def messages_to_chat(system: Any, messages: Any) -> list[dict[str, Any]]:
    """Anthropic system + messages → chat messages; tool results become tool messages, in order.

    System messages inside `messages` are placed as `settle_system` says (one system message, first)."""
    if not isinstance(messages, list):
        raise BadRequest("`messages` must be a list")
    out: list[dict[str, Any]] = []
    if isinstance(system, str) and system:
        out.append({"role": "system", "content": system})
    elif isinstance(system, list) and system:
        out.append({"role": "system", "content": [{"type": "text", "text": text_of([b])} for b in system]})
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict) or msg.get("role") not in ("user", "assistant", "system"):
            raise BadRequest(f"messages[{i}]: role must be 'user', 'assistant' or 'system'")
        content = msg.get("content")
        if msg["role"] == "system":  # Claude Code sends one at messages[1]; the API accepts it
            out.append({"role": "system", "content": text_of(content)})
        elif isinstance(content, str):
            out.append({"role": msg["role"], "content": content})
        elif not isinstance(content, list):
            raise BadRequest(f"messages[{i}].content must be a string or a list of blocks")
        elif msg["role"] == "assistant":
            out.append(_assistant_to_chat(content))
        else:
            out.extend(_user_to_chat(content))
    return settle_system(out)


def _assistant_to_chat(blocks: list[Any]) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    for block in blocks:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            parts.append({"type": "text", "text": block.get("text", "")})
        elif kind == "tool_use":
            calls.append({"id": block.get("id", ""), "type": "function",
                          "function": {"name": block.get("name", ""),
                                       "arguments": input_to_arguments(block.get("input"))}})
    msg: dict[str, Any] = {"role": "assistant", "content": parts or None}
    if calls:
        msg["tool_calls"] = calls
    return msg


def _user_to_chat(blocks: list[Any]) -> list[dict[str, Any]]:
    """Tool messages first (chat wants them right after the assistant's calls), then the rest."""
    tools: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for block in blocks:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            parts.append({"type": "text", "text": block.get("text", "")})
        elif kind == "image":
            parts.append(image_to_chat(block))
        elif kind == "tool_result":
            content = block.get("content", "")
            if isinstance(content, list):
                text = [{"type": "text", "text": b.get("text", "")} for b in content
                        if isinstance(b, dict) and b.get("type") == "text"]
                parts.extend(image_to_chat(b) for b in content if isinstance(b, dict) and b.get("type") == "image")
                content = text
            tools.append({"role": "tool", "tool_call_id": block.get("tool_use_id", ""), "content": content})
    if parts or not tools:
        return [*tools, {"role": "user", "content": parts}]
    return tools


class MessagesToChat:
    """One request's translation; it remembers what the response mapping needs (stop sequences)."""

    __slots__ = ("_stop_sequences", "_thinking")

    def __init__(self) -> None:
        self._stop_sequences: tuple[str, ...] = ()
        self._thinking = False

    def request(self, body: dict[str, Any], model_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {"model": model_id,
                               "messages": messages_to_chat(body.get("system"), body.get("messages"))}
        if "max_tokens" in body:
            out["max_tokens"] = body["max_tokens"]
        for key in _PASSED:
            if key in body:
                out[key] = body[key]
        if body.get("stream"):
            out["stream_options"] = {"include_usage": True}
        stops = body.get("stop_sequences")
        if isinstance(stops, list) and stops:
            out["stop"] = stops
            self._stop_sequences = tuple(s for s in stops if isinstance(s, str))
        given = body.get("tools")
        tools = [t for t in given if isinstance(t, dict)] if isinstance(given, list) else []
        client_tools = [t for t in tools if t.get("type") in (None, "custom")]
        if client_tools:
            out["tools"] = [tool_to_chat(t) for t in client_tools]
        hosted = [str(t.get("name") or t.get("type")) for t in tools if t.get("type") not in (None, "custom")]
        if hosted:  # server tools (web_search_20250305 ...) run on Anthropic's side only
            note = {"role": "system", "content": hosted_note(hosted)}
            out["messages"] = settle_system([note, *out["messages"]])
        choice, parallel = tool_choice_to_chat(body.get("tool_choice"))
        if choice is not None:
            out["tool_choice"] = choice
        if parallel is not None:
            out["parallel_tool_calls"] = parallel
        thinking = body.get("thinking")
        self._thinking = isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")
        metadata = body.get("metadata")
        if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
            out["user"] = metadata["user_id"]
        return out

    def response(self, body: dict[str, Any]) -> dict[str, Any]:
        choices = body.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
        message = as_dict(choice.get("message"))
        content: list[dict[str, Any]] = []
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        if self._thinking and isinstance(reasoning, str) and reasoning:
            content.append({"type": "thinking", "thinking": reasoning, "signature": ""})
        text = text_of(message.get("content"))
        if text:
            content.append({"type": "text", "text": text})
        calls = as_list(message.get("tool_calls"))
        for call in calls:
            function = call.get("function") or {}
            content.append({"type": "tool_use", "id": call.get("id") or f"toolu_{uuid.uuid4().hex[:24]}",
                            "name": function.get("name", ""),
                            "input": arguments_to_input(function.get("arguments"))})
        usage = as_dict(body.get("usage"))
        reason = stop_reason(choice.get("finish_reason"), has_tool_calls=bool(calls))
        matched = choice.get("stop_reason")
        sequence = matched if isinstance(matched, str) and matched in self._stop_sequences else None
        return {
            "id": message_id(body.get("id")),
            "type": "message",
            "role": "assistant",
            "model": body.get("model", ""),
            "content": content,
            "stop_reason": "stop_sequence" if sequence else reason,
            "stop_sequence": sequence,
            "usage": {"input_tokens": as_int(usage.get("prompt_tokens")),
                      "output_tokens": as_int(usage.get("completion_tokens"))},
        }

    def stream(self) -> ChatStreamToAnthropic:
        return ChatStreamToAnthropic(stop_sequences=self._stop_sequences, thinking=self._thinking)

"""OpenAI Chat client → Anthropic Messages upstream: the request down, the JSON response back up."""

from __future__ import annotations

import time
from typing import Any

from plano_daemon.errors import BadRequest
from plano_daemon.translate.anthropic_stream_to_chat import (
    AnthropicStreamToChat,
    chat_usage,
)
from plano_daemon.translate.mappings import (
    arguments_to_input,
    finish_reason,
    image_to_anthropic,
    input_to_arguments,
    tool_choice_to_anthropic,
    tool_to_anthropic,
)
from plano_daemon.translate.stream_base import as_dict, as_list

#: Anthropic requires max_tokens; chat does not. What we send when the client gave none.
DEFAULT_MAX_TOKENS = 4096


def chat_to_messages(messages: Any) -> tuple[Any, list[dict[str, Any]]]:
    """Chat messages → (Anthropic system, messages). System and developer messages become `system`;
    consecutive tool messages, and a user message right after them, become one user turn."""
    if not isinstance(messages, list):
        raise BadRequest("`messages` must be a list")
    system: list[Any] = []
    out: list[dict[str, Any]] = []
    tool_turn: dict[str, Any] | None = None  # the user turn collecting tool results
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            raise BadRequest(f"messages[{i}] must be an object")
        role = msg.get("role")
        content = msg.get("content")
        if role in ("system", "developer"):
            system.append(content)
            continue
        if role == "tool":
            block = {"type": "tool_result", "tool_use_id": msg.get("tool_call_id", ""),
                     "content": _tool_content(content)}
            if tool_turn is None:
                tool_turn = {"role": "user", "content": []}
                out.append(tool_turn)
            tool_turn["content"].append(block)
            continue
        if role == "user":
            blocks = _user_blocks(content)
            if tool_turn is not None:
                tool_turn["content"].extend(
                    [{"type": "text", "text": blocks}] if isinstance(blocks, str) else blocks)
            else:
                out.append({"role": "user", "content": blocks})
        elif role == "assistant":
            out.append(_assistant(msg))
        else:
            raise BadRequest(f"messages[{i}]: unknown role {role!r}")
        tool_turn = None
    return _system(system), merge_same_role(out)


def merge_same_role(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Consecutive turns of one role become one turn, their blocks in order, as the Anthropic API itself
    combines them; some Anthropic-compatible servers reject them instead."""
    out: list[dict[str, Any]] = []
    for msg in messages:
        if out and out[-1]["role"] == msg["role"]:
            out[-1] = {"role": msg["role"], "content": [*_blocks(out[-1]["content"]), *_blocks(msg["content"])]}
        else:
            out.append(msg)
    return out


def _blocks(content: Any) -> list[dict[str, Any]]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content)


def _system(parts: list[Any]) -> Any:
    if not parts:
        return None
    if len(parts) == 1 and isinstance(parts[0], str):
        return parts[0]
    blocks: list[dict[str, Any]] = []
    for content in parts:
        if isinstance(content, str):
            blocks.append({"type": "text", "text": content})
        elif isinstance(content, list):
            blocks.extend({"type": "text", "text": p.get("text", "")} for p in content if isinstance(p, dict))
    return blocks


def _tool_content(content: Any) -> Any:
    if isinstance(content, list):
        return [{"type": "text", "text": p.get("text", "")} for p in content
                if isinstance(p, dict) and p.get("type") == "text"]
    return content if isinstance(content, str) else ""


def _user_blocks(content: Any) -> Any:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise BadRequest("user message content must be a string or a list of parts")
    blocks: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            blocks.append({"type": "text", "text": part.get("text", "")})
        elif kind == "image_url":
            blocks.append(image_to_anthropic(part))
    return blocks


def _assistant(msg: dict[str, Any]) -> dict[str, Any]:
    content = msg.get("content")
    calls = msg.get("tool_calls")
    if isinstance(content, str) and not calls:
        return {"role": "assistant", "content": content}
    blocks: list[dict[str, Any]] = []
    if isinstance(content, str) and content:
        blocks.append({"type": "text", "text": content})
    elif isinstance(content, list):
        blocks.extend({"type": "text", "text": p.get("text", "")} for p in content
                      if isinstance(p, dict) and p.get("type") == "text")
    for call in calls if isinstance(calls, list) else []:
        function = call.get("function") or {}
        blocks.append({"type": "tool_use", "id": call.get("id", ""), "name": function.get("name", ""),
                       "input": arguments_to_input(function.get("arguments"))})
    return {"role": "assistant", "content": blocks}


class ChatToMessages:
    """One request's translation; it remembers whether the client asked for usage in the stream."""

    __slots__ = ("_include_usage", "_created")

    def __init__(self, *, created: int | None = None) -> None:
        self._include_usage = False
        self._created = created if created is not None else int(time.time())

    def request(self, body: dict[str, Any], model_id: str) -> dict[str, Any]:
        system, messages = chat_to_messages(body.get("messages"))
        out: dict[str, Any] = {"model": model_id, "messages": messages}
        if system is not None:
            out["system"] = system
        out["max_tokens"] = body.get("max_completion_tokens") or body.get("max_tokens") or DEFAULT_MAX_TOKENS
        temperature = body.get("temperature")
        if isinstance(temperature, (int, float)):
            out["temperature"] = min(temperature, 1.0)  # Anthropic's range is 0..1, OpenAI's 0..2
        if "top_p" in body:
            out["top_p"] = body["top_p"]
        stop = body.get("stop")
        if isinstance(stop, str):
            out["stop_sequences"] = [stop]
        elif isinstance(stop, list) and stop:
            out["stop_sequences"] = stop
        tools = body.get("tools")
        if isinstance(tools, list) and tools:
            out["tools"] = [tool_to_anthropic(t) for t in tools if isinstance(t, dict)]
        choice = tool_choice_to_anthropic(body.get("tool_choice"), body.get("parallel_tool_calls"))
        if choice is not None:
            out["tool_choice"] = choice
        if isinstance(body.get("user"), str):
            out["metadata"] = {"user_id": body["user"]}
        if body.get("stream"):
            out["stream"] = True
            options = body.get("stream_options")
            self._include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        elif "stream" in body:
            out["stream"] = False
        return out

    def response(self, body: dict[str, Any]) -> dict[str, Any]:
        blocks = as_list(body.get("content"))
        text = "".join(b.get("text", "") for b in blocks if isinstance(b, dict) and b.get("type") == "text")
        thinking = "".join(b.get("thinking", "") for b in blocks
                           if isinstance(b, dict) and b.get("type") == "thinking")
        calls = [{"id": b.get("id", ""), "type": "function",
                  "function": {"name": b.get("name", ""), "arguments": input_to_arguments(b.get("input"))}}
                 for b in blocks if isinstance(b, dict) and b.get("type") == "tool_use"]
        message: dict[str, Any] = {"role": "assistant", "content": text or None}
        if thinking:
            message["reasoning_content"] = thinking
        if calls:
            message["tool_calls"] = calls
        usage = as_dict(body.get("usage"))
        return {
            "id": body.get("id", ""),
            "object": "chat.completion",
            "created": self._created,
            "model": body.get("model", ""),
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": finish_reason(body.get("stop_reason"))}],
            "usage": chat_usage(usage),
        }

    def stream(self) -> AnthropicStreamToChat:
        return AnthropicStreamToChat(include_usage=self._include_usage, created=self._created)

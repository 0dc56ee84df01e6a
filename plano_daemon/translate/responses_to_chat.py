"""OpenAI Responses client → OpenAI Chat upstream: the request down, the JSON response back up.

Custom tools (free-form text input, e.g. Codex's apply_patch) become function tools with a single
string parameter `input`; calls to them come back as `custom_tool_call` items with that string.
"""

from __future__ import annotations

import time
from typing import Any

from plano_daemon.errors import BadRequest
from plano_daemon.translate.chat_stream_to_responses import (
    ChatStreamToResponses,
    ResponseShape,
    custom_input,
    response_ids,
    responses_usage,
)
from plano_daemon.translate.mappings import input_to_arguments, text_of
from plano_daemon.translate.system_prompt import settle_system

_PASSED = ("temperature", "top_p", "parallel_tool_calls", "user", "stream")
_NO_STATE = ("previous_response_id is not supported for this model: its upstream speaks Chat Completions, "
             "so the gateway would have to store responses; send the whole conversation in `input`")


def input_to_messages(instructions: Any, items: Any) -> list[dict[str, Any]]:
    """Responses `instructions` + `input` → chat messages; function calls and outputs stay in order."""
    out: list[dict[str, Any]] = []
    if isinstance(instructions, str) and instructions:
        out.append({"role": "system", "content": instructions})
    if isinstance(items, str):
        out.append({"role": "user", "content": items})
        return out
    if not isinstance(items, list):
        raise BadRequest("`input` must be a string or a list of items")
    calls: dict[str, Any] | None = None  # the assistant message collecting consecutive calls
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise BadRequest(f"input[{i}] must be an object")
        kind = item.get("type", "message")
        if kind in ("function_call", "custom_tool_call"):
            if calls is None:
                calls = {"role": "assistant", "content": None, "tool_calls": []}
                out.append(calls)
            arguments = (item.get("arguments", "") if kind == "function_call"
                         else input_to_arguments({"input": item.get("input", "")}))
            calls["tool_calls"].append({"id": item.get("call_id", ""), "type": "function",
                                        "function": {"name": item.get("name", ""), "arguments": arguments}})
            continue
        calls = None
        if kind in ("function_call_output", "custom_tool_call_output"):
            output = item.get("output", "")
            out.append({"role": "tool", "tool_call_id": item.get("call_id", ""),
                        "content": output if isinstance(output, str) else text_of(output)})
        elif kind == "message":
            out.append(_message(item, i))
        elif kind not in ("reasoning", "item_reference"):
            raise BadRequest(f"input[{i}]: item type {kind!r} cannot be sent to a chat upstream")
    return settle_system(out)


def _message(item: dict[str, Any], i: int) -> dict[str, Any]:
    role = item.get("role")
    if role not in ("user", "assistant", "system", "developer"):
        raise BadRequest(f"input[{i}]: unknown role {role!r}")
    role = "system" if role == "developer" else role
    content = item.get("content")
    if isinstance(content, str) or role != "user":
        return {"role": role, "content": content if isinstance(content, str) else text_of(content)}
    if not isinstance(content, list):
        raise BadRequest(f"input[{i}].content must be a string or a list of parts")
    parts: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text", "text"):
            parts.append({"type": "text", "text": part.get("text", "")})
        elif kind == "input_image" and part.get("image_url"):
            image: dict[str, Any] = {"url": part["image_url"]}
            if part.get("detail"):
                image["detail"] = part["detail"]
            parts.append({"type": "image_url", "image_url": image})
    return {"role": "user", "content": parts}


def tools_to_chat(tools: Any) -> tuple[list[dict[str, Any]], frozenset[str]]:
    """Function and custom tools → chat function tools, and the names of the custom ones.

    Hosted tools (web_search, file_search, ...) have no meaning on a chat upstream and are left out.
    """
    out: list[dict[str, Any]] = []
    custom: set[str] = set()
    for tool in tools if isinstance(tools, list) else []:
        if not isinstance(tool, dict):
            continue
        name = tool.get("name", "")
        if tool.get("type") == "function":
            function: dict[str, Any] = {"name": name}
            if tool.get("description"):
                function["description"] = tool["description"]
            function["parameters"] = tool.get("parameters") or {"type": "object", "properties": {}}
            if tool.get("strict") is not None:
                function["strict"] = tool["strict"]
            out.append({"type": "function", "function": function})
        elif tool.get("type") == "custom":
            custom.add(name)
            out.append({"type": "function", "function": {
                "name": name, "description": tool.get("description") or f"Call {name} with free-form text.",
                "parameters": {"type": "object", "properties": {"input": {"type": "string"}},
                               "required": ["input"]}}})
    return out, frozenset(custom)


def _tool_choice(choice: Any) -> Any:
    if isinstance(choice, dict) and choice.get("type") in ("function", "custom") and choice.get("name"):
        return {"type": "function", "function": {"name": choice["name"]}}
    return choice if choice in ("auto", "none", "required") else None


def _response_format(text: Any) -> dict[str, Any] | None:
    fmt = text.get("format") if isinstance(text, dict) else None
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_object":
        return {"type": "json_object"}
    if fmt.get("type") == "json_schema":
        schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if k in fmt}
        return {"type": "json_schema", "json_schema": schema}
    return None


class ResponsesToChat:
    """One request's translation; it remembers what the response echoes (tools, instructions ...)."""

    __slots__ = ("_shape", "_created")

    def __init__(self, *, created: int | None = None) -> None:
        self._created = created if created is not None else int(time.time())
        self._shape = ResponseShape()

    def request(self, body: dict[str, Any], model_id: str) -> dict[str, Any]:
        if body.get("previous_response_id"):
            raise BadRequest(_NO_STATE)
        out: dict[str, Any] = {"model": model_id,
                               "messages": input_to_messages(body.get("instructions"), body.get("input"))}
        tools, custom = tools_to_chat(body.get("tools"))
        if tools:
            out["tools"] = tools
        choice = _tool_choice(body.get("tool_choice"))
        if choice is not None and tools:
            out["tool_choice"] = choice
        for key in _PASSED:
            if key in body:
                out[key] = body[key]
        if "parallel_tool_calls" in out and not tools:
            del out["parallel_tool_calls"]
        if body.get("stream"):
            out["stream_options"] = {"include_usage": True}
        if isinstance(body.get("max_output_tokens"), int):
            out["max_tokens"] = body["max_output_tokens"]
        reasoning = body.get("reasoning")
        if isinstance(reasoning, dict) and reasoning.get("effort"):
            out["reasoning_effort"] = reasoning["effort"]
        fmt = _response_format(body.get("text"))
        if fmt is not None:
            out["response_format"] = fmt
        self._shape = ResponseShape.from_request(body, custom)
        return out

    def response(self, body: dict[str, Any]) -> dict[str, Any]:
        choices = body.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
        message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
        ids = response_ids(body.get("id"))
        output: list[dict[str, Any]] = []
        text = text_of(message.get("content"))
        if text:
            output.append({"type": "message", "id": ids.item(0), "status": "completed", "role": "assistant",
                           "content": [{"type": "output_text", "text": text, "annotations": [],
                                        "logprobs": []}]})
        calls = message.get("tool_calls") if isinstance(message.get("tool_calls"), list) else []
        for call in calls:
            function = call.get("function") if isinstance(call, dict) else None
            if not isinstance(function, dict):
                continue
            name = function.get("name", "")
            arguments = function.get("arguments") or ""
            if name in self._shape.custom:
                output.append({"type": "custom_tool_call", "id": ids.item(len(output), "ctc"),
                               "call_id": call.get("id", ""), "name": name, "input": custom_input(arguments),
                               "status": "completed"})
            else:
                output.append({"type": "function_call", "id": ids.item(len(output), "fc"),
                               "call_id": call.get("id", ""), "name": name, "arguments": arguments,
                               "status": "completed"})
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        return self._shape.render(ids.response, created_at=self._created, model=body.get("model", ""),
                                  output=output, finish_reason=choice.get("finish_reason"),
                                  usage=responses_usage(usage))

    def stream(self) -> ChatStreamToResponses:
        return ChatStreamToResponses(shape=self._shape, created=self._created)

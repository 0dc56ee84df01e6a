"""What corresponds to what between Anthropic Messages and OpenAI Chat: stop reasons, images, tools.

Both directions live side by side so that each pair of functions is visibly an inverse.
"""

from __future__ import annotations

import json
import re
from typing import Any

from plano_daemon.errors import BadRequest

FINISH_TO_STOP = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
STOP_TO_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}

_DATA_URL = re.compile(r"^data:([^;,]+);base64,(.*)$", re.DOTALL)


def stop_reason(finish_reason: Any, *, has_tool_calls: bool) -> str:
    """Anthropic stop_reason; a tool call reported as a plain stop still means the client must act."""
    reason = FINISH_TO_STOP.get(finish_reason, "end_turn") if isinstance(finish_reason, str) else "end_turn"
    if has_tool_calls and reason == "end_turn":
        return "tool_use"
    return reason


def finish_reason(stop: Any) -> str:
    return STOP_TO_FINISH.get(stop, "stop") if isinstance(stop, str) else "stop"


def image_to_chat(block: dict[str, Any]) -> dict[str, Any]:
    """Anthropic image block (base64 or URL source) → chat image_url part."""
    source = block.get("source")
    if not isinstance(source, dict):
        raise BadRequest("image block without a source")
    if source.get("type") == "base64":
        url = f"data:{source.get('media_type', 'image/png')};base64,{source.get('data', '')}"
    elif source.get("type") == "url":
        url = str(source.get("url", ""))
    else:
        raise BadRequest(f"image source type {source.get('type')!r} cannot be sent to a chat upstream")
    return {"type": "image_url", "image_url": {"url": url}}


def image_to_anthropic(part: dict[str, Any]) -> dict[str, Any]:
    """Chat image_url part → Anthropic image block; data URLs become base64 sources."""
    image = part.get("image_url")
    url = image.get("url", "") if isinstance(image, dict) else str(image or "")
    m = _DATA_URL.match(url)
    if m:
        return {"type": "image", "source": {"type": "base64", "media_type": m.group(1), "data": m.group(2)}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def tool_to_chat(tool: dict[str, Any]) -> dict[str, Any]:
    """Anthropic tool (input_schema) → chat function tool (parameters)."""
    function: dict[str, Any] = {"name": tool.get("name", "")}
    if "description" in tool:
        function["description"] = tool["description"]
    function["parameters"] = tool.get("input_schema") or {"type": "object", "properties": {}}
    return {"type": "function", "function": function}


def tool_to_anthropic(tool: dict[str, Any]) -> dict[str, Any]:
    """Chat function tool → Anthropic tool; a missing schema means "no arguments"."""
    function: dict[str, Any] = tool["function"] if isinstance(tool.get("function"), dict) else tool
    out: dict[str, Any] = {"name": function.get("name", "")}
    if "description" in function:
        out["description"] = function["description"]
    out["input_schema"] = function.get("parameters") or {"type": "object", "properties": {}}
    return out


def tool_choice_to_chat(choice: Any) -> tuple[Any, bool | None]:
    """Anthropic tool_choice → (chat tool_choice or None, parallel_tool_calls or None)."""
    if not isinstance(choice, dict):
        return None, None
    kind = choice.get("type")
    parallel = False if choice.get("disable_parallel_tool_use") else None
    if kind == "any":
        return "required", parallel
    if kind == "none":
        return "none", parallel
    if kind == "tool":
        return {"type": "function", "function": {"name": choice.get("name", "")}}, parallel
    return "auto", parallel


def tool_choice_to_anthropic(choice: Any, parallel: Any) -> dict[str, Any] | None:
    """Chat tool_choice and parallel_tool_calls → Anthropic tool_choice (or None: the default)."""
    out: dict[str, Any] | None
    if choice == "required":
        out = {"type": "any"}
    elif choice == "none":
        out = {"type": "none"}
    elif choice == "auto":
        out = {"type": "auto"}
    elif isinstance(choice, dict):
        function: dict[str, Any] = choice["function"] if isinstance(choice.get("function"), dict) else choice
        out = {"type": "tool", "name": function.get("name", "")}
    else:
        out = None
    if parallel is False:
        out = {**(out or {"type": "auto"}), "disable_parallel_tool_use": True}
    return out


def arguments_to_input(arguments: Any) -> dict[str, Any]:
    """Chat tool-call arguments (a JSON string) → Anthropic tool input (an object).

    Models do emit broken JSON; rather than lose it, a non-object is kept under `arguments`.
    """
    if isinstance(arguments, dict):
        return arguments
    if not arguments:
        return {}
    try:
        value = json.loads(arguments)
    except (TypeError, ValueError):
        return {"arguments": arguments}
    return value if isinstance(value, dict) else {"arguments": value}


def input_to_arguments(value: Any) -> str:
    return json.dumps(value if value is not None else {}, ensure_ascii=False, separators=(",", ":"))


def text_of(content: Any) -> str:
    """The text in a string or a list of text parts/blocks (other kinds are skipped)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content
                       if isinstance(p, dict) and p.get("type") in ("text", "input_text", "output_text"))
    return ""

"""What the user said, whatever API shape the request came in: chat, Anthropic Messages or Responses.

Routing only looks at user and assistant text: system/developer prompts, tool traffic and empty
messages say nothing about the user's intent and are dropped here, once, for every router backend.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_KEPT_ROLES = frozenset({"user", "assistant"})
_TEXT_PART_TYPES = frozenset({"text", "input_text", "output_text"})


@dataclass(frozen=True, slots=True)
class Turn:
    role: str
    content: str


def extract_conversation(body: dict[str, Any]) -> list[Turn]:
    """User and assistant turns with text, oldest first, from `messages` or Responses `input`."""
    if "messages" in body:
        items = body.get("messages")
    else:
        items = body.get("input")
        if isinstance(items, str):
            return [Turn("user", items)] if items.strip() else []
    if not isinstance(items, list):
        return []
    turns: list[Turn] = []
    for item in items:
        turn = _turn(item)
        if turn is not None:
            turns.append(turn)
    return turns


def latest_user_text(turns: list[Turn]) -> str:
    """The newest user turn: what the router must classify."""
    for turn in reversed(turns):
        if turn.role == "user":
            return turn.content
    return ""


def _turn(item: Any) -> Turn | None:
    if not isinstance(item, dict):
        return None
    kind = item.get("type")
    if kind is not None and kind != "message":
        return None  # Responses function_call, function_call_output, reasoning ...
    role = item.get("role")
    if not isinstance(role, str) or role not in _KEPT_ROLES:  # a client may send any JSON as the role
        return None
    text = _text(item.get("content")).strip()
    return Turn(role, text) if text else None


def _text(content: Any) -> str:
    """Plain text of a content field; tool_use/tool_result/image blocks carry no intent and are skipped."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "\n".join(_part_texts(content))


def _part_texts(parts: Iterable[Any]) -> Iterable[str]:
    for part in parts:
        if isinstance(part, str):
            yield part
        elif isinstance(part, dict) and isinstance(part.get("type"), str) and part["type"] in _TEXT_PART_TYPES:
            text = part.get("text")
            if isinstance(text, str) and text:
                yield text

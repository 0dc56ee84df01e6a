"""Token usage read from the JSON the gateway already parsed (a whole answer, or one stream event), per
API. A parser, not a pattern over bytes: a tool argument named `output_tokens` is content, not usage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Usage:
    """Tokens reported by the upstream so far; zero when it reported none."""

    input_tokens: int = 0
    output_tokens: int = 0


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _note(api: str, usage: Any, into: Usage) -> None:
    """Merge one `usage` object; Anthropic sends input and output in different events, so a missing
    field keeps what an earlier event said."""
    if not isinstance(usage, dict):
        return
    if api == "chat":
        into.input_tokens = _int(usage.get("prompt_tokens")) or into.input_tokens
        into.output_tokens = _int(usage.get("completion_tokens")) or into.output_tokens
        return
    inputs = _int(usage.get("input_tokens"))
    if api == "messages":  # cached prompt tokens are prompt tokens too (as OpenAI counts them)
        inputs += _int(usage.get("cache_read_input_tokens")) + _int(usage.get("cache_creation_input_tokens"))
    into.input_tokens = inputs or into.input_tokens
    into.output_tokens = _int(usage.get("output_tokens")) or into.output_tokens


def answer_usage(api: str, body: Any) -> Usage:
    """The usage of one whole (non-streaming) answer of `api`."""
    usage = Usage()
    if isinstance(body, dict):
        _note(api, body.get("usage"), usage)
    return usage


def note_event_usage(api: str, event: dict[str, Any], into: Usage) -> None:
    """Fold the usage one stream event of `api` carries (if any) into `into`."""
    if api == "chat":
        _note(api, event.get("usage"), into)
    elif api == "messages":
        kind = event.get("type")
        if kind == "message_start":
            message = event.get("message")
            _note(api, message.get("usage") if isinstance(message, dict) else None, into)
        elif kind == "message_delta":
            _note(api, event.get("usage"), into)
    else:
        response = event.get("response")
        if isinstance(response, dict):
            _note(api, response.get("usage"), into)

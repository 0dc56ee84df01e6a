"""Is this what an upstream of that API answers? The minimal shape each API promises, checked before a
byte reaches the client, so that a 200 carrying HTML, an empty body or JSON of another shape is an
upstream failure (failed over), never an empty "success"."""

from __future__ import annotations

from typing import Any

#: The events that end a stream normally, per upstream API (chat ends with `data: [DONE]`).
STREAM_END = {"messages": frozenset({"message_stop"}),
              "responses": frozenset({"response.completed", "response.incomplete"})}


def answer_problem(api: str, body: Any) -> str | None:
    """Why `body` (parsed JSON) is not a whole answer of `api`, or None when it is one."""
    if not isinstance(body, dict):
        return "the answer is not a JSON object"
    if api == "chat":
        choices = body.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict) \
                or not isinstance(choices[0].get("message"), dict):
            return "the answer has no choices[0].message"
    elif api == "messages":
        if body.get("type") != "message" or not isinstance(body.get("content"), list):
            return "the answer is not a message with a content list"
    elif not isinstance(body.get("output"), list):
        return "the answer is not a response with an output list"
    return None


def stream_event_kind(api: str, event: Any) -> str | None:
    """What one parsed stream event of `api` is: "error", "end", "event"; None when it is not an event
    of that API at all."""
    if api == "chat":
        return chat_event_kind(event)
    if not isinstance(event, dict):
        return None
    kind = event.get("type")
    if not isinstance(kind, str):
        return None
    if kind in ("error", "response.failed"):
        return "error"
    return "end" if kind in STREAM_END[api] else "event"


def chat_event_kind(event: Any) -> str | None:
    """`stream_event_kind` of a chat.completion.chunk stream (ended by `[DONE]`, not by an event)."""
    if not isinstance(event, dict):
        return None
    if "error" in event and "choices" not in event:
        return "error"
    return "event" if isinstance(event.get("choices"), list) else None


def stream_error_message(event: dict[str, Any]) -> str:
    """The message of an error event (chat/messages `error`, responses `response.failed`)."""
    err = event.get("error")
    if err is None and isinstance(event.get("response"), dict):
        err = event["response"].get("error")
    message = err.get("message") if isinstance(err, dict) else err
    return str(message or event.get("message") or "the upstream reported an error in the stream")

"""What every relayed stream shares: SSE bytes in, whole events one at a time, SSE bytes out, a checked end.

`SSEStream` holds the state and the skeleton (feed, finish, error, `started`/`done`/`failure`/`usage`/
`anomalies`); a subclass says what one upstream event becomes (`_on_event`) and how its terminal error
looks (`_error_event`). The same-API pass-through (translate/passthrough.py) is one; `StreamTranslatorBase`,
the base of the translators, is the other: it hands decoded JSON events to `_on_json` (one upstream event),
`_close` (the closing events after the upstream's own end event, `[DONE]`) and `_error_event`.

Guaranteed for any chunking of the upstream bytes: events reach the subclass in order and complete; an
event that is not JSON, or that the subclass does not understand, is forwarded as an SSE comment (visible
on the wire, ignored by every SDK) and counted in `anomalies`; nothing is emitted after the terminal event.
An upstream that stops before its end event ([DONE], message_stop) gets an error event, never a made-up
normal ending; `failure` then says why (also after an error the upstream sent, or `error()`).
"""

from __future__ import annotations

from typing import Any

import orjson

from plano_daemon.json_codec import dumps, loads
from plano_daemon.wire.sse import LF, SSEEvent, SSEParser, comment
from plano_daemon.wire.usage import Usage

TRUNCATED = "the upstream stream ended before its end event"
EMPTY = "the upstream stream ended without an answer"


def sse(obj: dict[str, Any], event: str | None = None) -> bytes:
    """One SSE event of `obj` in compact JSON, which holds no newline: a single `data:` line."""
    data = b"data: " + dumps(obj) + b"\n\n"
    return b"event: " + event.encode() + b"\n" + data if event else data


def is_done(data: bytes) -> bool:
    """An event's data is `[DONE]` (OpenAI's end of stream), whitespace around it allowed."""
    if data == b"[DONE]":
        return True
    return data[:1] != b"{" and data.decode("utf-8", errors="replace").strip() == "[DONE]"


def event_json(data: bytes) -> Any:
    """An event's data parsed as JSON, or None when it is not JSON. orjson reads the bytes as sent; what it
    refuses is read by `text_json`. (Hot loops inline the orjson call and use `text_json` on its error.)"""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return text_json(data)


def text_json(data: bytes) -> Any:
    """Event data orjson refused, read as text as the SSE spec decodes it (invalid UTF-8 replaced,
    whitespace stripped), by `json_codec.loads`; None when it is not JSON."""
    try:
        return loads(data.decode("utf-8", errors="replace").strip())
    except (ValueError, RecursionError):
        return None


def as_int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def as_dict(value: Any) -> dict[str, Any]:
    """A wire field that should be an object, or {} (upstreams send null or the wrong type)."""
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    """A wire field that should be an array, or []."""
    return value if isinstance(value, list) else []


class SSEStream:
    """Feed upstream SSE bytes in any chunking; get client SSE bytes back."""

    __slots__ = ("_parser", "_done", "_answered", "failure", "usage", "anomalies")

    def __init__(self, *, comments: bool = False) -> None:
        """`comments`: keep-alive comments reach `_on_event` too, as events with no name and no data (the
        pass-through relays them)."""
        self._parser = SSEParser(comments=comments)
        self._done = False
        self._answered = False
        self.failure: str | None = None
        self.usage = Usage()
        self.anomalies = 0

    @property
    def started(self) -> bool:
        """True once an answer has begun: an understood event, not the terminal one, produced client bytes."""
        return self._answered

    @property
    def done(self) -> bool:
        """True once the terminal event (stop, [DONE], completed or error) was emitted."""
        return self._done

    def feed(self, chunk: bytes) -> bytes:
        out: list[bytes] = []
        for block in self._parser.blocks(chunk):  # the parser's `feed`, without an event record per event
            if self._done:
                break
            if block[:6] == b"data: " and LF not in block:  # one `data: ` line
                out.append(self._on_event(None, block[6:], block))
            elif (ev := self._parser.event(block)) is not None:
                out.append(self._on_event(ev.event, ev.data, block))
        return b"".join(out)

    def finish(self) -> bytes:
        """At upstream EOF: any event still buffered; if the upstream never sent its end event, the
        client's terminal error event (a cut stream is a failure, not a short answer)."""
        out = self._translate(self._at_eof(self._parser.flush()))
        return out + self.error(TRUNCATED if self._answered else EMPTY)

    def error(self, message: str) -> bytes:
        """A terminal error event in the client's dialect; nothing if the stream already ended."""
        if self._done:
            return b""
        self._done = True
        self.failure = message
        return self._error_event(message)

    def _translate(self, events: list[SSEEvent]) -> bytes:
        out: list[bytes] = []
        for ev in events:
            if self._done:
                break
            out.append(self._on_event(ev.event, ev.data, ev.raw))
        return b"".join(out)

    def _at_eof(self, events: list[SSEEvent]) -> list[SSEEvent]:
        """The events left in the parser at EOF that still count (by default all of them)."""
        return events

    def _on_event(self, event: str | None, data: bytes, raw: bytes) -> bytes:
        """Client bytes for one upstream event (maybe b""): its name, its data and its bytes as received
        (the blank line after them may be left off)."""
        raise NotImplementedError

    def _error_event(self, message: str) -> bytes:
        raise NotImplementedError


class StreamTranslatorBase(SSEStream):
    """A stream translated into another API: JSON events in, the subclass's events out."""

    __slots__ = ()

    def _on_event(self, event: str | None, data: bytes, raw: bytes) -> bytes:
        if data[:1] != b"{" and is_done(data):
            return self._close_done() if self._answered else self.error(EMPTY)
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            obj = text_json(data)
        produced = self._on_json(event, obj) if isinstance(obj, dict) else None
        if produced is None:
            self.anomalies += 1
            return comment(raw)
        self._answered = self._answered or (bool(produced) and not self._done)
        return produced

    def _close_done(self) -> bytes:
        self._done = True
        return self._close()

    def _upstream_error(self, obj: dict[str, Any]) -> bytes:
        """An error the upstream reported inside the stream becomes the client's terminal error."""
        err = obj.get("error")
        message = err.get("message") if isinstance(err, dict) else err
        return self.error(str(message or "upstream reported an error"))

    def _on_json(self, event: str | None, obj: dict[str, Any]) -> bytes | None:
        """Client bytes for one upstream event (maybe b""), or None when the event is not understood."""
        raise NotImplementedError

    def _close(self) -> bytes:
        raise NotImplementedError


class ChatChunkStream(StreamTranslatorBase):
    """Base of the translators reading an OpenAI chat.completion.chunk stream: an in-stream error, the
    first chunk, usage and the first choice are recognised here once; subclasses render `_start` (which
    sets `_started`) and `_on_choice`."""

    __slots__ = ("_started", "_raw_usage")

    def __init__(self) -> None:
        super().__init__()
        self._started = False
        self._raw_usage: dict[str, Any] = {}

    def _on_json(self, event: str | None, obj: dict[str, Any]) -> bytes | None:
        if "error" in obj and "choices" not in obj:
            return self._upstream_error(obj)
        choices = obj.get("choices", [] if isinstance(obj.get("usage"), dict) else None)
        if not isinstance(choices, list):  # not a chat.completion.chunk (a usage-only one may omit choices)
            return None
        out: list[bytes] = []
        if not self._started:
            out.append(self._start(obj))
        usage = obj.get("usage")
        if isinstance(usage, dict):
            self._raw_usage = usage
            self.usage.input_tokens = as_int(usage.get("prompt_tokens"))
            self.usage.output_tokens = as_int(usage.get("completion_tokens"))
        for choice in choices:
            if isinstance(choice, dict) and choice.get("index", 0) == 0:
                out.extend(self._on_choice(choice))
        return b"".join(out)

    def _start(self, chunk: dict[str, Any]) -> bytes:
        raise NotImplementedError

    def _on_choice(self, choice: dict[str, Any]) -> list[bytes]:
        """Client bytes for the first choice of one chunk."""
        raise NotImplementedError

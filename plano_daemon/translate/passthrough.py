"""A stream relayed in the client's own API, watched: bytes go out whole events at a time (so an error
event written after a failure never lands inside half an event), usage is parsed from the events, and
the end is checked: a stream that stops before its end event, or holds no event of its API, fails."""

from __future__ import annotations

from typing import Any

from plano_daemon.json_codec import loads
from plano_daemon.wire.answers import stream_error_message, stream_event_kind
from plano_daemon.wire.sse import SSEEvent, SSEParser, comment
from plano_daemon.wire.stream_errors import stream_error_event
from plano_daemon.wire.usage import Usage, note_event_usage

TRUNCATED = "the upstream stream ended before its end event"
EMPTY = "the upstream stream ended without an answer"


class PassThroughStream:
    """The StreamTranslator of a same-API stream (see translate/__init__)."""

    __slots__ = ("_api", "_parser", "_done", "_started", "failure", "usage", "anomalies")

    def __init__(self, api: str) -> None:
        self._api = api
        self._parser = SSEParser(comments=True)
        self._done = False
        self._started = False
        self.failure: str | None = None
        self.usage = Usage()
        self.anomalies = 0

    @property
    def done(self) -> bool:
        return self._done

    @property
    def started(self) -> bool:
        """True once an event of the API (not an error) went out: the client has an answer begun."""
        return self._started

    def feed(self, chunk: bytes) -> bytes:
        return self._relay(self._parser.feed(chunk))

    def finish(self) -> bytes:
        """At EOF: a last event lacking only its blank line still counts; a torn one is dropped."""
        out = self._relay([ev for ev in self._parser.flush() if _whole(self._api, ev)])
        if self._done:
            return out
        return out + self.error(TRUNCATED if self._started else EMPTY)

    def error(self, message: str) -> bytes:
        if self._done:
            return b""
        self._done = True
        self.failure = message
        return stream_error_event(self._api, message)

    def _relay(self, events: list[SSEEvent]) -> bytes:
        out: list[bytes] = []
        for ev in events:
            if self._done:
                break
            if ev.event is None and not ev.data:  # a keep-alive comment: passed on, it keeps the client waiting
                out.append(ev.raw)
                continue
            data = ev.data.strip()
            if data == "[DONE]" and self._api == "chat":
                if not self._started:
                    out.append(self.error(EMPTY))
                    break
                self._done = True
                out.append(ev.raw)
                continue
            try:
                obj: Any = loads(data)
            except ValueError:
                obj = None
            kind = stream_event_kind(self._api, obj)
            if kind is None:  # not an event of this API: kept visible as a comment, which every SDK ignores
                self.anomalies += 1
                out.append(comment(ev.raw))
                continue
            note_event_usage(self._api, obj, self.usage)
            if kind == "error":  # already in the client's dialect: relayed as sent, and the stream failed
                self._done = True
                self.failure = stream_error_message(obj)
            elif kind == "end":
                self._done = True
            else:
                self._started = True
            out.append(ev.raw)
        return b"".join(out)


def _whole(api: str, ev: SSEEvent) -> bool:
    data = ev.data.strip()
    if data == "[DONE]":
        return True
    try:
        return stream_event_kind(api, loads(data)) is not None
    except ValueError:
        return False

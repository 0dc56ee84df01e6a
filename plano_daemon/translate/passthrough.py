"""A stream relayed in the client's own API, watched: bytes go out whole events at a time (so an error
event written after a failure never lands inside half an event), usage is parsed from the events, and
the end is checked: a stream that stops before its end event, or holds no event of its API, fails."""

from __future__ import annotations

from plano_daemon.translate.stream_base import EMPTY, SSEStream, event_json, is_done
from plano_daemon.wire.answers import stream_error_message, stream_event_kind
from plano_daemon.wire.sse import SSEEvent, comment
from plano_daemon.wire.stream_errors import stream_error_event
from plano_daemon.wire.usage import note_event_usage


class PassThroughStream(SSEStream):
    """The StreamTranslator of a same-API stream (see translate/__init__): each event relayed as sent."""

    __slots__ = ("_api",)

    def __init__(self, api: str) -> None:
        super().__init__(comments=True)
        self._api = api

    def _at_eof(self, events: list[SSEEvent]) -> list[SSEEvent]:
        """A last event lacking only its blank line still counts; a torn one is dropped."""
        return [ev for ev in events if _whole(self._api, ev)]

    def _error_event(self, message: str) -> bytes:
        return stream_error_event(self._api, message)

    def _on_event(self, ev: SSEEvent) -> bytes:
        if ev.event is None and not ev.data:  # a keep-alive comment: passed on, it keeps the client waiting
            return ev.raw
        if self._api == "chat" and is_done(ev.data):
            if not self._answered:
                return self.error(EMPTY)
            self._done = True
            return ev.raw
        obj = event_json(ev.data)
        kind = stream_event_kind(self._api, obj)
        if kind is None:  # not an event of this API: kept visible as a comment, which every SDK ignores
            self.anomalies += 1
            return comment(ev.raw)
        note_event_usage(self._api, obj, self.usage)
        if kind == "error":  # already in the client's dialect: relayed as sent, and the stream failed
            self._done = True
            self.failure = stream_error_message(obj)
        elif kind == "end":
            self._done = True
        else:
            self._answered = True
        return ev.raw


def _whole(api: str, ev: SSEEvent) -> bool:
    return is_done(ev.data) or stream_event_kind(api, event_json(ev.data)) is not None

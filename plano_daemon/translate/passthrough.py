"""A stream relayed in the client's own API, watched: bytes go out whole events at a time (so an error
event written after a failure never lands inside half an event), usage is parsed from the events, and
the end is checked: a stream that stops before its end event, or holds no event of its API, fails.

Every event is parsed and checked, once, on the hot path (`_check`): what it is (`chat_event_kind`,
`stream_event_kind`) and the usage it carries; the usage parser runs only on the events with usage."""

from __future__ import annotations

import orjson

from plano_daemon.translate.stream_base import EMPTY, SSEStream, event_json, is_done, text_json
from plano_daemon.wire.answers import chat_event_kind, stream_error_message, stream_event_kind
from plano_daemon.wire.sse import LF, SSEEvent, comment
from plano_daemon.wire.stream_errors import stream_error_event
from plano_daemon.wire.usage import note_event_usage


class PassThroughStream(SSEStream):
    """The StreamTranslator of a same-API stream (see translate/__init__): each event relayed as sent."""

    __slots__ = ("_api", "_chat")

    def __init__(self, api: str) -> None:
        super().__init__(comments=True)
        self._api = api
        self._chat = api == "chat"

    def _at_eof(self, events: list[SSEEvent]) -> list[SSEEvent]:
        """A last event lacking only its blank line still counts; a torn one is dropped."""
        return [ev for ev in events if _whole(self._api, ev)]

    def _error_event(self, message: str) -> bytes:
        return stream_error_event(self._api, message)

    def feed(self, chunk: bytes) -> bytes:
        """The whole events `chunk` completes, each checked; when all of them are relayed as sent (the
        usual case), their bytes are handed back as one string, not rebuilt event by event."""
        blocks = self._parser.blocks(chunk)
        out: list[bytes] | None = None  # the client's bytes, once some block is not relayed as sent
        for n, block in enumerate(blocks):
            if self._done:  # nothing follows the terminal event
                sent: bytes | None = b""
            elif block[:6] == b"data: " and LF not in block:  # one `data: ` line, as every chat event
                sent = self._check(None, block[6:], block)
            elif (ev := self._parser.event(block)) is not None:
                sent = self._check(ev.event, ev.data, block)
            else:
                sent = b""  # an empty block: no event, nothing to relay
            if sent is not None and out is None:
                out = [b + b"\n\n" for b in blocks[:n]]
            if out is not None:
                out.append(block + b"\n\n" if sent is None else sent)
        if out is not None:
            return b"".join(out)
        return b"\n\n".join(blocks) + b"\n\n" if blocks else b""

    def _on_event(self, event: str | None, data: bytes, raw: bytes) -> bytes:
        sent = self._check(event, data, raw)
        return raw if sent is None else sent

    def _check(self, event: str | None, data: bytes, block: bytes) -> bytes | None:
        """Check one event (`block`: its bytes); None when it is relayed as sent, else what goes instead."""
        if not data and event is None:  # a keep-alive comment: passed on, it keeps the client waiting
            return None
        if self._chat and data[:1] != b"{" and is_done(data):
            if not self._answered:
                return self.error(EMPTY)
            self._done = True
            return None
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            obj = text_json(data)
        if self._chat:  # chat events are untyped: usage rides on any of them
            kind = chat_event_kind(obj)
            if kind is not None and "usage" in obj:
                note_event_usage("chat", obj, self.usage)
        else:
            kind = stream_event_kind(self._api, obj)
            if kind is not None:
                note_event_usage(self._api, obj, self.usage)
        if kind == "event":
            self._answered = True
        elif kind is None:  # not an event of this API: kept visible as a comment, which every SDK ignores
            self.anomalies += 1
            return comment(block)
        elif kind == "error":  # already in the client's dialect: relayed as sent, and the stream failed
            self._done = True
            self.failure = stream_error_message(obj)
        else:  # "end"
            self._done = True
        return None


def _whole(api: str, ev: SSEEvent) -> bool:
    return is_done(ev.data) or stream_event_kind(api, event_json(ev.data)) is not None

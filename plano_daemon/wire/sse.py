"""Server-sent events: an incremental parser (bytes in any chunking → events) and an encoder.

The parser is on every relayed stream's hot path, once per event: an event is a named tuple built without
a Python-level constructor, its `data` stays bytes (orjson parses bytes; only a translator that needs text
decodes it), and the common shapes (`data: …`, `event: …` + `data: …`) are read without splitting lines."""

from __future__ import annotations

from typing import NamedTuple


class SSEEvent(NamedTuple):
    event: str | None
    data: bytes  # the data lines as sent, joined by b"\n" (undecoded: see `text`)
    raw: bytes  # the event's bytes as received, blank-line terminator included

    @property
    def text(self) -> str:
        """`data` as text (invalid UTF-8 replaced, as the SSE spec decodes)."""
        return self.data.decode("utf-8", errors="replace")


_new = tuple.__new__  # builds an SSEEvent without NamedTuple's Python-level __new__
#: Line feed and carriage return as ints, for `LF in block`: the one membership test of bytes that is a
#: plain memchr. `b"\n" in block` first tries `b"\n"` as an int and raises and clears a TypeError (≈ 2.4 k
#: instructions), `block.find(b"\n")` parses its arguments (≈ 1.3 k); `LF in block` costs ≈ 0.35 k.
LF, CR = ord("\n"), ord("\r")


class SSEParser:
    """Feed bytes as they arrive; complete events come out. Handles CRLF, multi-line data, comments."""

    __slots__ = ("_buf", "_comments")

    def __init__(self, *, comments: bool = False) -> None:
        self._buf = b""
        #: Also return comment-only blocks (keep-alives), as events with no name and no data.
        self._comments = comments

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        for block in self.blocks(chunk):
            if block[:6] == b"data: " and LF not in block:  # one `data: ` line: OpenAI's shape
                events.append(_new(SSEEvent, (None, block[6:], block + b"\n\n")))
            elif (ev := self.event(block)) is not None:
                events.append(ev)
        return events

    def blocks(self, chunk: bytes) -> list[bytes]:
        """The blocks `chunk` completes, line ends made LF, each without its blank line: `feed` without
        making events, for a caller that reads the common shapes itself and passes the rest to `event`."""
        buf = self._buf + chunk if self._buf else chunk
        held = b""
        if buf.endswith(b"\r"):  # may be the first half of a CRLF split across chunks
            buf, held = buf[:-1], b"\r"
        if CR in buf:
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *blocks, rest = buf.split(b"\n\n")
        self._buf = rest + held
        return blocks

    def event(self, block: bytes) -> SSEEvent | None:
        """The event of one block from `blocks`; None for a block with no event (a comment-only block is
        one with no name and no data when the parser keeps comments)."""
        raw = block + b"\n\n"
        ev = _parse_block(raw)
        if ev is None and self._comments and block.strip():
            return _new(SSEEvent, (None, b"", raw))
        return ev

    def flush(self) -> list[SSEEvent]:
        """Whatever is left at end of stream, treated as a final event if it holds any data."""
        rest, self._buf = self._buf, b""
        if rest.strip():
            ev = _parse_block(rest if rest.endswith(b"\n\n") else rest.rstrip(b"\n") + b"\n\n")
            return [ev] if ev is not None else []
        return []


def _parse_block(block: bytes) -> SSEEvent | None:
    """One event from a block of lines (`field: value`, one leading space dropped, comments skipped). Split
    as bytes: `\\n` and `:` are ASCII, so decoding the parts equals decoding the whole."""
    if block.startswith(b"event: "):  # Anthropic's and Responses' shape: `event: …` then one `data: …`
        eol = block.find(b"\n", 7)
        if (eol > 7 and block.startswith(b"data: ", eol + 1) and block.find(b"\n", eol + 7) == len(block) - 2
                and block.find(b":", 7, eol) < 0):
            return _new(SSEEvent, (block[7:eol].decode("utf-8", errors="replace"), block[eol + 7:-2], block))
    event: bytes | None = None
    data: list[bytes] = []
    for line in block.split(b"\n"):
        if not line or line.startswith(b":"):
            continue
        field, _, value = line.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        if field == b"event":
            event = value
        elif field == b"data":
            data.append(value)
    if event is None and not data:
        return None
    name = None if event is None else event.decode("utf-8", errors="replace")
    return _new(SSEEvent, (name, b"\n".join(data), block))


def encode(data: str, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    body = "".join(f"data: {line}\n" for line in data.split("\n"))
    return f"{head}{body}\n".encode()


def comment(raw: bytes) -> bytes:
    """An upstream event we cannot relay as an event, kept on the wire as comment lines."""
    text = raw.decode("utf-8", errors="replace").strip("\n")
    return "".join(f": {line}\n" for line in text.split("\n")).encode() + b"\n"

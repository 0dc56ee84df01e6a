"""Server-sent events: an incremental parser (bytes in any chunking → events) and an encoder."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SSEEvent:
    event: str | None
    data: str
    raw: bytes  # the event's bytes as received, blank-line terminator included


class SSEParser:
    """Feed bytes as they arrive; complete events come out. Handles CRLF, multi-line data, comments."""

    __slots__ = ("_buf", "_comments")

    def __init__(self, *, comments: bool = False) -> None:
        self._buf = b""
        #: Also return comment-only blocks (keep-alives), as events with no name and no data.
        self._comments = comments

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        buf = self._buf + chunk
        held = b""
        if buf.endswith(b"\r"):  # may be the first half of a CRLF split across chunks
            buf, held = buf[:-1], b"\r"
        if b"\r" in buf:
            buf = buf.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        events: list[SSEEvent] = []
        start = 0
        while True:
            end = buf.find(b"\n\n", start)
            if end < 0:
                break
            block = buf[start:end + 2]
            start = end + 2
            ev = _parse_block(block)
            if ev is not None:
                events.append(ev)
            elif self._comments and block.strip():
                events.append(SSEEvent(event=None, data="", raw=block))
        self._buf = buf[start:] + held
        return events

    def flush(self) -> list[SSEEvent]:
        """Whatever is left at end of stream, treated as a final event if it holds any data."""
        rest, self._buf = self._buf, b""
        if rest.strip():
            ev = _parse_block(rest if rest.endswith(b"\n\n") else rest.rstrip(b"\n") + b"\n\n")
            return [ev] if ev is not None else []
        return []


def _parse_block(block: bytes) -> SSEEvent | None:
    # The shapes every LLM API streams, read without splitting into lines: `data: …` (OpenAI) and
    # `event: …` + `data: …` (Anthropic, Responses). Any other block takes the general path below.
    if block.startswith(b"data: ") and block.find(b"\n", 6) == len(block) - 2:
        return SSEEvent(event=None, data=block[6:-2].decode("utf-8", errors="replace"), raw=block)
    if block.startswith(b"event: "):
        eol = block.find(b"\n", 7)
        if (eol > 7 and block.startswith(b"data: ", eol + 1) and block.find(b"\n", eol + 7) == len(block) - 2
                and b":" not in block[7:eol]):
            return SSEEvent(event=block[7:eol].decode("utf-8", errors="replace"),
                            data=block[eol + 7:-2].decode("utf-8", errors="replace"), raw=block)
    event: str | None = None
    data: list[str] = []
    for line in block.decode("utf-8", errors="replace").split("\n"):
        if not line or line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "event":
            event = value
        elif field == "data":
            data.append(value)
    if event is None and not data:
        return None
    return SSEEvent(event=event, data="\n".join(data), raw=block)


def encode(data: str, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    body = "".join(f"data: {line}\n" for line in data.split("\n"))
    return f"{head}{body}\n".encode()


def comment(raw: bytes) -> bytes:
    """An upstream event we cannot relay as an event, kept on the wire as comment lines."""
    text = raw.decode("utf-8", errors="replace").strip("\n")
    return "".join(f": {line}\n" for line in text.split("\n")).encode() + b"\n"

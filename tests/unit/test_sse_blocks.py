"""Every SSE block parses as the WHATWG field rules say, whichever path the parser takes (the fast path for
`data:` and `event:`+`data:` blocks, or the general one)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from plano_daemon.wire.sse import SSEEvent, SSEParser

PIECES = [b"data: ", b"event: ", b"data:", b"event:", b":", b" ", b"x", b'{"a":1}', b"\n", b"\xff", b"\xc3\xa9",
          b"message_start", b"data", b"id: 7"]


def reference(block: bytes) -> SSEEvent | None:
    """The event a block of lines makes: `field: value` lines, one leading space dropped, comments skipped."""
    event, data = None, []
    for line in block.decode("utf-8", errors="replace").split("\n"):
        if not line or line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            event = value
        elif field == "data":
            data.append(value)
    return None if event is None and not data else SSEEvent(event=event, data="\n".join(data), raw=block)


@given(st.lists(st.sampled_from(PIECES), max_size=10))
def test_a_block_parses_as_the_field_rules_say(pieces: list[bytes]) -> None:
    body = b"".join(pieces)
    while b"\n\n" in body:
        body = body.replace(b"\n\n", b"\n")
    block = body.rstrip(b"\n") + b"\n\n"
    got = SSEParser().feed(block)
    want = reference(block)
    assert got == ([want] if want is not None else [])


def test_the_shapes_apis_stream_take_the_fast_path_and_parse_right() -> None:
    assert SSEParser().feed(b'data: {"x":1}\n\n') == [SSEEvent(None, '{"x":1}', b'data: {"x":1}\n\n')]
    block = b'event: message_start\ndata: {"type":"message_start"}\n\n'
    assert SSEParser().feed(block) == [SSEEvent("message_start", '{"type":"message_start"}', block)]

"""Every SSE block parses as the WHATWG field rules say, whichever path the parser takes (the fast path for
`data:` and `event:`+`data:` blocks, or the general one), and any chunking of a stream gives the same events.
`data` stays bytes: its text (`SSEEvent.text`) is what the field rules give."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from plano_daemon.wire.sse import SSEEvent, SSEParser

PIECES = [b"data: ", b"event: ", b"data:", b"event:", b":", b" ", b"x", b'{"a":1}', b"\n", b"\xff", b"\xc3\xa9",
          b"message_start", b"data", b"id: 7"]


def reference(block: bytes) -> tuple[str | None, str, bytes] | None:
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
    return None if event is None and not data else (event, "\n".join(data), block)


@given(st.lists(st.sampled_from(PIECES), max_size=10))
def test_a_block_parses_as_the_field_rules_say(pieces: list[bytes]) -> None:
    body = b"".join(pieces)
    while b"\n\n" in body:
        body = body.replace(b"\n\n", b"\n")
    block = body.rstrip(b"\n") + b"\n\n"
    got = [(ev.event, ev.text, ev.raw) for ev in SSEParser().feed(block)]
    want = reference(block)
    assert got == ([want] if want is not None else [])


def test_data_is_the_bytes_sent_even_when_they_are_not_utf8() -> None:
    block = b"event: x\ndata: \xff{\ndata:  \xc3\xa9\n\n"
    assert SSEParser().feed(block) == [SSEEvent("x", b"\xff{\n \xc3\xa9", block)]
    assert SSEParser().feed(block)[0].text == "\ufffd{\n \u00e9"


STREAM = [b'data: {"x":1}\n\n', b": keep-alive\n\n", b'event: message_start\ndata: {"type":"message_start"}\n\n',
          b"data: a\ndata: b\n\n", b"id: 7\n\n", b"data: [DONE]\n\n"]


@given(st.lists(st.sampled_from(STREAM), max_size=8), st.lists(st.integers(0, 400), max_size=6), st.booleans(),
       st.booleans())
def test_any_chunking_gives_the_events_of_the_whole_stream(blocks: list[bytes], cuts: list[int], crlf: bool,
                                                          comments: bool) -> None:
    whole = b"".join(blocks)
    sent = whole.replace(b"\n", b"\r\n") if crlf else whole
    want = SSEParser(comments=comments).feed(whole)
    parser = SSEParser(comments=comments)
    got = []
    at = 0
    for cut in sorted({min(c, len(sent)) for c in cuts}) + [len(sent)]:
        got += parser.feed(sent[at:cut])
        at = cut
    assert got + parser.flush() == want


def test_the_shapes_apis_stream_take_the_fast_path_and_parse_right() -> None:
    assert SSEParser().feed(b'data: {"x":1}\n\n') == [SSEEvent(None, b'{"x":1}', b'data: {"x":1}\n\n')]
    block = b'event: message_start\ndata: {"type":"message_start"}\n\n'
    assert SSEParser().feed(block) == [SSEEvent("message_start", b'{"type":"message_start"}', block)]

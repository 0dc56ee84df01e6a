"""The pass-through's watch: the bytes relayed for a chunk of several events (relayed as sent, kept as a
comment, dropped, or cut off by the terminal event) are the same whatever the chunking."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from plano_daemon.translate import PassThroughStream

GOOD = b'data: {"choices":[{"delta":{"content":"hi"}}]}\n\n'
USAGE = b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}\n\n'
BLOCKS = [GOOD, USAGE, b": keep-alive\n\n", b"data: not json\n\n", b"id: 7\n\n", b"\n\n", b'data: {"other":1}\n\n',
          b'event: x\ndata: {"choices":[]}\n\n', b"data: [DONE]\n\n", b'data: {"error":{"message":"boom"}}\n\n']


def relay(watch: PassThroughStream, data: bytes, cuts: list[int]) -> bytes:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    return b"".join(watch.feed(p) for p in pieces) + watch.finish()


@given(st.lists(st.sampled_from(BLOCKS), max_size=8), st.lists(st.integers(0, 10**4), max_size=8), st.booleans())
def test_any_chunking_relays_the_same_bytes_and_reads_the_same_usage(blocks: list[bytes], cuts: list[int],
                                                                     crlf: bool) -> None:
    data = b"".join([GOOD, *blocks])
    if crlf:
        data = data.replace(b"\n", b"\r\n")
    whole, cut, one_by_one = PassThroughStream("chat"), PassThroughStream("chat"), PassThroughStream("chat")
    want = relay(whole, data, [])
    assert relay(cut, data, cuts) == want
    assert relay(one_by_one, data, list(range(len(data)))) == want
    for watch in (cut, one_by_one):
        assert (watch.usage, watch.failure, watch.anomalies) == (whole.usage, whole.failure, whole.anomalies)


def test_one_chunk_of_mixed_blocks_relays_each_as_its_own_chunk_would() -> None:
    data = (GOOD + b"data: not json\n\n" + b"id: 7\n\n" + b": keep-alive\n\n" + b"\n\n" + USAGE + b"data: [DONE]\n\n"
            + GOOD)
    watch = PassThroughStream("chat")
    out = watch.feed(data)
    # a block that is not an event is relayed like a keep-alive comment; an empty one is not relayed
    assert out == GOOD + b": data: not json\n\n" + b"id: 7\n\n: keep-alive\n\n" + USAGE + b"data: [DONE]\n\n"
    assert watch.done and watch.failure is None and watch.anomalies == 1
    assert (watch.usage.input_tokens, watch.usage.output_tokens) == (3, 4)
    assert watch.feed(GOOD) == b"" and watch.finish() == b""


def test_a_chunk_of_events_relayed_as_sent_comes_back_byte_for_byte() -> None:
    data = GOOD * 5 + USAGE + b"data: [DONE]\n\n"
    watch = PassThroughStream("chat")
    assert watch.feed(data) == data and watch.finish() == b"" and watch.failure is None

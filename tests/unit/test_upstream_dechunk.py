"""The chunked-body decoder against the definition, over generated bodies cut at generated places:
every split of the bytes on the wire reads back as the same body, and the connection is then reusable."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from plano_daemon.upstream.http1 import Connection

HEAD = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


class _Transport:
    """Bytes the connection writes go nowhere: the test feeds the response by hand, in the pieces it chose."""

    def writelines(self, data: Any) -> None: ...

    def abort(self) -> None: ...

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


@settings(max_examples=300, deadline=None)
@given(chunks=st.lists(st.binary(min_size=1, max_size=64), max_size=8),
       extensions=st.lists(st.sampled_from([b"", b";name=value", b" ", b"\t;x"]), min_size=8, max_size=8),
       cuts=st.lists(st.integers(min_value=1, max_value=400), max_size=8))
def test_any_chunking_cut_anywhere_reads_back_whole(chunks: list[bytes], extensions: list[bytes],
                                                    cuts: list[int]) -> None:
    wire = HEAD + b"".join(b"%x%s\r\n%s\r\n" % (len(c), e, c) for c, e in zip(chunks, extensions, strict=False)) + b"0\r\n\r\n"
    points = sorted({c for c in cuts if c < len(wire)})
    parts = [wire[a:b] for a, b in zip([0, *points], [*points, len(wire)], strict=True)]

    async def read() -> tuple[bytes, list[Connection]]:
        idle: list[Connection] = []
        conn = Connection(idle.append, lambda c: None)
        conn.connection_made(_Transport())  # type: ignore[arg-type]
        head = conn.start([b"GET / HTTP/1.1\r\n\r\n"], asyncio.get_running_loop().time() + 5)
        for part in parts:
            conn.data_received(part)
        return await (await head).read(), idle

    body, idle = asyncio.run(read())
    assert body == b"".join(chunks)
    assert len(idle) == 1

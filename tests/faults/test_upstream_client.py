"""The upstream HTTP/1.1 client (plano_daemon/upstream) against real loopback servers that write raw bytes.

Each fake upstream is an `asyncio.start_server` on 127.0.0.1 whose handler writes exactly the bytes a
test chooses, split where the test chooses, so framing, keep-alive and failure paths are driven the way a
misbehaving upstream would drive them. What matters for a gateway: a body is whole or a failure (never a
shorter success), a connection is reused only when its last response ended exactly where its framing says,
and every transport problem comes back as a `TransportFailure` value, never an exception.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import hashlib
import logging
import os
import shutil
import socket
import ssl
import subprocess
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from plano_daemon.upstream import (
    TransportFailure,
    UpstreamBroken,
    UpstreamPool,
    UpstreamResponse,
    UpstreamTimeout,
    read_all,
)
from plano_daemon.upstream import pool as upstream_pool
from plano_daemon.upstream.http1 import HIGH_WATER, MAX_HEAD

pytestmark = pytest.mark.timeout(60)

#: Every wait in these tests is bounded by this (a hang fails fast instead of at pytest's timeout).
LIMIT = 5.0
SECRET = "sk-upstream-secret-that-must-never-be-shown"

Handler = Callable[["Upstream", asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@dataclass
class Upstream:
    """A raw loopback server: counts connections, keeps each request's head, and sees when a client left."""

    handler: Handler
    server: asyncio.Server | None = None
    port: int = 0
    connections: int = 0
    heads: list[bytes] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    requested: asyncio.Event = field(default_factory=asyncio.Event)
    client_left: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/chat/completions"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        try:
            await self.handler(self, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            self.done.set()

    async def read_request(self, reader: asyncio.StreamReader) -> bool:
        """Read one request (head and Content-Length body); False when the client closed instead."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            self.client_left.set()
            return False
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        self.heads.append(head)
        self.bodies.append(await reader.readexactly(length))
        self.requested.set()
        return True

    async def wait_client_left(self, reader: asyncio.StreamReader) -> None:
        """Until the client closes its side (what a dropped connection looks like from here)."""
        while await reader.read(65536):
            pass
        self.client_left.set()


ServeFactory = Callable[[Handler], Awaitable[Upstream]]


@pytest.fixture
async def serve() -> AsyncIterator[ServeFactory]:
    started: list[Upstream] = []

    async def start(handler: Handler) -> Upstream:
        upstream = Upstream(handler)
        upstream.server = await asyncio.start_server(upstream._serve, "127.0.0.1", 0)
        upstream.port = upstream.server.sockets[0].getsockname()[1]
        started.append(upstream)
        return upstream

    yield start
    for upstream in started:
        assert upstream.server is not None
        upstream.server.close()
        for task in upstream.tasks:
            task.cancel()
        await asyncio.gather(*upstream.tasks, return_exceptions=True)
        await upstream.server.wait_closed()


@pytest.fixture
async def pool() -> AsyncIterator[UpstreamPool]:
    pool = UpstreamPool(connect_timeout=2.0)
    yield pool
    await pool.close()
    await asyncio.sleep(0)  # let the aborted transports call connection_lost before the loop closes


async def write_split(writer: asyncio.StreamWriter, pieces: Sequence[bytes]) -> None:
    """Each piece its own write, with a pass of the event loop between so the client reads them apart."""
    for piece in pieces:
        writer.write(piece)
        await writer.drain()
        await asyncio.sleep(0.001)


def answering(*responses: Sequence[bytes], then_close: bool = False) -> Handler:
    """A handler that answers the n-th request on each connection with the n-th response's pieces."""

    async def handler(upstream: Upstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for pieces in responses:
            if not await upstream.read_request(reader):
                return
            await write_split(writer, pieces)
        if not then_close:
            await upstream.wait_client_left(reader)

    return handler


def forever(pieces: Sequence[bytes]) -> Handler:
    """Answers every request on a connection with the same pieces until the client leaves."""

    async def handler(upstream: Upstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await upstream.read_request(reader):
            await write_split(writer, pieces)

    return handler


def bytewise(data: bytes) -> list[bytes]:
    return [data[i:i + 1] for i in range(len(data))]


async def send(pool: UpstreamPool, upstream: Upstream, *, headers: dict[str, str] | None = None,
               body: bytes = b'{"x":1}', timeout: float = LIMIT,
               url: str | None = None) -> UpstreamResponse | TransportFailure:
    async with asyncio.timeout(LIMIT):
        return await pool.send(url or upstream.url, headers or {"Content-Type": "application/json"},
                               body, headers_timeout=timeout)


async def body_of(pool: UpstreamPool, upstream: Upstream, **kwargs: object) -> bytes | TransportFailure:
    """Send once and read the whole body (or the failure that cut it short)."""
    resp = await send(pool, upstream, **kwargs)  # type: ignore[arg-type]
    if isinstance(resp, TransportFailure):
        return resp
    try:
        async with asyncio.timeout(LIMIT):
            return await read_all(resp)
    finally:
        resp.release()


def ok(body: bytes, *extra: bytes) -> bytes:
    """A keep-alive 200 with a Content-Length body."""
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), b"".join(e + b"\r\n" for e in extra), body)


def chunked(*chunks: bytes, head_extra: bytes = b"", end: bytes = b"0\r\n\r\n") -> bytes:
    out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n" + head_extra + b"\r\n"
    for chunk in chunks:
        out += b"%x\r\n%s\r\n" % (len(chunk), chunk)
    return out + end


def is_failure(got: object, kind: str) -> bool:
    return isinstance(got, TransportFailure) and got.kind == kind


# --- Content-Length framing ---------------------------------------------------------------------------------

async def test_content_length_body_split_across_many_small_writes(serve: ServeFactory, pool: UpstreamPool) -> None:
    body = b'{"id":"x","choices":[{"message":{"content":"' + b"word " * 200 + b'"}}]}'
    raw = ok(body, b"Content-Type: application/json")
    head_len = raw.index(b"\r\n\r\n") + 4
    pieces = [raw[:head_len]] + [raw[i:i + 7] for i in range(head_len, len(raw), 7)]
    upstream = await serve(answering(pieces))
    assert await body_of(pool, upstream) == body


async def test_response_head_split_byte_by_byte(serve: ServeFactory, pool: UpstreamPool) -> None:
    upstream = await serve(answering(bytewise(ok(b"hello", b"Content-Type: text/plain; charset=utf-8"))))
    resp = await send(pool, upstream)
    assert isinstance(resp, UpstreamResponse)
    assert (resp.status, resp.content_type) == (200, "text/plain")
    assert await read_all(resp) == b"hello"
    resp.release()


async def test_body_shorter_than_content_length_then_close_is_a_failure_not_a_short_body(
        serve: ServeFactory, pool: UpstreamPool) -> None:
    upstream = await serve(answering([b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", b"only part"],
                                     then_close=True))
    resp = await send(pool, upstream)
    assert isinstance(resp, UpstreamResponse) and resp.status == 200
    assert await resp.readany() == b"only part"
    with pytest.raises(UpstreamBroken):
        async with asyncio.timeout(LIMIT):
            await resp.read()
    resp.release()
    got = await body_of(pool, upstream)
    assert is_failure(got, "reset"), got


async def test_bytes_after_the_body_mean_the_connection_is_not_reused(serve: ServeFactory, pool: UpstreamPool) -> None:
    upstream = await serve(forever([ok(b"ok") + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nextra"]))
    assert await body_of(pool, upstream) == b"ok"
    assert await body_of(pool, upstream) == b"ok"
    assert upstream.connections == 2


async def test_bytes_after_a_chunked_body_mean_the_connection_is_not_reused(
        serve: ServeFactory, pool: UpstreamPool) -> None:
    extra = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nextra"
    for raw in (chunked(b"abc") + extra, chunked(b"abc", end=b"0\r\nX-T: 1\r\n\r\n") + extra):
        upstream = await serve(forever([raw]))
        assert await body_of(pool, upstream) == b"abc"
        assert await body_of(pool, upstream) == b"abc"
        assert upstream.connections == 2, raw


async def test_bytes_after_an_empty_body_mean_the_connection_is_not_reused(
        serve: ServeFactory, pool: UpstreamPool) -> None:
    upstream = await serve(forever([ok(b"") + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nextra"]))
    assert await body_of(pool, upstream) == b""
    assert await body_of(pool, upstream) == b""
    assert upstream.connections == 2


async def test_invalid_content_length_is_a_failure(serve: ServeFactory, pool: UpstreamPool,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    for value in (b"abc", b"-1", b"5, 6", "\u00b2".encode("latin-1")):
        upstream = await serve(answering([b"HTTP/1.1 200 OK\r\nContent-Length: " + value + b"\r\n\r\n12345"]))
        with caplog.at_level(logging.ERROR):
            got = await send(pool, upstream)
        assert is_failure(got, "reset"), (value, got)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


# --- chunked framing ----------------------------------------------------------------------------------------

async def test_chunked_with_extensions_and_trailers(serve: ServeFactory, pool: UpstreamPool) -> None:
    raw = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5;name=value\r\nhello\r\n1 ; ext\r\n \r\nA;a=\"b;c\"\r\n0123456789\r\n"
           b"0;last\r\nX-Trailer: one\r\nX-Other: two\r\n\r\n")
    upstream = await serve(forever([raw]))
    assert await body_of(pool, upstream) == b"hello 0123456789"
    assert await body_of(pool, upstream) == b"hello 0123456789"
    assert upstream.connections == 1  # the trailers ended the response exactly: the connection is reused


async def test_chunked_split_at_every_position_on_one_kept_alive_connection(
        serve: ServeFactory, pool: UpstreamPool) -> None:
    raw = chunked(b"data: {}\n\n", b"x" * 17, head_extra=b"Content-Type: text/event-stream\r\n",
                  end=b"0\r\nX-T: 1\r\n\r\n")
    cuts = list(range(1, len(raw)))
    upstream = await serve(answering(*[[raw[:cut], raw[cut:]] for cut in cuts]))
    for cut in cuts:
        assert await body_of(pool, upstream) == b"data: {}\n\n" + b"x" * 17, cut
    assert upstream.connections == 1


async def test_chunked_byte_by_byte(serve: ServeFactory, pool: UpstreamPool) -> None:
    upstream = await serve(answering(bytewise(chunked(b"abc", b"defgh", b"i"))))
    assert await body_of(pool, upstream) == b"abcdefghi"


async def test_chunked_without_its_terminating_chunk_then_close_is_a_failure(
        serve: ServeFactory, pool: UpstreamPool) -> None:
    for cut in (b"", b"0\r\n", b"0\r\nX-T: 1\r\n"):
        raw = chunked(b"abc", end=cut)
        upstream = await serve(answering([raw], then_close=True))
        got = await body_of(pool, upstream)
        assert is_failure(got, "reset"), (cut, got)


async def test_chunked_with_an_invalid_size_is_a_failure(serve: ServeFactory, pool: UpstreamPool) -> None:
    for size in (b"zz", b"", b"-5", b"0x5", b"+5", b"5_0", b"5 5"):
        raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + size + b"\r\nhello\r\n0\r\n\r\n"
        upstream = await serve(answering([raw]))
        got = await body_of(pool, upstream)
        assert is_failure(got, "reset"), (size, got)


async def test_chunk_data_not_followed_by_crlf_is_a_failure(serve: ServeFactory, pool: UpstreamPool) -> None:
    upstream = await serve(answering([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n"]))
    got = await body_of(pool, upstream)
    assert is_failure(got, "reset"), got


# --- until-close framing ------------------------------------------------------------------------------------

async def test_until_close_body_is_read_whole_and_the_connection_not_reused(
        serve: ServeFactory, pool: UpstreamPool) -> None:
    body = b"streamed " * 1000
    upstream = await serve(answering([b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n",
                                      body[:5000], body[5000:]], then_close=True))
    assert await body_of(pool, upstream) == body
    assert await body_of(pool, upstream) == body
    assert upstream.connections == 2


# --- keep-alive ---------------------------------------------------------------------------------------------

async def test_chunked_wins_over_a_content_length(serve: ServeFactory, pool: UpstreamPool) -> None:
    upstream = await serve(forever([chunked(b"abc", b"def", head_extra=b"Content-Length: 3\r\n")]))
    assert await body_of(pool, upstream) == b"abcdef"
    assert await body_of(pool, upstream) == b"abcdef"
    assert upstream.connections == 1


async def test_sequential_requests_reuse_one_connection(serve: ServeFactory, pool: UpstreamPool) -> None:
    upstream = await serve(forever([ok(b"one")]))
    for _ in range(5):
        assert await body_of(pool, upstream) == b"one"
    assert upstream.connections == 1


async def test_connection_close_and_http10_are_not_reused(serve: ServeFactory, pool: UpstreamPool) -> None:
    for response in (ok(b"bye", b"Connection: close"), b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nbye"):
        upstream = await serve(forever([response]))
        assert await body_of(pool, upstream) == b"bye"
        assert await body_of(pool, upstream) == b"bye"
        assert upstream.connections == 2, response


async def test_http10_keep_alive_is_reused(serve: ServeFactory, pool: UpstreamPool) -> None:
    upstream = await serve(forever([b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi"]))
    assert await body_of(pool, upstream) == b"hi"
    assert await body_of(pool, upstream) == b"hi"
    assert upstream.connections == 1


async def test_a_pooled_connection_the_server_closed_is_replaced(serve: ServeFactory, pool: UpstreamPool) -> None:
    upstream = await serve(answering([ok(b"first")], then_close=True))
    assert await body_of(pool, upstream) == b"first"
    async with asyncio.timeout(LIMIT):
        await upstream.done.wait()
    await asyncio.sleep(0.05)  # the client's loop sees the server's FIN
    assert await body_of(pool, upstream) == b"first"
    assert upstream.connections == 2


async def test_bytes_on_an_idle_connection_retire_it(serve: ServeFactory, pool: UpstreamPool) -> None:
    async def chatty(upstream: Upstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if await upstream.read_request(reader):
            writer.write(ok(b"first"))
            await asyncio.sleep(0.02)
            writer.write(b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")  # unasked for
            await upstream.wait_client_left(reader)

    upstream = await serve(chatty)
    assert await body_of(pool, upstream) == b"first"
    async with asyncio.timeout(LIMIT):
        await upstream.client_left.wait()  # the client dropped the connection the 408 arrived on
    assert await body_of(pool, upstream) == b"first"  # and the next request went to a new one
    assert upstream.connections == 2


async def test_a_connection_idle_past_keep_idle_is_closed_not_reused(
        serve: ServeFactory, pool: UpstreamPool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upstream_pool, "KEEP_IDLE", 0.05)
    upstream = await serve(forever([ok(b"ok")]))
    assert await body_of(pool, upstream) == b"ok"
    await asyncio.sleep(0.1)
    assert await body_of(pool, upstream) == b"ok"
    assert upstream.connections == 2
    async with asyncio.timeout(LIMIT):
        await upstream.done.wait()  # the stale one was closed, not left open


async def test_a_close_racing_the_next_send_is_a_value_never_an_exception(
        serve: ServeFactory, pool: UpstreamPool) -> None:
    async def handler(upstream: Upstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if await upstream.read_request(reader):
            writer.write(ok(b"r"))
            # close at once, with a reset (SO_LINGER 0) half of the time
            if upstream.connections % 2:
                writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                                           b"\x01\x00\x00\x00\x00\x00\x00\x00")

    upstream = await serve(handler)
    for _ in range(20):
        got = await body_of(pool, upstream)
        assert got == b"r" or isinstance(got, TransportFailure), got


async def test_release_before_the_body_ended_drops_the_connection(serve: ServeFactory, pool: UpstreamPool) -> None:
    upstream = await serve(answering([b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", b"part"]))
    resp = await send(pool, upstream)
    assert isinstance(resp, UpstreamResponse)
    assert await resp.readany() == b"part"
    resp.release()
    async with asyncio.timeout(LIMIT):
        await upstream.client_left.wait()


# --- status and content coding ------------------------------------------------------------------------------

async def test_interim_1xx_answers_are_skipped(serve: ServeFactory, pool: UpstreamPool) -> None:
    raw = (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\n"
           + ok(b"final", b"X-Final: yes"))
    upstream = await serve(answering([raw], bytewise(raw)))
    for _ in range(2):
        resp = await send(pool, upstream)
        assert isinstance(resp, UpstreamResponse)
        assert (resp.status, resp.headers.get("x-final"), "link" in resp.headers) == (200, "yes", False)
        assert await read_all(resp) == b"final"
        resp.release()
    assert upstream.connections == 1


async def test_204_and_304_have_no_body_and_keep_the_connection(serve: ServeFactory, pool: UpstreamPool) -> None:
    upstream = await serve(answering([b"HTTP/1.1 204 No Content\r\n\r\n"],
                                     [b"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"],
                                     [ok(b"after")]))
    for status in (204, 304):
        resp = await send(pool, upstream)
        assert isinstance(resp, UpstreamResponse) and resp.status == status
        assert await read_all(resp) == b""
        resp.release()
    assert await body_of(pool, upstream) == b"after"
    assert upstream.connections == 1


@pytest.mark.parametrize("coding", ["gzip", "x-gzip", "deflate"])
async def test_compressed_bodies_are_decoded(serve: ServeFactory, pool: UpstreamPool, coding: str) -> None:
    body = b'{"choices":[{"message":{"content":"' + b"compressible " * 500 + b'"}}]}'
    packed = gzip.compress(body) if "gzip" in coding else zlib.compress(body)
    enc = b"Content-Encoding: " + coding.encode()
    as_length = ok(packed, enc)
    as_chunks = chunked(packed[:100], packed[100:], head_extra=enc + b"\r\n")
    upstream = await serve(answering(bytewise(as_length[:200]) + [as_length[200:]], [as_chunks]))
    assert await body_of(pool, upstream) == body
    assert await body_of(pool, upstream) == body
    assert upstream.connections == 1


async def test_an_empty_body_with_a_content_encoding_is_empty(serve: ServeFactory, pool: UpstreamPool) -> None:
    upstream = await serve(answering([b"HTTP/1.1 204 No Content\r\nContent-Encoding: gzip\r\n\r\n"],
                                     [ok(b"", b"Content-Encoding: gzip")],
                                     [ok(b"after")]))
    assert await body_of(pool, upstream) == b""
    assert await body_of(pool, upstream) == b""
    assert await body_of(pool, upstream) == b"after"
    assert upstream.connections == 1


async def test_corrupt_or_cut_gzip_is_a_failure(serve: ServeFactory, pool: UpstreamPool) -> None:
    packed = gzip.compress(b"payload " * 100)
    corrupt = packed[:20] + bytes(b ^ 0x55 for b in packed[20:40]) + packed[40:]
    enc = b"Content-Encoding: gzip"
    for raw in (ok(corrupt, enc), ok(packed[:-10], enc), ok(b"not gzip at all", enc),
                chunked(packed[:-10], head_extra=enc + b"\r\n")):
        upstream = await serve(answering([raw]))
        got = await body_of(pool, upstream)
        assert is_failure(got, "reset"), (raw[:60], got)


async def test_gzip_cut_short_by_the_close_of_an_until_close_body_is_a_failure(
        serve: ServeFactory, pool: UpstreamPool) -> None:
    packed = gzip.compress(b"payload " * 100)
    upstream = await serve(answering([b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\n\r\n" + packed[:-10]],
                                     then_close=True))
    got = await body_of(pool, upstream)
    assert is_failure(got, "reset"), got


async def test_a_response_head_over_64_kib_is_a_failure(serve: ServeFactory, pool: UpstreamPool) -> None:
    big = b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (MAX_HEAD + 10) + b"\r\nContent-Length: 2\r\n\r\nok"
    many = b"HTTP/1.1 200 OK\r\n" + b"X-H: 0123456789abcdef\r\n" * 4000 + b"Content-Length: 2\r\n\r\nok"
    fine = b"HTTP/1.1 200 OK\r\n" + b"X-H: 0123456789abcdef\r\n" * 2000 + b"Content-Length: 2\r\n\r\nok"
    for pieces in ([big], [many[i:i + 1000] for i in range(0, len(many), 1000)]):
        upstream = await serve(answering(pieces))
        got = await send(pool, upstream)
        assert is_failure(got, "reset"), got
    upstream = await serve(answering([fine]))
    assert await body_of(pool, upstream) == b"ok"  # 48 KiB of headers is still fine


async def test_a_head_that_never_ends_fails_once_over_64_kib_without_waiting_for_the_timeout(
        serve: ServeFactory, pool: UpstreamPool) -> None:
    endless = [b"HTTP/1.1 200 OK\r\n"] + [b"X-H: " + b"a" * 8000 + b"\r\n"] * 10  # and never the blank line
    upstream = await serve(answering(endless))
    got = await send(pool, upstream, timeout=30)
    assert is_failure(got, "reset"), got
    async with asyncio.timeout(LIMIT):
        await upstream.client_left.wait()


async def test_a_chunk_size_line_that_never_ends_is_a_failure(serve: ServeFactory, pool: UpstreamPool) -> None:
    endless = [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext="] + [b"a" * 8000] * 10
    upstream = await serve(answering(endless))
    resp = await send(pool, upstream, timeout=30)
    assert isinstance(resp, UpstreamResponse)
    async with asyncio.timeout(LIMIT):
        got = await read_all(resp)
    assert is_failure(got, "reset"), got
    resp.release()


async def test_not_http_at_all_is_a_failure(serve: ServeFactory, pool: UpstreamPool) -> None:
    for raw, close in ((b"SSH-2.0-OpenSSH_9.2\r\n\r\n", False), (b"garbage without an end", True),
                       (b"HTTP/2 200\r\n\r\n", False), (b"HTTP/1.1 2000 OK\r\n\r\n", False),
                       (b"HTTP/1.1 200 OK\r\n badfold: x\r\n\r\n", False),
                       (b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", False), (b"", True)):
        upstream = await serve(answering([raw], then_close=close))
        got = await send(pool, upstream)
        assert is_failure(got, "reset"), (raw, got)


# --- headers ------------------------------------------------------------------------------------------------

async def test_response_headers_case_insensitive_and_repeats_joined(serve: ServeFactory, pool: UpstreamPool) -> None:
    upstream = await serve(answering([b"HTTP/1.1 429 Too Many\r\nRetry-After: 3\r\nX-Tag: a\r\nx-tag: b\r\n"
                                      b"Content-Type: Application/JSON; charset=utf-8\r\nContent-Length: 2\r\n\r\n{}"]))
    resp = await send(pool, upstream)
    assert isinstance(resp, UpstreamResponse) and resp.status == 429
    assert resp.headers.get("retry-after") == resp.headers["RETRY-AFTER"] == "3"
    assert "Retry-After" in resp.headers and "Missing" not in resp.headers and resp.headers.get("Missing") is None
    assert resp.headers["X-TAG"] == "a, b"
    assert resp.content_type == "application/json"
    assert await read_all(resp) == b"{}"
    resp.release()


async def test_the_request_as_the_upstream_sees_it(serve: ServeFactory, pool: UpstreamPool) -> None:
    upstream = await serve(forever([ok(b"{}")]))
    url = f"http://127.0.0.1:{upstream.port}/v1/a b?q=x y&r=1#fragment"
    assert await body_of(pool, upstream, url=url, headers={"X-Api-Key": "k", "Content-Type": "application/json"},
                         body=b'{"a":1}') == b"{}"
    lines = upstream.heads[0].split(b"\r\n")
    assert lines[0] == b"POST /v1/a%20b?q=x%20y&r=1 HTTP/1.1"
    assert f"Host: 127.0.0.1:{upstream.port}".encode() in lines
    assert b"X-Api-Key: k" in lines and b"Content-Length: 7" in lines
    assert upstream.bodies == [b'{"a":1}']


@pytest.mark.parametrize("headers", [
    {"Authorization": f"Bearer {SECRET}\r\nX-Injected: 1"},
    {"Authorization": f"Bearer {SECRET}\n"},
    {"x-api-key": f"{SECRET}\0"},
    {"Bad Name": SECRET},
    {"X:Injected": SECRET},
    {"": SECRET},
    {"X-\u00e9": SECRET},
])
async def test_invalid_request_headers_are_a_request_failure_without_the_secret(
        serve: ServeFactory, pool: UpstreamPool, headers: dict[str, str]) -> None:
    upstream = await serve(forever([ok(b"{}")]))
    got = await send(pool, upstream, headers=headers)
    assert is_failure(got, "request"), got
    assert SECRET not in repr(got) and SECRET not in str(got)
    assert upstream.connections == 0  # nothing was sent
    assert await body_of(pool, upstream) == b"{}"  # and the pool still works


async def test_credentials_in_the_url_become_basic_auth(serve: ServeFactory, pool: UpstreamPool) -> None:
    upstream = await serve(forever([ok(b"{}")]))
    url = f"http://user%40corp:{SECRET}%3A@127.0.0.1:{upstream.port}/v1/models"
    assert await body_of(pool, upstream, url=url) == b"{}"
    lines = upstream.heads[0].split(b"\r\n")
    expected = base64.b64encode(f"user@corp:{SECRET}:".encode())
    assert b"Authorization: Basic " + expected in lines
    assert f"Host: 127.0.0.1:{upstream.port}".encode() in lines
    assert SECRET.encode() not in upstream.heads[0]  # only inside the base64 credentials

    both = await send(pool, upstream, url=url, headers={"authorization": "Bearer other"})
    assert is_failure(both, "request"), both
    assert SECRET not in repr(both) and "Bearer other" not in repr(both)


async def test_bad_urls_are_request_failures(pool: UpstreamPool) -> None:
    for url in ("ftp://127.0.0.1/x", "http:///nohost", "http://127.0.0.1:99999/x", "not a url"):
        async with asyncio.timeout(LIMIT):
            got = await pool.send(url, {}, b"", headers_timeout=1.0)
        assert is_failure(got, "request"), (url, got)


# --- timeouts, connect failures, cancellation ----------------------------------------------------------------

async def test_no_head_within_headers_timeout_is_a_timeout_and_drops_the_connection(
        serve: ServeFactory, pool: UpstreamPool) -> None:
    async def silent(upstream: Upstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if await upstream.read_request(reader):
            writer.write(b"HTTP/1.1 200 OK\r\n")  # a head begun, never finished
            await upstream.wait_client_left(reader)

    upstream = await serve(silent)
    loop = asyncio.get_running_loop()
    began = loop.time()
    got = await send(pool, upstream, timeout=0.2)
    assert is_failure(got, "timeout"), got
    assert 0.15 < loop.time() - began < 2.0
    async with asyncio.timeout(LIMIT):
        await upstream.client_left.wait()


async def test_connect_refused_names_host_and_port_but_not_credentials(pool: UpstreamPool) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with asyncio.timeout(LIMIT):
        got = await pool.send(f"http://u:{SECRET}@127.0.0.1:{port}/v1", {}, b"{}", headers_timeout=2.0)
    assert is_failure(got, "connect"), got
    assert isinstance(got, TransportFailure) and f"127.0.0.1:{port}" in got.detail
    assert SECRET not in repr(got)
    async with asyncio.timeout(LIMIT):
        assert await pool.fetch(f"http://127.0.0.1:{port}/v1/models", {}, timeout=2.0) is None


async def test_a_host_name_idna_refuses_is_a_connect_failure(pool: UpstreamPool) -> None:
    for host in ("a..b", "-" * 70):  # refused before any DNS query
        async with asyncio.timeout(LIMIT):
            got = await pool.send(f"http://{host}/v1", {}, b"{}", headers_timeout=3.0)
        assert is_failure(got, "connect"), (host, got)


async def test_cancelled_while_waiting_for_the_head_drops_the_connection(
        serve: ServeFactory, pool: UpstreamPool) -> None:
    async def slow(upstream: Upstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if upstream.connections == 1:
            if await upstream.read_request(reader):
                await upstream.wait_client_left(reader)
                await asyncio.sleep(0.05)
                writer.write(ok(b"late"))  # to a connection the client dropped: nobody may read this
        else:
            await forever([ok(b"fresh")])(upstream, reader, writer)

    upstream = await serve(slow)
    task = asyncio.create_task(send(pool, upstream))
    async with asyncio.timeout(LIMIT):
        await upstream.requested.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with asyncio.timeout(LIMIT):
        await upstream.client_left.wait()
    assert await body_of(pool, upstream) == b"fresh"
    assert upstream.connections == 2


async def test_cancelled_while_reading_the_body_then_closed_drops_the_connection(
        serve: ServeFactory, pool: UpstreamPool) -> None:
    upstream = await serve(answering([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"]))
    resp = await send(pool, upstream)
    assert isinstance(resp, UpstreamResponse)
    assert await resp.readany() == b"abc"
    task = asyncio.create_task(resp.readany())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    resp.close()
    async with asyncio.timeout(LIMIT):
        await upstream.client_left.wait()


# --- body time limits (UpstreamResponse.limit and .pace) ------------------------------------------------------

def trickle(head: bytes, pieces: Sequence[bytes], gap: float, *, stall: float = 0.0) -> Handler:
    """One response per connection: the head, then each piece `gap` seconds apart, then `stall` seconds of
    silence before the end (an empty chunk) when the framing is chunked."""

    async def handler(upstream: Upstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await upstream.read_request(reader):
            writer.write(head)
            for piece in pieces:
                await asyncio.sleep(gap)
                writer.write(piece)
            if stall:  # silent, but watching for the client to drop the connection
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(upstream.wait_client_left(reader), stall)
                if upstream.client_left.is_set():
                    return
            writer.write(b"0\r\n\r\n")

    return handler


SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
EVENT = b"%x\r\ndata: {}\n\n\r\n" % len(b"data: {}\n\n")


async def read_timed(resp: UpstreamResponse) -> tuple[bytes | TransportFailure, float]:
    loop = asyncio.get_running_loop()
    began = loop.time()
    async with asyncio.timeout(LIMIT):
        got = await read_all(resp)
    resp.release()
    return got, loop.time() - began


async def test_limit_cuts_a_stalled_body_as_a_timeout_and_drops_the_connection(
        serve: ServeFactory, pool: UpstreamPool) -> None:
    upstream = await serve(trickle(SSE_HEAD, [EVENT], 0.0, stall=30))
    resp = await send(pool, upstream)
    assert isinstance(resp, UpstreamResponse)
    resp.limit(asyncio.get_running_loop().time() + 0.2, "the answer did not arrive in time")
    assert await resp.readany() == b"data: {}\n\n"
    with pytest.raises(UpstreamTimeout, match="the answer did not arrive in time"):
        async with asyncio.timeout(LIMIT):
            await resp.readany()
    resp.release()
    async with asyncio.timeout(LIMIT):
        await upstream.client_left.wait()


async def test_a_limit_met_does_not_outlive_its_response(serve: ServeFactory, pool: UpstreamPool) -> None:
    async def late_second(upstream: Upstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await upstream.read_request(reader)
        await write_split(writer, [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", b"first"])
        await upstream.read_request(reader)
        await asyncio.sleep(0.3)  # past the first response's limit
        writer.write(ok(b"second"))
        await upstream.wait_client_left(reader)

    upstream = await serve(late_second)
    resp = await send(pool, upstream)
    assert isinstance(resp, UpstreamResponse)
    resp.limit(asyncio.get_running_loop().time() + 0.1, "first")
    assert await read_all(resp) == b"first"
    resp.release()
    await asyncio.sleep(0.2)  # the connection idles in the pool past that limit
    assert await body_of(pool, upstream) == b"second"
    assert upstream.connections == 1


async def test_pace_lets_a_steady_stream_run_past_its_idle_limit_in_total(
        serve: ServeFactory, pool: UpstreamPool) -> None:
    upstream = await serve(trickle(SSE_HEAD, [EVENT] * 8, 0.05))
    resp = await send(pool, upstream)
    assert isinstance(resp, UpstreamResponse)
    resp.pace(0.25, asyncio.get_running_loop().time() + LIMIT, "stalled")
    got, took = await read_timed(resp)
    assert got == b"data: {}\n\n" * 8 and took > 0.3


async def test_pace_cuts_a_stream_silent_for_its_idle_limit(serve: ServeFactory, pool: UpstreamPool) -> None:
    upstream = await serve(trickle(SSE_HEAD, [EVENT] * 3, 0.02, stall=30))
    resp = await send(pool, upstream)
    assert isinstance(resp, UpstreamResponse)
    resp.pace(0.2, asyncio.get_running_loop().time() + LIMIT, "stalled")
    got, took = await read_timed(resp)
    assert got == TransportFailure("timeout", "stalled") and 0.2 <= took < 2.0
    async with asyncio.timeout(LIMIT):
        await upstream.client_left.wait()


async def test_pace_enforces_its_overall_deadline_on_a_stream_that_never_stops(
        serve: ServeFactory, pool: UpstreamPool) -> None:
    upstream = await serve(trickle(SSE_HEAD, [EVENT] * 200, 0.02))
    resp = await send(pool, upstream)
    assert isinstance(resp, UpstreamResponse)
    resp.pace(0.2, asyncio.get_running_loop().time() + 0.3, "too long")
    got, took = await read_timed(resp)
    assert got == TransportFailure("timeout", "too long") and 0.25 <= took < 2.0


async def test_pace_does_not_blame_the_upstream_for_a_slow_reader(serve: ServeFactory, pool: UpstreamPool) -> None:
    body = bytes(range(256)) * (3 * 1024 * 1024 // 256)
    upstream = await serve(answering([ok(body)]))
    resp = await send(pool, upstream)
    assert isinstance(resp, UpstreamResponse)
    resp.pace(0.1, asyncio.get_running_loop().time() + 20, "stalled")
    parts: list[bytes] = []
    async with asyncio.timeout(20):
        while data := await resp.readany():
            parts.append(data)
            await asyncio.sleep(0.3)  # paused far longer than the idle limit: reading is paused, not the upstream
    resp.release()
    assert b"".join(parts) == body


async def test_pace_restarts_the_idle_clock_when_a_slow_reader_resumes(serve: ServeFactory, pool: UpstreamPool) -> None:
    """Reading was paused for the reader; once it resumes, the upstream has a whole idle period for its next
    piece, however close the last check made while paused was to running out."""
    first, rest = b"a" * HIGH_WATER, b"b" * 1000  # exactly the high-water mark: paused with nothing left unread
    go = asyncio.Event()

    async def handler(upstream: Upstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if await upstream.read_request(reader):
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(first) + len(rest), first))
            await writer.drain()
            await go.wait()
            writer.write(rest)
            await upstream.wait_client_left(reader)

    upstream = await serve(handler)
    resp = await send(pool, upstream)
    assert isinstance(resp, UpstreamResponse)
    loop = asyncio.get_running_loop()
    resp.pace(0.4, loop.time() + 20, "stalled")
    await asyncio.sleep(1.0)  # the reader is behind; the checks at 0.4 and 0.8 s find reading paused
    head = await resp.readany()  # reading resumes, 0.2 s before the next check
    loop.call_later(0.3, go.set)  # the upstream's next piece: 0.3 s after reading resumed, within its idle limit
    async with asyncio.timeout(LIMIT):
        tail = await resp.read()
    resp.release()
    assert head + tail == first + rest


async def test_a_reused_connection_that_never_answers_times_out_and_is_dropped(
        serve: ServeFactory, pool: UpstreamPool) -> None:
    upstream = await serve(answering([ok(b"first")]))  # the second request on the connection gets nothing
    assert await body_of(pool, upstream) == b"first"
    got = await send(pool, upstream, timeout=0.2)
    assert got == TransportFailure("timeout", "no response head in time")
    async with asyncio.timeout(LIMIT):
        await upstream.client_left.wait()
    assert upstream.connections == 1


# --- TLS ---------------------------------------------------------------------------------------------------

@pytest.fixture
def tls_server(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context with a fresh self-signed certificate for `localhost` only, and that certificate."""
    if shutil.which("openssl") is None:
        if os.environ.get("CI"):
            pytest.fail("openssl is missing (.ci/run installs it)")
        pytest.skip("openssl is missing")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost"], check=True, capture_output=True, timeout=30)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context, cert


async def test_tls_verifies_the_certificate_and_its_name(
        tls_server: tuple[ssl.SSLContext, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    context, cert = tls_server
    upstream = Upstream(forever([ok(b"secure")]))
    upstream.server = await asyncio.start_server(upstream._serve, "127.0.0.1", 0, ssl=context)
    port = upstream.server.sockets[0].getsockname()[1]
    try:
        untrusting = UpstreamPool(connect_timeout=2.0)
        got = await untrusting.send(f"https://localhost:{port}/v1", {}, b"{}", headers_timeout=LIMIT)
        assert is_failure(got, "connect"), got  # self-signed: not trusted by the system's CAs
        await untrusting.close()

        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # how an operator trusts a private CA
        trusting = UpstreamPool(connect_timeout=2.0)
        try:
            got = await trusting.send(f"https://127.0.0.1:{port}/v1", {}, b"{}", headers_timeout=LIMIT)
            assert is_failure(got, "connect"), got  # trusted, but not issued for that name
            for _ in range(2):
                resp = await trusting.send(f"https://localhost:{port}/v1", {}, b"{}", headers_timeout=LIMIT)
                assert isinstance(resp, UpstreamResponse)
                assert await asyncio.wait_for(read_all(resp), LIMIT) == b"secure"
                resp.release()
            assert b"Host: localhost:%d" % port in upstream.heads[0]
            assert upstream.connections == 1  # one kept-alive connection (refused handshakes never got here)
        finally:
            await trusting.close()
    finally:
        upstream.server.close()
        for task in upstream.tasks:
            task.cancel()
        await asyncio.gather(*upstream.tasks, return_exceptions=True)
        await upstream.server.wait_closed()


# --- flow control, fetch, close -----------------------------------------------------------------------------

async def read_slowly(resp: UpstreamResponse) -> list[bytes]:
    """The body as the reads handed it over, read by a slow client (20 ms between reads), then released."""
    parts: list[bytes] = []
    async with asyncio.timeout(30):
        while data := await resp.readany():
            parts.append(data)
            await asyncio.sleep(0.02)
    resp.release()
    return parts


async def test_a_5_mb_body_read_slowly_arrives_whole_under_flow_control(
        serve: ServeFactory, pool: UpstreamPool) -> None:
    body = b"".join(hashlib.sha256(b"%d" % i).digest() for i in range(5 * 1024 * 1024 // 32))

    async def big(upstream: Upstream, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if await upstream.read_request(reader):
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
            for i in range(0, len(body), 256 * 1024):
                writer.write(body[i:i + 256 * 1024])
                await writer.drain()
            await upstream.wait_client_left(reader)

    upstream = await serve(big)
    for framing in ("length", "reuse"):
        resp = await send(pool, upstream)
        assert isinstance(resp, UpstreamResponse)
        parts = await read_slowly(resp)
        assert b"".join(parts) == body, framing
        # reading paused at the high-water mark, so no read handed over much more than it
        assert max(map(len, parts)) <= HIGH_WATER + 512 * 1024, framing
        if framing == "length":
            upstream = await serve(big)  # a fresh server: the first one answers one request only


async def test_a_5_mb_chunked_body_read_slowly_arrives_whole_under_flow_control(
        serve: ServeFactory, pool: UpstreamPool) -> None:
    body = b"".join(hashlib.sha256(b"%d" % i).digest() for i in range(5 * 1024 * 1024 // 32))
    raw = chunked(*[body[i:i + 40000] for i in range(0, len(body), 40000)])
    upstream = await serve(answering([raw[i:i + 300000] for i in range(0, len(raw), 300000)]))
    resp = await send(pool, upstream)
    assert isinstance(resp, UpstreamResponse)
    parts = await read_slowly(resp)
    assert b"".join(parts) == body
    assert max(map(len, parts)) <= HIGH_WATER + 512 * 1024


async def test_fetch_gets_a_whole_body_or_none(serve: ServeFactory, pool: UpstreamPool) -> None:
    upstream = await serve(answering([ok(b'{"data":[]}')]))
    async with asyncio.timeout(LIMIT):
        assert await pool.fetch(upstream.url, {"Authorization": "Bearer k"}, timeout=2.0) == (200, b'{"data":[]}')
    assert upstream.heads[0].startswith(b"GET /v1/chat/completions HTTP/1.1\r\n")
    assert b"Content-Length" not in upstream.heads[0]
    cut = await serve(answering([b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort"], then_close=True))
    async with asyncio.timeout(LIMIT):
        assert await pool.fetch(cut.url, {}, timeout=2.0) is None
    stalled = await serve(answering([b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort"]))
    loop = asyncio.get_running_loop()
    began = loop.time()
    async with asyncio.timeout(LIMIT):
        assert await pool.fetch(stalled.url, {}, timeout=0.2) is None
    assert loop.time() - began < 2.0
    async with asyncio.timeout(LIMIT):
        await stalled.client_left.wait()


async def test_pool_close_aborts_open_connections(serve: ServeFactory, pool: UpstreamPool) -> None:
    upstream = await serve(answering([b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", b"part"]))
    until_close = await serve(answering([b"HTTP/1.1 200 OK\r\n\r\n", b"part"]))
    idle = await serve(forever([ok(b"idle")]))
    silent = await serve(answering([b""]))  # reads the request, never answers
    assert await body_of(pool, idle) == b"idle"
    responses = []
    for server in (upstream, until_close):
        resp = await send(pool, server)
        assert isinstance(resp, UpstreamResponse)
        assert await resp.readany() == b"part"
        responses.append(resp)
    waiting = asyncio.create_task(send(pool, silent))
    async with asyncio.timeout(LIMIT):
        await silent.requested.wait()
    await pool.close()
    for resp in responses:
        got = await asyncio.wait_for(read_all(resp), LIMIT)
        assert is_failure(got, "reset"), got  # never a short success
        resp.release()
    assert is_failure(await asyncio.wait_for(waiting, LIMIT), "reset")
    async with asyncio.timeout(LIMIT):
        for server in (upstream, until_close, idle, silent):
            await server.client_left.wait()


async def test_releasing_an_ended_response_leaves_its_reused_connection_alone(
        serve: ServeFactory, pool: UpstreamPool) -> None:
    upstream = await serve(answering([ok(b"first")], [b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n", b"second"]))
    first = await send(pool, upstream)
    assert isinstance(first, UpstreamResponse)
    assert await read_all(first) == b"first"  # ended: its connection went back to the pool
    second = await send(pool, upstream)  # on that same connection
    assert isinstance(second, UpstreamResponse)
    first.release()  # late, as a caller's `finally` would
    assert await asyncio.wait_for(read_all(second), LIMIT) == b"second"
    second.release()
    assert upstream.connections == 1

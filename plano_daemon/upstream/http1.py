"""One keep-alive HTTP/1.1 connection to an upstream, and the response read from it.

Why not aiohttp's client: per request it builds a `ClientRequest`, header multidicts, timers, trace
hooks and a `ClientResponse`: about 100 µs of CPU on the benchmark machine, more than half of what a
bare aiohttp pass-through costs in all (docs/perf/README.md). An attempt needs far less: write one
request, parse one response head, read a body framed by Content-Length, chunked transfer coding or the
connection's end, and know whether that body ended where its framing says. The last part is the one
that matters for correctness: a body cut short is `UpstreamBroken`, never a shorter success.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Callable
from typing import Final, cast

#: A response head larger than this is refused (aiohttp's own limit is 8 KiB per line, 32 KiB of headers).
MAX_HEAD: Final = 64 * 1024
#: Buffered body bytes above which the connection stops reading until the reader catches up.
HIGH_WATER: Final = 1024 * 1024
_NO_BODY: Final = frozenset({204, 304})
#: What `bytes.strip()` strips: ASCII whitespace only (`str.strip()` would also take "\xa0" and "\x85").
_WS: Final = " \t\n\r\x0b\x0c"
_BAD_CHUNKS: Final = "the response's chunked framing is invalid"
#: The digits of a chunk size: one to 16 of them and nothing else (`int(size, 16)` alone also takes "0x5",
#: "+5", "5_0"); checked as `0 < len(size) <= 16 and not size.lstrip(_HEX)`.
_HEX: Final = b"0123456789abcdefABCDEF"

_LENGTH, _CHUNKED, _UNTIL_CLOSE = 0, 1, 2
_SIZE, _DATA, _DATA_END, _TRAILER = 0, 1, 2, 3


class UpstreamBroken(Exception):
    """The upstream's response could not be read to its end: reset, cut short, or not HTTP."""


class UpstreamTimeout(UpstreamBroken):
    """The response (its head, its body, or the next piece of a stream) did not arrive in time."""


class Headers(dict[str, str]):
    """Response headers by lower-cased name (repeated headers joined by ", "), looked up in any case."""

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return super().get(name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())


class UpstreamResponse:
    """A response whose head has arrived; its body is read with `readany`/`read` and then `release`d (the
    connection goes back to the pool once the body has ended) or `close`d (the connection is dropped)."""

    __slots__ = ("status", "headers", "_conn", "_chunks", "_buffered", "_eof", "_error", "_waiter")

    def __init__(self, status: int, headers: Headers, conn: Connection) -> None:
        self.status = status
        self.headers = headers
        self._conn: Connection | None = conn
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._eof = False
        self._error: UpstreamBroken | None = None
        self._waiter: asyncio.Future[None] | None = None

    @property
    def content_type(self) -> str:
        """The media type without parameters, aiohttp's default when there is none."""
        value = self.headers.get("content-type")
        if not value:
            return "application/octet-stream"
        return value.split(";", 1)[0].strip().lower()

    async def readany(self) -> bytes:
        """What has arrived since the last call, waiting for something; b"" once the body has ended."""
        while not self._chunks:
            if self._error is not None:
                raise self._error
            if self._eof:
                return b""
            self._waiter = self._conn.future() if self._conn is not None else asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        chunks = self._chunks
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self._chunks = []
        if self._buffered >= HIGH_WATER and self._conn is not None:
            self._conn.resume()
        self._buffered = 0
        return data

    async def read(self) -> bytes:
        """The whole body."""
        parts: list[bytes] = []
        while True:
            data = await self.readany()
            if not data:
                return b"".join(parts)
            parts.append(data)

    def limit(self, by: float, message: str) -> None:
        """The body must have ended by `by` (event-loop time); if not, reading it raises `UpstreamTimeout`.
        Like `pace`, one `call_at` handle on the connection, not an `asyncio.timeout` context: a request path
        with three of those spent more CPU on them than on parsing the answer."""
        if self._conn is not None:
            self._conn.arm(by, message)

    def pace(self, idle: float, by: float, message: str) -> None:
        """From now on, each piece of the body must follow the last within `idle` seconds, and the body
        end by `by`; if not, reading it raises `UpstreamTimeout`."""
        if self._conn is not None:
            self._conn.arm_idle(idle, by, message)

    def release(self) -> None:
        """Done with it: a connection whose body has ended is already back in the pool; otherwise dropped."""
        self.close()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.abort()

    # Called by the connection.
    def _feed(self, data: bytes) -> None:
        self._chunks.append(data)
        self._buffered += len(data)
        if self._buffered >= HIGH_WATER and self._conn is not None:
            self._conn.pause()
        self._wake()

    def _end(self, error: UpstreamBroken | None) -> None:
        self._eof = True
        self._error = error
        self._conn = None
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class Connection(asyncio.Protocol):
    """One TCP (or TLS) connection: at most one request in flight. `on_idle(conn)` is called when a
    response has ended cleanly on a connection that may be reused; `on_lost(conn)` when it closes."""

    def __init__(self, on_idle: Callable[[Connection], None], on_lost: Callable[[Connection], None]) -> None:
        self.transport: asyncio.Transport | None = None
        self.idle_since = 0.0
        self._on_idle = on_idle
        self._on_lost = on_lost
        self._buf = bytearray()
        self._head: asyncio.Future[UpstreamResponse] | None = None
        self._resp: UpstreamResponse | None = None
        self._keep_alive = False
        self._framing = _LENGTH
        self._remaining = 0
        self._chunk_state = _SIZE
        self._wbits = 0  # the body's zlib coding (gzip or deflate), 0 for none
        self._inflate: zlib._Decompress | None = None  # made on the first body byte: an empty body is empty
        self._paused = False
        self.closed = False
        self._loop = asyncio.get_running_loop()
        #: One timer handle per connection, for whichever limit is armed; `_timer_at` is when it fires.
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._due: float | None = None  # the event-loop time by which the armed wait must end (None: none)
        self._timeout_message = ""
        self._idle = 0.0  # seconds a stream may stay silent (0: no idle limit)
        self._last = 0.0  # with `_idle`: when the body last received data

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not its subclasses

    def data_received(self, data: bytes) -> None:
        if self._resp is not None:
            self._body(data)
        elif self._head is not None:
            self._buf += data
            self._parse_head()
        else:  # bytes nobody asked for: the connection is not in a known state any more
            self.abort()

    def eof_received(self) -> bool:
        return False  # close the transport: HTTP/1.1 has no half-closed connections

    def connection_lost(self, exc: Exception | None) -> None:
        aborted, self.closed = self.closed, True  # closed already: we dropped it (a reader, pool.close())
        self._cancel_timer()
        head, self._head = self._head, None
        if head is not None and not head.done():
            head.set_exception(UpstreamBroken("the connection closed before a response head"))
        if self._resp is not None:
            if self._framing == _UNTIL_CLOSE and exc is None and not aborted:
                self._finish()  # the upstream's close ends the body; a compressed one must be complete too
            else:
                self._broken("the connection closed before the end of the body")
        self._on_lost(self)

    # The request side.
    def start(self, request: list[bytes], by: float) -> asyncio.Future[UpstreamResponse]:
        """Write one request; the future resolves with the response once its head has arrived, or fails
        with `UpstreamTimeout` if that is not by `by` (event-loop time)."""
        assert self.transport is not None and self._head is None and self._resp is None
        self._head = self._loop.create_future()
        self.arm(by, "no response head in time")
        self.transport.writelines(request)
        return self._head

    def now(self) -> float:
        return self._loop.time()

    def future(self) -> asyncio.Future[None]:
        return self._loop.create_future()

    def arm(self, by: float, message: str) -> None:
        """What is awaited now (a head, a body) must have arrived by `by` (event-loop time)."""
        self._idle = 0.0
        self._due = by
        self._timeout_message = message
        self._schedule(by)

    def arm_idle(self, idle: float, by: float, message: str) -> None:
        """As `arm`, and each piece of the body must also follow the last within `idle` seconds."""
        self._idle, self._due, self._last = idle, by, self._loop.time()
        self._timeout_message = message
        self._schedule(min(self._last + idle, by))

    def _schedule(self, at: float) -> None:
        """Timers are re-armed lazily: a handle due no later than `at` is kept, and when it fires it checks
        the limit then in force. So the next request on a kept-alive connection (a later deadline) and a
        stream's chunks (a later idle limit) cost no timer operation; only an earlier limit makes a new one."""
        if self._timer is not None:
            if self._timer_at <= at:
                return
            self._timer.cancel()
        self._timer_at = at
        self._timer = self._loop.call_at(at, self._on_timer)

    def _disarm(self) -> None:
        """Nothing is awaited any more; a pending handle finds that out when it fires."""
        self._due = None

    def _cancel_timer(self) -> None:
        self._due = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _on_timer(self) -> None:
        self._timer = None
        if self._due is None:
            return
        now = self._loop.time()
        due = self._due
        if self._idle:
            if self._paused:  # the reader is behind, not the upstream
                self._last = now
            due = min(self._last + self._idle, due)
        if now >= due:
            self._expired()
        else:
            self._schedule(due)

    def _expired(self) -> None:
        self._due = None
        error = UpstreamTimeout(self._timeout_message)
        head, self._head = self._head, None
        if head is not None and not head.done():
            head.set_exception(error)
        resp, self._resp = self._resp, None
        if resp is not None:
            resp._end(error)
        self.abort()

    def abort(self) -> None:
        self._cancel_timer()
        if not self.closed:
            self.closed = True
            if self.transport is not None:
                self.transport.abort()

    def pause(self) -> None:
        if not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        """Reading again: an idle limit counts from now, since while paused the silence was the reader's."""
        if self._paused and self.transport is not None and not self.closed:
            self._paused = False
            self._last = self._loop.time()
            self.transport.resume_reading()

    # The response side.
    def _parse_head(self) -> None:
        while True:
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buf) > MAX_HEAD:
                    self._fail_head("the response head is too large")
                return
            if end > MAX_HEAD:
                self._fail_head("the response head is too large")
                return
            head = bytes(self._buf[:end])
            del self._buf[:end + 4]
            try:
                status, keep_alive, headers = _parse(head)
            except ValueError as exc:
                self._fail_head(str(exc))
                return
            if status >= 200:
                break  # an interim 1xx answer is skipped; the final one follows on the same connection
        self._keep_alive = keep_alive
        self._disarm()
        resp = UpstreamResponse(status, headers, self)
        framing_error = self._framing_for(status, headers)
        waiter, self._head = self._head, None
        if framing_error is not None:
            self._fail_head(framing_error, waiter)
            return
        self._resp = resp
        if waiter is not None and not waiter.done():
            waiter.set_result(resp)
        if self._framing == _LENGTH and self._remaining == 0:
            self._finish()
        elif self._buf:
            data = bytes(self._buf)
            self._buf.clear()
            self._body(data)

    def _framing_for(self, status: int, headers: Headers) -> str | None:
        found = dict.get  # the names are stored lower-cased: no need for Headers.get's own lowering
        encoding = (found(headers, "content-encoding") or "identity").strip().lower()
        if encoding in ("gzip", "x-gzip"):
            self._wbits = 16 + zlib.MAX_WBITS
        elif encoding == "deflate":
            self._wbits = zlib.MAX_WBITS
        else:
            self._wbits = 0  # identity, or one we cannot decode: the bytes go on as they are
        self._inflate = None
        if status in _NO_BODY:
            self._framing, self._remaining = _LENGTH, 0
            return None
        if "chunked" in (found(headers, "transfer-encoding") or "").lower():
            self._framing, self._chunk_state = _CHUNKED, _SIZE
            return None
        length = found(headers, "content-length")
        if length is None:
            self._framing, self._keep_alive = _UNTIL_CLOSE, False
            return None
        length = length.strip()
        if not (length.isascii() and length.isdigit()):  # str.isdigit alone takes "²", which int() refuses
            return "the response has an invalid Content-Length"
        self._framing, self._remaining = _LENGTH, int(length)
        return None

    def _fail_head(self, message: str, waiter: asyncio.Future[UpstreamResponse] | None = None) -> None:
        waiter = waiter or self._head
        self._head = None
        if waiter is not None and not waiter.done():
            waiter.set_exception(UpstreamBroken(message))
        self.abort()

    def _body(self, data: bytes) -> None:
        if self._framing == _LENGTH:
            if len(data) < self._remaining:
                self._remaining -= len(data)
                self._deliver(data)
                return
            take, rest = data[:self._remaining], data[self._remaining:]
            self._remaining = 0
            if take:
                self._deliver(take)
            self._buf += rest  # bytes after the body, if any: _finish then retires the connection
            self._finish()
        elif self._framing == _CHUNKED:
            self._dechunk(data)
        else:
            self._deliver(data)

    def _dechunk(self, data: bytes) -> None:
        """Decode what has arrived of a chunked body in one pass; its pieces reach the reader together
        (one wake-up per read from the socket, not one per chunk)."""
        if self._buf:  # a size line or CRLF cut by the previous read
            data = bytes(self._buf) + data
            self._buf.clear()
        pos, size_of = 0, len(data)
        state, remaining = self._chunk_state, self._remaining
        pieces: list[bytes] = []
        problem: str | None = None
        ended = False
        if state == _SIZE:  # whole chunks with a bare hex size, the usual case; any other shape: below
            while 0 < (eol := data.find(b"\r\n", pos)) - pos <= 16 and not (size := data[pos:eol]).lstrip(_HEX):
                start = eol + 2
                end = start + int(size, 16)
                if end == start or end + 2 > size_of:
                    break  # the last chunk, or one not all here: the general path below takes it
                if data[end:end + 2] != b"\r\n":
                    problem = _BAD_CHUNKS
                    break
                pieces.append(data[start:end])
                pos = end + 2
        while problem is None:
            if state == _DATA:
                take = min(remaining, size_of - pos)
                if not take:
                    break
                pieces.append(data[pos:pos + take])
                pos += take
                remaining -= take
                if remaining:
                    break
                state = _DATA_END
            elif state == _DATA_END:
                if size_of - pos < 2:
                    break
                if data[pos:pos + 2] != b"\r\n":
                    problem = _BAD_CHUNKS
                    break
                pos += 2
                state = _SIZE
            else:  # a chunk-size line, or a trailer line after the last chunk
                eol = data.find(b"\r\n", pos)
                if eol < 0:
                    if size_of - pos > MAX_HEAD:
                        problem = _BAD_CHUNKS
                    break
                line = data[pos:eol]
                pos = eol + 2
                if state == _TRAILER:
                    if not line:
                        ended = True
                        break
                    continue
                size = line.split(b";", 1)[0].strip()
                if not 0 < len(size) <= 16 or size.lstrip(_HEX):
                    problem = _BAD_CHUNKS
                    break
                remaining = int(size, 16)
                state = _TRAILER if remaining == 0 else _DATA
        self._chunk_state, self._remaining = state, remaining
        if pieces:
            self._deliver(pieces[0] if len(pieces) == 1 else b"".join(pieces))
        if problem is not None:
            self._broken(problem)
        elif ended:
            self._buf += data[pos:]  # bytes after the body, if any: _finish then retires the connection
            self._finish()
        elif pos < size_of and self._resp is not None:
            self._buf += data[pos:]

    def _deliver(self, data: bytes) -> None:
        resp = self._resp
        if resp is None:
            return
        if self._wbits:
            if self._inflate is None:
                self._inflate = zlib.decompressobj(self._wbits)
            try:
                data = self._inflate.decompress(data)
            except zlib.error:
                self._broken("the response body cannot be decompressed")
                return
        if data:
            if self._idle:
                self._last = self._loop.time()
            resp._feed(data)

    def _finish(self) -> None:
        resp, self._resp = self._resp, None
        if resp is None:
            return
        self._disarm()
        if self._inflate is not None:
            try:
                tail = self._inflate.flush()
            except zlib.error:
                tail = b""
            if not self._inflate.eof:
                resp._end(UpstreamBroken("the response body cannot be decompressed"))
                self.abort()
                return
            if tail:
                resp._feed(tail)
        resp._end(None)
        if self._buf:  # bytes after the body: the connection cannot be trusted with another request
            self._keep_alive = False
            self._buf.clear()
        self.resume()
        if self._keep_alive and not self.closed:
            self._on_idle(self)
        else:
            self.abort()

    def _broken(self, message: str) -> None:
        self._disarm()
        resp, self._resp = self._resp, None
        if resp is not None:
            resp._end(UpstreamBroken(message))
        self.abort()


def _parse(head: bytes) -> tuple[int, bool, Headers]:
    """Status, keep-alive and headers of a response head (without its final blank line)."""
    lines = head.decode("latin-1").split("\r\n")  # decoded once: every byte is a latin-1 character
    parts = lines[0].split(" ", 2)
    code = parts[1] if len(parts) > 1 else ""
    if not parts[0].startswith("HTTP/1.") or len(code) != 3 or not (code.isascii() and code.isdigit()):
        raise ValueError("the upstream did not answer HTTP/1.1")
    headers = Headers()
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip(_WS):
            raise ValueError("the response head has an invalid header line")
        key = name.lower()
        text = value.strip(_WS)
        previous = dict.get(headers, key)
        dict.__setitem__(headers, key, text if previous is None else f"{previous}, {text}")
    connection = (dict.get(headers, "connection") or "").lower()
    keep_alive = "keep-alive" in connection if parts[0] == "HTTP/1.0" else "close" not in connection
    return int(code), keep_alive, headers

"""The HTTP connection below the handlers: what aiohttp answers before any handler runs, made ours.

aiohttp answers a request its parser rejects (bad Content-Length, NUL bytes, too many headers, an unknown
Content-Encoding) in plain text, logs its traceback, and waits for a client's headers for as long as the
client likes. Here: every such answer is JSON, each one gets an access line, protocol noise is one debug
line without a traceback, and a client that takes longer than `dubnium.timeouts.request_headers` to send
its headers gets a 408 and the connection is closed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestHandler

from plano_daemon.errors import BadRequest, GatewayError
from plano_daemon.logs import LOG, access_line, milliseconds
from plano_daemon.web.guard import dialect
from plano_daemon.wire.errors import error_body, openai_error_body
from plano_daemon.wire.trace import trace_from_headers

#: How much of a request's first bytes is kept to find its path.
_HEAD_BYTES = 512

#: The body of the 408 written to a client too slow with its headers (we know neither its API nor its id).
_HEADERS_TIMEOUT = json.dumps(openai_error_body(
    "request headers not received in time (dubnium.timeouts.request_headers)",
    error_type="invalid_request_error", code="request_timeout")).encode()


class _Connection(RequestHandler):
    """One client connection; see the module docstring for what it changes."""

    def __init__(self, manager: web.Server, *, headers_timeout: float, on_refused: Callable[[int], None],
                 **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._headers_timeout = headers_timeout
        self._on_refused = on_refused
        #: One timer per connection, re-armed lazily: a request's head only notes when it began
        #: (`_head_since`), so a keep-alive request costs no timer operation.
        self._headers_timer: asyncio.TimerHandle | None = None
        self._head_since: float | None = None
        #: The start of the request being received, and of the last one parsed: the path of a request the
        #: parser rejects gives the dialect of its error.
        self._head = b""
        self._last_head = b""
        #: The body of the last request parsed: until it is complete, bytes received are body, not headers.
        self._last_payload: StreamReader | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._head_began()

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._headers_timer is not None:
            self._headers_timer.cancel()
            self._headers_timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        parsed = self._request_count
        if self._last_payload is None or self._last_payload.is_eof():  # bytes of a request's head
            if self._head_since is None:
                self._head_began()
            if not self._head:
                self._head = data[:_HEAD_BYTES]
        super().data_received(data)
        if self._request_count != parsed:  # a request's headers are complete (or rejected)
            self._head_since = None
            self._last_payload = self._messages[-1][1] if self._messages else None
            self._last_head, self._head = self._head, b""

    def _head_began(self) -> None:
        self._head_since = self._loop.time()
        if self._headers_timer is None:
            self._headers_timer = self._loop.call_at(self._head_since + self._headers_timeout,
                                                     self._headers_too_slow)

    def _headers_too_slow(self) -> None:
        self._headers_timer = None
        since = self._head_since
        if since is None:  # no head on its way: the next one arms the timer again
            return
        if self._loop.time() < since + self._headers_timeout:  # armed for an earlier head
            self._headers_timer = self._loop.call_at(since + self._headers_timeout, self._headers_too_slow)
            return
        transport = self.transport
        if transport is None or self._request_in_progress or self._messages:
            return
        transport.write(b"HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
                        b"Connection: close\r\nContent-Length: %d\r\n\r\n%s"
                        % (len(_HEADERS_TIMEOUT), _HEADERS_TIMEOUT))
        transport.close()
        self._on_refused(408)
        access_line(408, {"request_id": None, "method": None, "path": None, "handler": "none",
                              "status": 408, "ms": milliseconds(self._headers_timeout),
                              "error": "request headers not received in time"})

    def handle_error(self, request: web.BaseRequest, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        """aiohttp's answer for a request it could not parse, or whose handler raised what it did not answer
        itself (a bug of ours: logged with its traceback): JSON, one access line. The parser's message is not
        repeated: it may quote a header line (an Authorization header)."""
        if request.writer.output_size > 0:
            raise ConnectionError("response already started; cannot send an error")
        reason = type(exc).__name__ if exc is not None else "error"
        request_id = None
        err: GatewayError
        if status < 500:
            err = BadRequest(f"the request could not be parsed as HTTP ({reason})", code="bad_request", status=status)
        else:
            err = GatewayError("internal error in the gateway; see its log")
            if exc is not None:
                request_id = trace_from_headers(request.headers).trace_id
                LOG.error("internal error serving request %s", request_id, exc_info=exc)
        path = self._path()
        self._on_refused(status)
        access_line(status, {"request_id": request_id, "method": None, "path": path, "handler": "none",
                             "status": status, "ms": 0.0, "error": reason})
        resp = web.json_response(error_body(dialect(path or "/"), err), status=status,
                                 headers=None if request_id is None else {"X-Request-Id": request_id})
        resp.force_close()
        return resp

    def _path(self) -> str | None:
        """The path of the request line in `_head`, if it has one that decodes."""
        parts = (self._head or self._last_head).split(b"\r\n", 1)[0].split(b" ")
        if len(parts) < 2:
            return None
        try:
            return parts[1].decode("ascii")[:200]
        except UnicodeDecodeError:
            return None

    def log_exception(self, *args: Any, **kw: Any) -> None:
        """Protocol noise (a client's broken request or dropped connection): one debug line, no traceback."""
        exc = kw.get("exc_info")
        LOG.debug("http connection: %s", type(exc).__name__ if isinstance(exc, BaseException) else "error")


def _uncounted(status: int) -> None:
    return None


class _Server(web.Server):
    """aiohttp's connection factory, making `_Connection`s."""

    headers_timeout: float = 10.0
    on_refused: Callable[[int], None] = staticmethod(_uncounted)

    def __call__(self) -> RequestHandler:
        return _Connection(self, loop=self._loop, headers_timeout=self.headers_timeout,
                           on_refused=self.on_refused, **self._kwargs)


class GatewayRunner(web.AppRunner):
    """An AppRunner whose connections are `_Connection`s; `on_refused(status)` counts each request they
    answer themselves (parser rejections, headers too slow), which no handler sees."""

    def __init__(self, app: web.Application, *, headers_timeout: float,
                 on_refused: Callable[[int], None] = _uncounted, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._headers_timeout = headers_timeout
        self._on_refused = on_refused

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # Same state, our protocol factory: aiohttp has no parameter for the connection class.
        server.__class__ = _Server
        assert isinstance(server, _Server)
        server.headers_timeout = self._headers_timeout
        server.on_refused = self._on_refused
        return server

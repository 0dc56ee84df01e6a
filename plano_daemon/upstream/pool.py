"""The transport edge: keep-alive connections per upstream origin, one attempt per call.

Transport errors stop here: `send` returns either a response or a `TransportFailure` value, so the retry
logic above sees outcomes, never exceptions (the httpx `map_httpcore_exceptions` idea).
"""

from __future__ import annotations

import asyncio
import base64
import re
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Literal
from urllib.parse import quote, unquote, urlsplit

from plano_daemon.upstream.http1 import Connection, UpstreamBroken, UpstreamResponse, UpstreamTimeout

#: connect/timeout/reset: the transport failed; request: the request could not even be built (a header
#: value with a newline, credentials in the URL beside an Authorization header); bad_response, truncated,
#: upstream_error: a 2xx answer that is unreadable or of the wrong shape, a stream cut before its end
#: event, an error sent inside a stream.
TransportKind = Literal["connect", "timeout", "reset", "request", "bad_response", "truncated", "upstream_error"]

#: An idle connection older than this is closed instead of reused (servers drop theirs after a while).
KEEP_IDLE = 60.0
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"


@dataclass(frozen=True, slots=True)
class TransportFailure:
    """Why an attempt gave no usable answer; `detail` never holds a key or a URL's credentials."""

    kind: TransportKind
    detail: str


@dataclass(frozen=True, slots=True)
class _Target:
    """A URL taken apart once: where to connect and the request's first lines."""

    key: tuple[str, str, int]
    tls: bool
    head: str  # request line and Host header
    authorization: str | None  # from credentials in the URL


class UpstreamPool:
    """Idle connections keyed by origin, opened on first use and kept across config reloads."""

    __slots__ = ("_idle", "_open", "_connect_timeout", "_targets", "_names", "_tls")

    def __init__(self, *, connect_timeout: float) -> None:
        self._idle: dict[tuple[str, str, int], list[Connection]] = {}
        self._open: set[Connection] = set()
        self._connect_timeout = connect_timeout
        self._targets: dict[tuple[str, str], _Target | TransportFailure] = {}
        self._names: set[str] = set()  # header names already checked to be tokens
        self._tls: ssl.SSLContext | None = None

    def set_connect_timeout(self, seconds: float) -> None:
        """A reload may change the connect timeout; it applies to connections opened from now on."""
        self._connect_timeout = seconds

    async def send(self, url: str, headers: Mapping[str, str], body: bytes, *,
                   headers_timeout: float, method: str = "POST") -> UpstreamResponse | TransportFailure:
        """Send and wait for the response head (status + headers) at most `headers_timeout` seconds."""
        target = self._target(method, url)
        if isinstance(target, TransportFailure):
            return target
        try:
            head = self._encode(target, headers, body, method)
        except ValueError:  # the message could quote the header value (a key): only the kind is kept
            return TransportFailure("request", "the request could not be sent (an invalid header name or value)")
        conn = self._reuse(target.key)
        if conn is None:
            by = asyncio.get_running_loop().time() + headers_timeout
            opened = await self._connect(target, headers_timeout)
            if isinstance(opened, TransportFailure):
                return opened
            conn = opened
        else:  # the connection's loop: asyncio.get_running_loop() is a getpid() system call per use
            by = conn.now() + headers_timeout
        try:
            return await conn.start([head, body] if body else [head], by)
        except UpstreamTimeout as exc:
            return TransportFailure("timeout", str(exc))
        except UpstreamBroken as exc:
            return TransportFailure("reset", str(exc))
        except BaseException:  # cancelled: the connection is mid-request, it cannot be reused
            conn.abort()
            raise

    async def fetch(self, url: str, headers: Mapping[str, str], *, timeout: float) -> tuple[int, bytes] | None:
        """GET `url` whole within `timeout` seconds: (status, body), or None when it could not be had."""
        try:
            async with asyncio.timeout(timeout):
                resp = await self.send(url, headers, b"", headers_timeout=timeout, method="GET")
                if isinstance(resp, TransportFailure):
                    return None
                try:
                    return resp.status, await resp.read()
                finally:
                    resp.release()
        except (TimeoutError, UpstreamBroken):
            return None

    async def close(self) -> None:
        conns, self._open, self._idle = list(self._open), set(), {}
        for conn in conns:
            conn.abort()

    def _reuse(self, key: tuple[str, str, int]) -> Connection | None:
        idle = self._idle.get(key)
        if not idle:
            return None
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if not conn.closed and now - conn.idle_since < KEEP_IDLE:
                return conn
            conn.abort()
        return None

    async def _connect(self, target: _Target, limit: float) -> Connection | TransportFailure:
        _, host, port = target.key
        loop = asyncio.get_running_loop()
        tls = self._tls_context() if target.tls else None
        try:
            async with asyncio.timeout(min(self._connect_timeout, limit)):
                _, conn = await loop.create_connection(
                    partial(Connection, partial(self._park, target.key), partial(self._lost, target.key)),
                    host, port, ssl=tls, server_hostname=host if tls is not None else None)
        except TimeoutError:
            return TransportFailure("timeout", "connect timed out" if self._connect_timeout <= limit
                                    else "no response head in time")
        except (OSError, UnicodeError):  # refused, unreachable, DNS, TLS (an OSError); a name IDNA refuses
            return TransportFailure("connect", f"cannot connect to {host}:{port}")
        self._open.add(conn)
        return conn

    def _park(self, key: tuple[str, str, int], conn: Connection) -> None:
        conn.idle_since = time.monotonic()
        self._idle.setdefault(key, []).append(conn)

    def _lost(self, key: tuple[str, str, int], conn: Connection) -> None:
        self._open.discard(conn)
        idle = self._idle.get(key)
        if idle and conn in idle:
            idle.remove(conn)

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    def _target(self, method: str, url: str) -> _Target | TransportFailure:
        found = self._targets.get((method, url))
        if found is None:
            if len(self._targets) > 4096:  # URLs come from the config: only a bug could grow this
                self._targets.clear()
            found = self._targets[(method, url)] = _parse_target(method, url)
        return found

    def _encode(self, target: _Target, headers: Mapping[str, str], body: bytes, method: str) -> bytes:
        lines = [target.head]
        names = self._names
        for name, value in headers.items():
            if name not in names:
                if not _TOKEN.fullmatch(name):
                    raise ValueError("header name")
                names.add(name)
            if "\r" in value or "\n" in value or "\0" in value:
                raise ValueError("header value")
            lines.append(f"{name}: {value}\r\n")
        if target.authorization is not None:
            if any(name.lower() == "authorization" for name in headers):
                raise ValueError("credentials in the URL and an Authorization header")
            lines.append(f"Authorization: {target.authorization}\r\n")
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}\r\n")
        lines.append("\r\n")
        return "".join(lines).encode()


def _parse_target(method: str, url: str) -> _Target | TransportFailure:
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname
    except ValueError:
        return TransportFailure("request", "the upstream URL is invalid")
    if parts.scheme not in ("http", "https") or not host:
        return TransportFailure("request", "the upstream URL is not http(s)")
    tls = parts.scheme == "https"
    default = 443 if tls else 80
    port = port or default
    shown = f"[{host}]" if ":" in host else host
    if port != default:
        shown = f"{shown}:{port}"
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    if parts.query:
        path = f"{path}?{quote(parts.query, safe=_PATH_SAFE + '?')}"
    authorization = None
    if parts.username is not None or parts.password is not None:
        pair = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}".encode()
        authorization = "Basic " + base64.b64encode(pair).decode()
    return _Target((parts.scheme, host, port), tls, f"{method} {path} HTTP/1.1\r\nHost: {shown}\r\n", authorization)


async def read_all(resp: UpstreamResponse) -> bytes | TransportFailure:
    """The whole body, or the failure that cut it short (the caller bounds the time)."""
    try:
        return await resp.read()
    except UpstreamTimeout as exc:
        return TransportFailure("timeout", str(exc))
    except UpstreamBroken as exc:
        return TransportFailure("reset", str(exc))


#: Errors reading a body that mean the upstream went away mid-answer (cut, reset, not HTTP).
STREAM_ERRORS = UpstreamBroken

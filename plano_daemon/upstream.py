"""The transport edge: one pooled ClientSession per upstream origin, one attempt per call.

aiohttp's exceptions stop here: `send` returns either a response or a `TransportFailure` value, so the
retry logic above sees outcomes, never exceptions (the httpx `map_httpcore_exceptions` idea).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import aiohttp

#: connect/timeout/reset: the transport failed; request: the request could not even be built (a header
#: value with a newline, credentials in the URL); bad_response, truncated, upstream_error: a 2xx answer that
#: is unreadable or of the wrong shape, a stream cut before its end event, an error sent inside a stream.
TransportKind = Literal["connect", "timeout", "reset", "request", "bad_response", "truncated", "upstream_error"]


@dataclass(frozen=True, slots=True)
class TransportFailure:
    """Why an attempt gave no usable answer; `detail` never holds a key or a URL's credentials."""

    kind: TransportKind
    detail: str


class UpstreamPool:
    """Sessions keyed by origin, created on first use and kept across config reloads."""

    __slots__ = ("_sessions", "_timeout")

    def __init__(self, *, connect_timeout: float) -> None:
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        self._timeout = aiohttp.ClientTimeout(total=None, connect=None, sock_connect=connect_timeout,
                                              sock_read=None)

    def set_connect_timeout(self, seconds: float) -> None:
        """A reload may change the connect timeout; it applies to requests sent from now on."""
        self._timeout = aiohttp.ClientTimeout(total=None, connect=None, sock_connect=seconds, sock_read=None)

    def session(self, origin: str) -> aiohttp.ClientSession:
        s = self._sessions.get(origin)
        if s is None or s.closed:
            connector = aiohttp.TCPConnector(limit=1024, ttl_dns_cache=300, keepalive_timeout=60)
            # No Accept-Encoding: bodies pass through as the upstream sent them and SSE is never buffered.
            # No cookie jar: one client's upstream cookies must never ride on another's requests, and
            # filtering an empty jar still costs every request.
            s = aiohttp.ClientSession(base_url=None, connector=connector, timeout=self._timeout,
                                      skip_auto_headers=("Accept-Encoding", "User-Agent"),
                                      auto_decompress=True, cookie_jar=aiohttp.DummyCookieJar())
            self._sessions[origin] = s
        return s

    async def send(self, origin: str, url: str, headers: Mapping[str, str], body: bytes, *,
                   headers_timeout: float) -> aiohttp.ClientResponse | TransportFailure:
        """POST and wait for the response head (status + headers) at most `headers_timeout` seconds."""
        session = self.session(origin)
        try:
            async with asyncio.timeout(headers_timeout):
                return await session.post(url, data=body, headers=headers, timeout=self._timeout)
        except TimeoutError:
            return TransportFailure("timeout", "no response head in time")
        except aiohttp.ConnectionTimeoutError:
            return TransportFailure("timeout", "connect timed out")
        except aiohttp.ClientConnectorError as exc:
            return TransportFailure("connect", f"cannot connect to {exc.host}:{exc.port}")
        except aiohttp.ClientError as exc:
            return TransportFailure("reset", type(exc).__name__)
        except (ValueError, TypeError, UnicodeError) as exc:  # raised by aiohttp outside ClientError;
            # its message may quote the header value (a key), so only the type is kept
            return TransportFailure("request", f"the request could not be sent ({type(exc).__name__})")

    async def close(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)


async def read_all(resp: aiohttp.ClientResponse) -> bytes | TransportFailure:
    """The whole body, or the failure that cut it short (the caller bounds the time)."""
    try:
        return await resp.read()
    except aiohttp.ClientError as exc:
        return TransportFailure("reset", type(exc).__name__)


#: Errors reading a stream body that mean the upstream went away mid-stream (payload cut, disconnect, reset).
STREAM_ERRORS = aiohttp.ClientError

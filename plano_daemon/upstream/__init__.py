"""Talking to upstreams: a pool of keep-alive HTTP/1.1 connections (pool.py) over a lean client (http1.py)."""

from plano_daemon.upstream.http1 import Headers, UpstreamBroken, UpstreamResponse, UpstreamTimeout
from plano_daemon.upstream.pool import STREAM_ERRORS, TransportFailure, TransportKind, UpstreamPool, read_all

__all__ = ["STREAM_ERRORS", "Headers", "TransportFailure", "TransportKind", "UpstreamBroken", "UpstreamPool",
           "UpstreamResponse", "UpstreamTimeout", "read_all"]

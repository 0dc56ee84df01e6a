"""A bounded HTTP/1.1 load generator on raw asyncio streams, run in its own process by bench.py.

`--concurrency` keep-alive connections send the same precomputed POST until `--requests` have completed
or `--seconds` have passed, whichever comes first. It prints one JSON object: counts, requests per
second, and latency percentiles (for streams also time to first body byte), in milliseconds.
Raw streams rather than an HTTP client library keep the client's own cost small and equal for every
target, so differences between targets are the targets'.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field

MAX_ERRORS = 200
#: Sent as the bearer token; LiteLLM's proxy is configured with it as its master key.
API_KEY = "sk-bench-4f1c2a9e7b3d58e6a0c91f2d4b7e8a53"


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    ttfts: list[float] = field(default_factory=list)
    errors: int = 0
    started: int = 0
    last_error: str = ""


def request_bytes(host: str, port: int, path: str, body: bytes) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {API_KEY}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes
                   ) -> tuple[int, float, float | None, bool]:
    """Send one request, read the whole response; (status, seconds, seconds to first body byte, keep-alive)."""
    t0 = time.perf_counter()
    writer.write(payload)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    first: float | None = None
    keep = b"connection: close" not in lower
    idx = lower.find(b"content-length:")
    if idx >= 0:
        end = lower.index(b"\r\n", idx)
        length = int(lower[idx + 15:end])
        if length:
            await reader.readexactly(length)
        first = time.perf_counter() - t0
    elif b"transfer-encoding: chunked" in lower:
        while True:
            line = await reader.readuntil(b"\r\n")
            size = int(line.split(b";", 1)[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            await reader.readexactly(size + 2)
            if first is None:
                first = time.perf_counter() - t0
    else:
        await reader.read()
        keep = False
    return status, time.perf_counter() - t0, first, keep


async def worker(host: str, port: int, payloads: tuple[bytes, bytes], stream_every: int, budget: list[int],
                 deadline: float, tally: Tally) -> None:
    reader = writer = None
    while budget[0] > 0 and time.monotonic() < deadline and tally.errors < MAX_ERRORS:
        budget[0] -= 1
        n = tally.started
        tally.started += 1
        is_stream = stream_every > 0 and n % stream_every == 0
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
            assert reader is not None
            status, seconds, first, keep = await exchange(reader, writer, payloads[1 if is_stream else 0])
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            tally.errors += 1
            tally.last_error = f"{type(exc).__name__}: {exc}"
            if writer is not None:
                writer.close()
            reader = writer = None
            continue
        if status != 200:
            tally.errors += 1
            tally.last_error = f"HTTP {status}"
        else:
            tally.latencies.append(seconds)
            if is_stream and first is not None:
                tally.ttfts.append(first)
        if not keep:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    s = sorted(values)

    def pct(p: float) -> float:
        return s[min(len(s) - 1, int(p / 100 * len(s)))] * 1000

    return {"p50": pct(50), "p90": pct(90), "p99": pct(99), "max": s[-1] * 1000,
            "mean": sum(s) / len(s) * 1000}


async def run(args: argparse.Namespace) -> dict[str, object]:
    body = open(args.body, "rb").read()
    stream_body = open(args.stream_body, "rb").read() if args.stream_body else body
    payloads = (request_bytes(args.host, args.port, args.path, body),
                request_bytes(args.host, args.port, args.path, stream_body))
    warm = Tally()
    if args.warmup:  # at most a fifth of the time bound, so a slow target still gets measured
        budget = [args.warmup]
        warm_until = time.monotonic() + args.seconds / 5
        await asyncio.gather(*(worker(args.host, args.port, payloads, args.stream_every, budget, warm_until, warm)
                               for _ in range(args.concurrency)))
    deadline = time.monotonic() + args.seconds
    tally = Tally()
    budget = [args.requests]
    t0 = time.perf_counter()
    await asyncio.gather(*(worker(args.host, args.port, payloads, args.stream_every, budget, deadline, tally)
                           for _ in range(args.concurrency)))
    elapsed = time.perf_counter() - t0
    return {"warmup": warm.started, "completed": len(tally.latencies), "errors": tally.errors,
            "last_error": tally.last_error, "seconds": elapsed, "rps": len(tally.latencies) / elapsed if elapsed else 0.0,
            "latency_ms": percentiles(tally.latencies), "ttft_ms": percentiles(tally.ttfts)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", default="/v1/chat/completions")
    p.add_argument("--body", required=True, help="file with the JSON request body")
    p.add_argument("--stream-body", help="file with the streaming request body")
    p.add_argument("--stream-every", type=int, default=0, help="every Nth request streams (1: all, 0: none)")
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--requests", type=int, default=1000)
    p.add_argument("--warmup", type=int, default=0)
    p.add_argument("--seconds", type=float, default=60.0, help="hard time bound for the whole run")
    args = p.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("loadgen only targets loopback")
    try:
        import uvloop
        result = uvloop.run(run(args))
    except ImportError:
        result = asyncio.run(run(args))
    print(json.dumps(result))


if __name__ == "__main__":
    main()

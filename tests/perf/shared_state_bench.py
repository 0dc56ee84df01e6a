"""The latency the Redis-backed shared state adds to a request, against the in-memory path, in one run.

    .venv/bin/python tests/perf/shared_state_bench.py [--requests 2000]

Two gateways in this process, identical but for `routing.session_cache: {type: redis}` on the second,
both with a session header (a pin lookup), a daily budget and a rate limit on the answering model (the
counter round trip), in front of one fake upstream on loopback. A real redis-server (Debian's package) is
started on a free loopback port in a temp dir and stopped at the end. Requests are sequential (c=1) and
alternate between both gateways in blocks, so machine noise hits them alike; p50/p99 of the whole request
as the client sees it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from plano_daemon.config.load import load_config  # noqa: E402
from plano_daemon.runtime import build_gateway  # noqa: E402
from plano_daemon.server import Server  # noqa: E402
from plano_daemon.systemd_notify import Notifier  # noqa: E402
from tests.fakes.upstream import FakeUpstream  # noqa: E402
from tests.shared_state.conftest import RedisServer  # noqa: E402

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "seed-routing-service.yaml"
BODY = {"model": "openai/gpt-4o", "messages": [{"role": "user", "content": "Write a Python function for binary search"}]}
BLOCK = 50


def gateway_config(upstream: str, redis_url: str | None) -> str:
    doc = yaml.safe_load(FIXTURE.read_text())
    doc["listeners"][0]["port"] = 0
    for p in doc["model_providers"]:
        p["base_url"] = upstream
    doc["ratelimits"] = [{"model": "anthropic/claude-sonnet-4-20250514", "selector": {"key": "x-user-id", "value": "*"},
                          "limit": {"tokens": 10**9, "unit": "day"}}]
    doc["dubnium"] = {"budgets": [{"target": "anthropic/claude-sonnet-4-20250514", "daily_requests": 10**9}],
                      "ledger": {"enabled": False}, "drain_seconds": 0}
    if redis_url:
        doc["routing"] = {"session_cache": {"type": "redis", "url": redis_url}}
    return yaml.safe_dump(doc)


async def start(text: str) -> tuple[Server, str]:
    env = {"OPENAI_API_KEY": "k", "ANTHROPIC_API_KEY": "k"}
    server = Server(gateway=build_gateway(load_config(None, text=text, environ=env)),
                    loader=lambda: load_config(None, text=text, environ=env), notifier=Notifier({}))
    await server.start()
    return server, f"http://127.0.0.1:{server.addresses[0][1]}/v1/chat/completions"


async def timed(http: aiohttp.ClientSession, url: str, i: int) -> float:
    headers = {"X-Session-Id": f"s-{i % 100}", "x-user-id": f"u-{i % 10}"}
    started = time.perf_counter()
    async with http.post(url, json=BODY, headers=headers) as resp:
        await resp.read()
        assert resp.status == 200, resp.status
    return time.perf_counter() - started


def summary(samples: list[float]) -> dict[str, float]:
    q = statistics.quantiles(samples, n=100)
    return {"p50_ms": round(statistics.median(samples) * 1000, 3), "p99_ms": round(q[98] * 1000, 3)}


async def main(requests: int) -> dict[str, Any]:
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["STATE_DIRECTORY"] = tmp  # the budget counts file lands here, not in the user's home
        redis = RedisServer(binary, Path(tmp))
        redis.start()
        fake = FakeUpstream("bench")
        runner = web.AppRunner(fake.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        upstream = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/v1"  # type: ignore[union-attr]
        servers: list[Server] = []
        try:
            urls = {}
            for name, url in (("memory", None), ("redis", redis.url)):
                server, urls[name] = await start(gateway_config(upstream, url))
                servers.append(server)
            await asyncio.sleep(0.5)  # the Redis-backed gateway connects in the background
            samples: dict[str, list[float]] = {name: [] for name in urls}
            async with aiohttp.ClientSession() as http:
                for url in urls.values():  # warm-up: connections, pins, counters
                    for i in range(100):
                        await timed(http, url, i)
                for start_at in range(0, requests, BLOCK):
                    for name, url in urls.items():
                        for i in range(start_at, start_at + BLOCK):
                            samples[name].append(await timed(http, url, i))
            result = {name: summary(s) for name, s in samples.items()}
            result["added_ms"] = {k: round(result["redis"][k] - result["memory"][k], 3) for k in ("p50_ms", "p99_ms")}
            result["requests_each"] = requests
            return result
        finally:
            for server in servers:
                await server.stop()
            await runner.cleanup()
            redis.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    print(yaml.safe_dump(asyncio.run(main(args.requests)), sort_keys=False))

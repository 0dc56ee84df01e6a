"""The aiohttp floor: the least a Python aiohttp gateway can do per request, to measure plano-daemon against.

Read the client's body, make one call on a pooled client session to the same path upstream, and return the
upstream's bytes (a stream chunk by chunk). No parsing, routing, policy, accounting or logging: whatever
plano-daemon adds beyond this row is the cost of its own work. uvloop when installed, like the gateway.
It prints `PORT <n>` once listening and runs until SIGTERM.

    python tests/perf/floor_proxy.py --upstream-port 8000
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import AsyncIterator

from aiohttp import ClientSession, ClientTimeout, TCPConnector, web

UPSTREAM = web.AppKey("upstream", str)
SESSION = web.AppKey("session", ClientSession)
_HOP = {"content-length", "transfer-encoding", "connection", "keep-alive"}


async def relay(request: web.Request) -> web.StreamResponse:
    body = await request.read()
    async with request.app[SESSION].post(request.app[UPSTREAM] + request.path, data=body, headers={
            "Content-Type": "application/json", "Authorization": "Bearer sk-bench-upstream"}) as up:
        if up.headers.get("Content-Type", "").startswith("text/event-stream"):
            out = web.StreamResponse(status=up.status, headers={"Content-Type": "text/event-stream"})
            await out.prepare(request)
            async for chunk in up.content.iter_any():
                await out.write(chunk)
            await out.write_eof()
            return out
        data = await up.read()
        headers = {k: v for k, v in up.headers.items() if k.lower() not in _HOP}
        return web.Response(status=up.status, body=data, headers=headers)


async def session_ctx(app: web.Application) -> AsyncIterator[None]:
    async with ClientSession(connector=TCPConnector(limit=0, force_close=False),
                             timeout=ClientTimeout(total=None), auto_decompress=False) as session:
        app[SESSION] = session
        yield


async def main(upstream_port: int) -> None:
    app = web.Application()
    app[UPSTREAM] = f"http://127.0.0.1:{upstream_port}"
    app.cleanup_ctx.append(session_ctx)
    app.router.add_post("/{tail:.*}", relay)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(f"PORT {site._server.sockets[0].getsockname()[1]}", flush=True)  # type: ignore[union-attr]
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--upstream-port", type=int, required=True)
    args = p.parse_args()
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(args.upstream_port))
    sys.exit(0)

"""The Redis edge of the shared state: every command the gateway sends to Redis, each bounded in time.

Commands fail fast (no client-side retries, a short socket timeout): the caller falls back to local state,
and the supervisor in `store.py` decides when Redis is back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

#: What a failed Redis call may raise: its own errors, a socket error, or our own time limit.
ERRORS: tuple[type[BaseException], ...] = (RedisError, OSError, TimeoutError)


class RedisBackend:
    """One client (a small connection pool) and the pub/sub channel the instances announce changes on."""

    __slots__ = ("_client", "_timeout", "channel")

    def __init__(self, url: str, *, timeout: float, channel: str) -> None:
        self._client: aioredis.Redis = aioredis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0),
            health_check_interval=0, decode_responses=True)
        self._timeout = timeout
        self.channel = channel

    async def ping(self) -> None:
        async with asyncio.timeout(self._timeout):
            await self._client.ping()

    async def get(self, key: str) -> str | None:
        async with asyncio.timeout(self._timeout):
            value = await self._client.get(key)
        return value if isinstance(value, str) else None

    async def set(self, key: str, value: str, *, ttl_ms: int, only_new: bool = False) -> None:
        async with asyncio.timeout(self._timeout):
            await self._client.set(key, value, px=max(ttl_ms, 1), nx=only_new)

    async def delete(self, key: str) -> None:
        async with asyncio.timeout(self._timeout):
            await self._client.delete(key)

    async def incr_and_get(self, amounts: Mapping[str, tuple[int, int]], keys: list[str]) -> list[int]:
        """In one transaction: INCRBY each key of `amounts` (and give it a TTL in seconds, if it has none),
        then read `keys`; the totals are exact, whatever other instances do meanwhile."""
        async with asyncio.timeout(self._timeout):
            async with self._client.pipeline(transaction=True) as pipe:
                for key, (amount, ttl) in amounts.items():
                    pipe.incrby(key, amount)
                    pipe.expire(key, ttl, nx=True)
                if keys:
                    pipe.mget(keys)
                replies = await pipe.execute()
        return [int(v) if v is not None else 0 for v in replies[-1]] if keys else []

    async def publish(self, message: str) -> None:
        async with asyncio.timeout(self._timeout):
            await self._client.publish(self.channel, message)

    async def scan(self, pattern: str) -> dict[str, tuple[str, int]]:
        """Every key matching `pattern` with its value and remaining TTL in ms (catch-up after a reconnect)."""
        keys = [k async for k in self._client.scan_iter(match=pattern, count=500)]
        if not keys:
            return {}
        async with asyncio.timeout(self._timeout * 4):
            async with self._client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.get(key)
                    pipe.pttl(key)
                replies = await pipe.execute()
        out: dict[str, tuple[str, int]] = {}
        for key, value, ttl in zip(keys, replies[::2], replies[1::2], strict=True):
            if isinstance(value, str) and isinstance(ttl, int) and ttl > 0:
                out[key] = (value, ttl)
        return out

    async def messages(self, stop: asyncio.Event, *, poll: float) -> AsyncIterator[str]:
        """The channel's messages until `stop` is set or the connection fails (then the error propagates)."""
        pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self.channel)
            while not stop.is_set():
                msg = await pubsub.get_message(timeout=poll)
                if msg is not None and msg.get("type") == "message" and isinstance(msg.get("data"), str):
                    yield msg["data"]
                elif msg is None:
                    await pubsub.ping()  # a dead connection is noticed within a second, not at the next event
        finally:
            with contextlib.suppress(*ERRORS):
                async with asyncio.timeout(self._timeout):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated

    async def close(self) -> None:
        await self._client.aclose()


"""`state_storage: {type: postgres}`: records in PostgreSQL through asyncpg, shared by every instance.

The table is Plano's `conversation_states` (created if missing), plus a `privacy_boundaries` column.
The pool is opened on first use, so a database that is down at start only fails the requests that need it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import asyncpg

from plano_daemon.state_store.base import StoredResponse, StoreUnavailable

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversation_states (
    response_id TEXT PRIMARY KEY,
    input_items JSONB NOT NULL,
    created_at BIGINT NOT NULL,
    model TEXT NOT NULL,
    provider TEXT NOT NULL,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
ALTER TABLE conversation_states ADD COLUMN IF NOT EXISTS privacy_boundaries TEXT[];
CREATE INDEX IF NOT EXISTS idx_conversation_states_created_at ON conversation_states (created_at);
"""
_GET = """SELECT input_items::text, created_at, model, provider, privacy_boundaries FROM conversation_states
          WHERE response_id = $1 AND created_at >= $2"""
_PUT = """INSERT INTO conversation_states
          (response_id, input_items, created_at, model, provider, privacy_boundaries, updated_at)
          VALUES ($1, $2::jsonb, $3, $4, $5, $6, CURRENT_TIMESTAMP)
          ON CONFLICT (response_id) DO UPDATE SET input_items = EXCLUDED.input_items,
            created_at = EXCLUDED.created_at, model = EXCLUDED.model, provider = EXCLUDED.provider,
            privacy_boundaries = EXCLUDED.privacy_boundaries, updated_at = CURRENT_TIMESTAMP"""
_PRUNE = "DELETE FROM conversation_states WHERE created_at < $1"
#: What a database that is down, slow or refusing us raises; every one becomes StoreUnavailable.
_FAILURES = (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
#: Old records are deleted at most this often (seconds), on the way of a `put`.
PRUNE_EVERY = 60.0


class PostgresStore:
    def __init__(self, dsn: str, *, retention: float, timeout: float = 5.0,
                 clock: Callable[[], float] = time.time) -> None:
        self._dsn = dsn
        self.retention = retention
        self._timeout = timeout
        self._clock = clock
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()
        self._pruned_at = float("-inf")

    def __repr__(self) -> str:  # the DSN may hold a password
        return "PostgresStore()"

    async def _ready(self) -> asyncpg.Pool:
        if self._pool is not None:
            return self._pool
        async with self._lock:
            if self._pool is None:
                pool = await asyncpg.create_pool(self._dsn, min_size=1, max_size=4, timeout=self._timeout,
                                                 command_timeout=self._timeout)
                try:
                    async with pool.acquire() as conn:
                        await conn.execute(_SCHEMA)
                except BaseException:
                    await pool.close()
                    raise
                self._pool = pool
            return self._pool

    async def get(self, response_id: str) -> StoredResponse | None:
        try:
            pool = await self._ready()
            row = await pool.fetchrow(_GET, response_id, int(self._clock() - self.retention))
        except _FAILURES as exc:
            raise StoreUnavailable(f"postgres: {type(exc).__name__}") from None
        if row is None:
            return None
        items: Any = json.loads(row[0])
        boundaries = row[4]
        return StoredResponse(response_id=response_id, items=items if isinstance(items, list) else [],
                              model=row[2], provider=row[3], created_at=float(row[1]),
                              boundaries=frozenset(boundaries) if boundaries is not None else None)

    async def put(self, record: StoredResponse) -> None:
        boundaries = sorted(record.boundaries) if record.boundaries is not None else None
        try:
            pool = await self._ready()
            await pool.execute(_PUT, record.response_id, json.dumps(record.items), int(record.created_at),
                               record.model, record.provider, boundaries)
            now = self._clock()
            if now - self._pruned_at >= PRUNE_EVERY:
                self._pruned_at = now
                await pool.execute(_PRUNE, int(now - self.retention))
        except _FAILURES as exc:
            raise StoreUnavailable(f"postgres: {type(exc).__name__}") from None

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

"""A PostgreSQL server for the session, a fresh database per test."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from tests.state_storage.postgres_server import PostgresServer


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    try:
        server = PostgresServer()
    except FileNotFoundError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(exc))
    server.start()
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture
async def postgres_dsn(postgres_server: PostgresServer) -> AsyncIterator[str]:
    """A new, empty database on the session's server."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(postgres_server.dsn)
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    yield postgres_server.dsn.rsplit("/", 1)[0] + f"/{name}"

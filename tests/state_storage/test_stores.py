"""The two backends' retention and bounds, and reading a Responses stream's final object."""

from __future__ import annotations

import json

import asyncpg
import pytest

from plano_daemon.errors import PolicyDenied
from plano_daemon.policy.gate import RequestGate
from plano_daemon.state_store.base import StoredResponse
from plano_daemon.state_store.conversations import SseResponseCapture, output_items
from plano_daemon.state_store.memory import MemoryStore
from plano_daemon.state_store.postgres import PostgresStore


def record(rid: str, at: float, boundaries: frozenset[str] | None = None) -> StoredResponse:
    return StoredResponse(response_id=rid, items=[{"type": "message", "role": "user", "content": rid}],
                          model="local/qwen", provider="local", created_at=at, boundaries=boundaries)


async def test_memory_store_drops_records_past_retention_and_beyond_max_entries():
    now = [1000.0]
    store = MemoryStore(retention=60, max_entries=3, clock=lambda: now[0])
    for i in range(5):
        await store.put(record(f"r{i}", now[0]))
    assert len(store) == 3 and await store.get("r1") is None and await store.get("r4") is not None
    now[0] += 61
    assert await store.get("r4") is None
    await store.put(record("new", now[0]))
    assert len(store) == 1


async def test_postgres_store_keeps_boundaries_and_forgets_records_past_retention(postgres_dsn):
    now = [10_000.0]
    store = PostgresStore(postgres_dsn, retention=60, clock=lambda: now[0])
    try:
        await store.put(record("old", now[0], frozenset({"local"})))
        now[0] += 30
        await store.put(record("recent", now[0]))
        got = await store.get("old")
        assert got is not None and got.boundaries == frozenset({"local"}) and got.items[0]["content"] == "old"
        assert (await store.get("recent")).boundaries is None
        now[0] += 31
        assert await store.get("old") is None and await store.get("recent") is not None
        now[0] += 60  # the next put prunes the table itself, not only the reads
        await store.put(record("latest", now[0]))
    finally:
        await store.close()
    conn = await asyncpg.connect(postgres_dsn)
    try:
        rows = await conn.fetch("SELECT response_id FROM conversation_states")
    finally:
        await conn.close()
    assert [r[0] for r in rows] == ["latest"]


def test_sse_capture_finds_the_final_response_across_chunk_boundaries():
    final = {"id": "resp_1", "output": [{"type": "reasoning", "id": "rs_1"},
                                        {"type": "message", "role": "assistant", "content": []}]}
    stream = (b'event: response.created\ndata: {"type":"response.created","response":{"id":"resp_1"}}\n\n'
              + f"event: response.completed\r\ndata: {json.dumps({'type': 'response.completed', 'response': final})}"
                "\r\n\r\n".encode())
    capture = SseResponseCapture()
    for i in range(0, len(stream), 7):
        capture.feed(stream[i:i + 7])
    assert capture.response == final
    assert [item["type"] for item in output_items(final)] == ["message"]  # a bare reasoning id is dropped


def test_a_confined_conversation_is_denied_when_no_profile_can_enforce_its_boundaries():
    gate = RequestGate(policy=None, budgets=None, store=None, headers={})
    gate.confine(frozenset({"local", "trusted_cloud", "public_cloud"}))  # not confined: nothing to enforce
    with pytest.raises(PolicyDenied) as err:
        gate.confine(frozenset({"local"}))
    assert err.value.code == "privacy_violation" and gate.denied

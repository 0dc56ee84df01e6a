"""A finished request's accounting waits for the batch it joins, runs in order, and is never lost to a bug."""

from __future__ import annotations

import asyncio
import logging

import pytest

from plano_daemon.accounting import AccountingQueue


async def test_accounting_waits_for_its_batch_then_runs_in_the_order_requests_finished() -> None:
    queue = AccountingQueue(delay=0.05)
    done: list[int] = []
    loop = asyncio.get_running_loop()
    for i in range(3):
        queue.defer(loop, done.append, i)
    await asyncio.sleep(0)
    assert done == []
    await asyncio.sleep(0.1)
    assert done == [0, 1, 2]
    queue.defer(loop, done.append, 3)  # a new batch, with its own timer
    await asyncio.sleep(0.1)
    assert done == [0, 1, 2, 3]


async def test_drain_runs_what_is_due_now_and_once() -> None:
    queue = AccountingQueue(delay=0.05)
    done: list[int] = []
    queue.defer(asyncio.get_running_loop(), done.append, 1)
    queue.drain()
    assert done == [1]
    await asyncio.sleep(0.1)
    queue.drain()
    assert done == [1]


async def test_one_failing_account_is_logged_and_the_rest_still_run(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> None:
        raise RuntimeError("a bug")

    queue = AccountingQueue()
    done: list[int] = []
    loop = asyncio.get_running_loop()
    queue.defer(loop, done.append, 1)
    queue.defer(loop, broken)
    queue.defer(loop, done.append, 2)
    with caplog.at_level(logging.ERROR, "plano_daemon"):
        queue.drain()
    assert done == [1, 2]
    assert "accounting for a finished request failed" in caplog.text and "RuntimeError: a bug" in caplog.text

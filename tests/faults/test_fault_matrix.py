"""Issue 13 cases 1–5 as a matrix: every upstream fault × stream/non-stream × the three client APIs ×
both upstream interfaces, through real sockets (tests/faults/harness.py).

Before the first client byte, a broken answer fails over to the healthy channel; after it, the client
gets whole events ending in an error event of its own dialect, never its API's normal end; either way
the access line says what failed."""

from __future__ import annotations

import logging

import pytest

from tests.faults.harness import NORMAL_END, Cell, cells, run

CELLS = cells()


@pytest.mark.parametrize("cell", [c for c in CELLS if c.position == "start"], ids=lambda c: c.id)
async def test_a_broken_answer_before_the_first_byte_fails_over(cell: Cell) -> None:
    seen = await run(cell)
    assert seen.calls == (1, 1), seen.summary()
    assert seen.status == 200, seen.summary()
    if cell.stream:
        assert not seen.torn and seen.events[-1][0 if cell.api != "chat" else 1] == NORMAL_END[cell.api], \
            seen.summary()
    else:
        assert b"echo: hi" in seen.body, seen.summary()
    (level, line), = seen.access
    assert [a["error"] for a in line["attempts"]][0] not in (None, "none"), line
    assert line["attempts"][1]["error"] is None and line["error"] is None and level == logging.INFO, line


@pytest.mark.parametrize("cell", [c for c in CELLS if c.position == "mid"], ids=lambda c: c.id)
async def test_a_stream_broken_after_the_first_byte_ends_with_an_error_event(cell: Cell) -> None:
    seen = await run(cell)
    assert seen.calls == (1, 0) and seen.status == 200, seen.summary()
    assert not seen.torn, seen.summary()  # the error event never lands inside half an event
    assert seen.terminal.startswith("error event"), seen.summary()
    names = [name if cell.api != "chat" else data for name, data in seen.events]
    assert NORMAL_END[cell.api] not in names and "response.incomplete" not in names, seen.summary()
    (level, line), = seen.access
    assert line["status"] == 200 and line["error"] and level == logging.WARNING, line
    assert line["attempts"][-1]["error"] in ("truncated", "reset", "timeout", "upstream_error"), line

"""Issue 13 cases 12 and 13 in the real daemon: a torn ledger left by a crash and a request naming a lone
surrogate, then SIGTERM: exit 0, every record written and readable, no traceback."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import aiohttp

from tests.conftest import config, provider
from tests.functional.test_systemd_functional import Daemon, daemon  # noqa: F401 - the fixture


async def test_torn_ledger_and_a_lone_surrogate_then_sigterm_exits_0_with_every_record(
        daemon, fake_upstream, tmp_path: Path) -> None:  # noqa: F811
    ledger = tmp_path / "state" / "route-decisions.jsonl"
    ledger.parent.mkdir(parents=True)
    ledger.write_bytes(b'{"request_id":"before-the-crash"}\n{"request_id":"torn-by-the-cr')
    up = await fake_upstream()
    d = await daemon(config(provider("openai/m", up)))
    port = Daemon.port(await d.wait_for("READY=1"))

    async with aiohttp.ClientSession() as http:
        for model in ("\ud800", "openai/m"):
            async with http.post(f"http://127.0.0.1:{port}/v1/chat/completions",
                                 json={"model": model, "messages": [{"role": "user", "content": "hi"}]}) as resp:
                assert resp.status == (404 if model != "openai/m" else 200)
    await asyncio.sleep(0.5)  # two flush intervals: the flush task has met the record it used to die on

    d.proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(d.proc.wait(), 20) == 0
    assert d.proc.stderr is not None
    assert b"Traceback" not in await d.proc.stderr.read()
    records = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert [r.get("requested_model", r["request_id"]) for r in records] == ["before-the-crash", "\ud800", "openai/m"]

"""RouteDecision records (SPEC §5 field names) and the batched, rotating JSONL writer."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plano_daemon.config.schema import LedgerSettings
from plano_daemon.ledger import BATCH_RECORDS, LedgerWriter, decision_record, ledger_path, repair_tail
from plano_daemon.wire.usage import Usage

#: SPEC §5's fields in its order, then ours.
FIELDS = ["request_id", "timestamp", "task", "privacy_class", "data_classes", "decision_outcome",
          "selected_source", "candidate_sources", "eligible_sources", "ranked_sources", "rejected_sources",
          "policy_denials", "decision_reasons", "affinity_key", "fallback_policy", "fallbacks", "usage",
          "requested_model", "router", "router_error", "attempts", "error"]


def record(**kw: object) -> dict:
    base: dict[str, object] = {
        "request_id": "0af7651916cd43dd8448eb211c80319c", "timestamp": 1_700_000_000.25, "route": "code_generation",
        "requested_model": "gpt-4o-mini", "selected": "anthropic/claude",
        "candidates": ["anthropic/claude", "openai/gpt-4o"], "ranked": ["anthropic/claude", "openai/gpt-4o"],
        "router": "embedded"}
    base.update(kw)
    request_id, timestamp, requested, router = (base.pop(k) for k in ("request_id", "timestamp", "requested_model",
                                                                        "router"))
    return decision_record(request_id, timestamp, requested, router, **base)  # type: ignore[arg-type]


def test_record_has_every_required_field_with_neutral_policy_values():
    rec = record(attempts=[{"model": "anthropic/claude", "status": 200}], usage=Usage(12, 3),
                 latency_ms=41.5, affinity_key="s-1")
    assert list(rec) == FIELDS
    assert rec["task"] == "code_generation" and rec["decision_outcome"] == "selected"
    assert rec["timestamp"] == "2023-11-14T22:13:20.250+00:00"
    assert rec["eligible_sources"] == rec["candidate_sources"]
    assert rec["rejected_sources"] == {} and rec["policy_denials"] == []
    assert rec["fallback_policy"] == {"allowed_reasons": [], "forbidden_reasons": []}
    assert rec["usage"] == {"input_tokens": 12, "output_tokens": 3, "latency_ms": 41.5}
    assert record(route=None)["task"] == "none"


def test_a_record_with_every_fact_set_leaves_the_next_one_neutral():
    full = record(policy={"eligible": ["openai/gpt-4o"], "rejected": {"anthropic/claude": ["privacy_violation"]},
                          "policy_denials": [{"code": "privacy_violation", "reason": "r", "source": "x"}],
                          "privacy_class": "local_only", "data_classes": ["source_code"],
                          "fallback_policy": {"allowed_reasons": ["timeout"], "forbidden_reasons": []}},
                  router_error="timeout", fallbacks=[{"from": "a", "to": "b", "reason": "timeout"}],
                  attempts=[{"model": "a", "status": 504}], outcome="error", error="upstream timeout",
                  affinity_key="s-1", usage=Usage(5, 6), latency_ms=9.0)
    assert list(full) == FIELDS
    assert full["decision_reasons"] == ["router_failed:timeout"] and full["router_error"] == "timeout"
    assert full["eligible_sources"] == ["openai/gpt-4o"] and full["data_classes"] == ["source_code"]
    neutral = record(route=None)
    assert list(neutral) == FIELDS
    assert {k: neutral[k] for k in ("task", "privacy_class", "data_classes", "decision_outcome", "rejected_sources",
                                     "policy_denials", "decision_reasons", "affinity_key", "fallbacks",
                                     "router_error", "attempts", "error")} == {
        "task": "none", "privacy_class": None, "data_classes": [], "decision_outcome": "selected",
        "rejected_sources": {}, "policy_denials": [], "decision_reasons": [], "affinity_key": None,
        "fallbacks": [], "router_error": None, "attempts": [], "error": None}
    assert neutral["fallback_policy"] == {"allowed_reasons": [], "forbidden_reasons": []}
    assert neutral["usage"] == {"input_tokens": 0, "output_tokens": 0, "latency_ms": None}


async def test_writer_appends_one_valid_json_line_per_record(tmp_path: Path):
    writer = LedgerWriter(tmp_path / "sub" / "route-decisions.jsonl", max_bytes=1 << 20, backups=2)
    for i in range(3):
        writer.append(record(request_id=f"r{i}"))
    assert not writer.path.exists()  # appending does no I/O
    await writer.flush()
    lines = writer.path.read_text().splitlines()
    assert [json.loads(x)["request_id"] for x in lines] == ["r0", "r1", "r2"]
    await writer.flush()
    assert len(writer.path.read_text().splitlines()) == 3  # flushed records are not written twice
    assert writer.path.stat().st_mode & 0o777 == 0o600


async def test_writer_rotates_by_size_and_keeps_n_backups(tmp_path: Path):
    path = tmp_path / "route-decisions.jsonl"
    writer = LedgerWriter(path, max_bytes=4096, backups=2)
    for batch in range(5):
        for i in range(10):
            writer.append(record(request_id=f"b{batch}-{i}"))
        await writer.flush()
    assert path.with_name(path.name + ".1").exists() and path.with_name(path.name + ".2").exists()
    assert not path.with_name(path.name + ".3").exists()
    for f in tmp_path.iterdir():
        assert all(json.loads(line)["router"] == "embedded" for line in f.read_text().splitlines())


async def test_close_flushes_what_is_queued(tmp_path: Path):
    writer = LedgerWriter(tmp_path / "l.jsonl", max_bytes=1 << 20, backups=1, flush_interval=3600)
    writer.start()
    writer.append(record())
    await writer.close()
    assert len((tmp_path / "l.jsonl").read_text().splitlines()) == 1


async def test_a_full_batch_is_written_before_the_interval_and_the_rest_waits_for_it(tmp_path: Path):
    """Under load the queue is written every BATCH_RECORDS records, not only every interval: the records
    waiting in memory (and the RSS they leave behind) stay bounded by count, not by rate × interval."""
    path = tmp_path / "l.jsonl"
    writer = LedgerWriter(path, max_bytes=1 << 24, backups=1, flush_interval=3600)
    writer.start()
    for i in range(BATCH_RECORDS + 10):
        writer.append(record(request_id=f"r{i}"))
    for _ in range(300):
        await asyncio.sleep(0.01)
        if path.exists() and len(path.read_text().splitlines()) >= BATCH_RECORDS:
            break
    assert len(path.read_text().splitlines()) >= BATCH_RECORDS and writer.pending <= 10
    await writer.close()
    assert len(path.read_text().splitlines()) == BATCH_RECORDS + 10


async def test_a_failing_write_keeps_its_back_off_however_full_the_queue(tmp_path: Path, caplog, monkeypatch):
    """A full batch wakes the flush only while writes succeed: on a broken disk the retries stay paced."""
    monkeypatch.setattr("plano_daemon.ledger.RETRY_MAX_SECONDS", 0.05)
    blocker = tmp_path / "f"
    blocker.write_text("")
    writer = LedgerWriter(blocker / "l.jsonl", max_bytes=1 << 20, backups=1, flush_interval=0.05)
    writer.start()
    for _ in range(50):
        for i in range(BATCH_RECORDS):
            writer.append(record(request_id=f"r{i}"))
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    assert 1 <= caplog.text.count("cannot write") <= 20
    await writer.close()


def test_path_comes_from_settings_else_the_state_directory(tmp_path: Path):
    assert ledger_path(LedgerSettings(), tmp_path) == tmp_path / "route-decisions.jsonl"
    assert ledger_path(LedgerSettings(path=str(tmp_path / "x.jsonl")), Path("/nope")) == tmp_path / "x.jsonl"


async def test_close_on_an_unwritable_path_logs_and_does_not_raise(tmp_path: Path, caplog):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    writer = LedgerWriter(blocker / "route-decisions.jsonl", max_bytes=1 << 20, backups=1)
    writer.append(decision_record("r1", 0.0, "m", "none", route=None, selected="m", candidates=["m"], ranked=["m"]))
    await writer.close()
    assert "cannot write" in caplog.text and "records dropped" in caplog.text


async def test_a_lone_surrogate_is_written_and_reads_back_as_the_same_string(tmp_path: Path):
    writer = LedgerWriter(tmp_path / "l.jsonl", max_bytes=1 << 20, backups=1)
    writer.append(record(requested_model="\ud800", request_id="bad"))
    writer.append(record(requested_model="modèle", request_id="good"))
    await writer.flush()
    lines = [json.loads(x) for x in (tmp_path / "l.jsonl").read_text().splitlines()]
    assert [x["requested_model"] for x in lines] == ["\ud800", "modèle"]


async def test_the_flush_task_survives_errors_keeps_records_and_retries(tmp_path: Path, caplog):
    blocker = tmp_path / "later-a-directory"
    blocker.write_text("")
    writer = LedgerWriter(blocker / "l.jsonl", max_bytes=1 << 20, backups=1, flush_interval=0.01)
    writer.start()
    writer.append(record(request_id="kept"))
    for _ in range(200):
        await asyncio.sleep(0.01)
        if "cannot write" in caplog.text:
            break
    assert "cannot write" in caplog.text and "retrying" in caplog.text
    assert writer.pending == 1
    blocker.unlink()  # the operator fixes the path: the same task writes the kept record
    blocker.mkdir()
    for _ in range(1000):
        await asyncio.sleep(0.01)
        if writer.pending == 0:
            break
    await writer.close()
    assert [json.loads(x)["request_id"] for x in (blocker / "l.jsonl").read_text().splitlines()] == ["kept"]


async def test_the_backlog_is_bounded_and_drops_are_counted(tmp_path: Path):
    dropped: list[int] = []
    blocker = tmp_path / "f"
    blocker.write_text("")
    writer = LedgerWriter(blocker / "l.jsonl", max_bytes=1 << 20, backups=1, max_backlog=5,
                          on_drop=dropped.append)
    for i in range(8):  # a newline in a value is written escaped: each record stays one line
        writer.append(record(request_id=f"r{i}", requested_model="two\nlines"))
    with pytest.raises(OSError):
        await writer.flush()
    assert writer.pending == 5 and sum(dropped) == 3 == writer.dropped
    blocker.unlink()
    blocker.mkdir()
    await writer.close()
    lines = [json.loads(x) for x in (blocker / "l.jsonl").read_text().splitlines()]
    assert [x["request_id"] for x in lines] == [f"r{i}" for i in range(3, 8)]  # the oldest were dropped
    assert {x["requested_model"] for x in lines} == {"two\nlines"}


def test_a_torn_last_line_is_cut_and_complete_lines_kept(tmp_path: Path):
    path = tmp_path / "l.jsonl"
    path.write_bytes(b'{"a":1}\n{"b":2}\n{"c":')
    assert repair_tail(path) == 5
    assert path.read_bytes() == b'{"a":1}\n{"b":2}\n'
    assert repair_tail(path) == 0
    path.write_bytes(b'{"torn')
    assert repair_tail(path) == 6 and path.read_bytes() == b""
    assert repair_tail(tmp_path / "absent") == 0


async def test_the_first_write_after_a_crash_starts_on_its_own_line(tmp_path: Path):
    path = tmp_path / "l.jsonl"
    path.write_bytes(b'{"request_id":"before"}\n{"request_id":"to')
    writer = LedgerWriter(path, max_bytes=1 << 20, backups=1)
    writer.append(record(request_id="after"))
    await writer.close()
    assert [json.loads(x)["request_id"] for x in path.read_text().splitlines()] == ["before", "after"]
    assert os.stat(path).st_size == len(path.read_bytes())


@given(st.floats(min_value=0, max_value=4e9, allow_nan=False))
def test_record_timestamps_are_iso_milliseconds_in_utc_for_any_time(t: float) -> None:
    from datetime import UTC, datetime

    assert record(timestamp=t)["timestamp"] == datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")

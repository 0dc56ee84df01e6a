"""Budgets: which caps cover a channel, daily counts, and counts that survive a restart or a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from plano_daemon.catalog import Catalog, Channel
from plano_daemon.config.load import load_config
from plano_daemon.policy.budgets import Budgets, BudgetStore, DayCounts, Exceeded

CONFIG = """
listeners: [{port: 0}]
model_providers:
  - {model: local/coder, base_url: "http://127.0.0.1:9/v1"}
  - {model: cloud/big, base_url: "http://127.0.0.1:9/v1"}
  - {model: cloud/small, base_url: "http://127.0.0.1:9/v1"}
model_aliases: {smart: {target: cloud/big}}
dubnium:
  budgets:
    - {target: "cloud/*", daily_requests: 3}
    - {target: smart, daily_tokens: 100}
    - {target: local/coder, daily_requests: 1000}
"""


@pytest.fixture
def catalog() -> Catalog:
    return Catalog(load_config(None, text=CONFIG, environ={}).config)


@pytest.fixture
def budgets(catalog: Catalog) -> Budgets:
    return Budgets(load_config(None, text=CONFIG, environ={}).config.dubnium.budgets, catalog)


def ch(catalog: Catalog, name: str) -> Channel:
    channel = catalog.resolve(name)
    assert channel is not None
    return channel


class Day:
    def __init__(self, day: str = "2026-01-01") -> None:
        self.day = day

    def __call__(self) -> str:
        return self.day


def test_targets_match_a_model_a_prefix_or_an_alias_under_any_name(budgets: Budgets, catalog: Catalog) -> None:
    assert [b.target for b in budgets.applying(ch(catalog, "cloud/big"))] == ["cloud/*", "smart"]
    assert [b.target for b in budgets.applying(ch(catalog, "smart"))] == ["cloud/*", "smart"]
    assert [b.target for b in budgets.applying(ch(catalog, "cloud/small"))] == ["cloud/*"]
    assert [b.target for b in budgets.applying(ch(catalog, "local/coder"))] == ["local/coder"]


def test_every_attempt_counts_and_the_cap_is_reached_at_the_limit(tmp_path: Path, budgets: Budgets,
                                                                 catalog: Catalog) -> None:
    store = BudgetStore(tmp_path / "budgets.json", today=Day())
    big, small = ch(catalog, "cloud/big"), ch(catalog, "cloud/small")
    store.record(budgets, big, requests=1)
    changed = store.record(budgets, small, requests=2)
    assert changed == [("cloud/*", "requests", 3)]
    assert store.exceeded(budgets, small) == Exceeded("cloud/*", "requests", 3, 3)
    assert store.exceeded(budgets, ch(catalog, "local/coder")) is None


def test_tokens_cap_applies_to_the_aliased_channel(tmp_path: Path, budgets: Budgets, catalog: Catalog) -> None:
    store = BudgetStore(tmp_path / "budgets.json", today=Day())
    store.record(budgets, ch(catalog, "cloud/big"), tokens=99)
    assert store.exceeded(budgets, ch(catalog, "cloud/big")) is None
    store.record(budgets, ch(catalog, "cloud/big"), tokens=1)
    over = store.exceeded(budgets, ch(catalog, "cloud/big"))
    assert over == Exceeded("smart", "tokens", 100, 100)
    assert over.message == "daily tokens budget for smart is used up (100/100)"
    assert store.exceeded(budgets, ch(catalog, "cloud/small")) is None


def test_a_new_day_starts_from_zero(tmp_path: Path, budgets: Budgets, catalog: Catalog) -> None:
    day = Day()
    store = BudgetStore(tmp_path / "budgets.json", today=day)
    store.record(budgets, ch(catalog, "cloud/big"), requests=3)
    assert store.exceeded(budgets, ch(catalog, "cloud/big")) is not None
    day.day = "2026-01-02"
    assert store.exceeded(budgets, ch(catalog, "cloud/big")) is None


def test_counts_survive_a_restart_without_an_event_loop(tmp_path: Path, budgets: Budgets, catalog: Catalog) -> None:
    path = tmp_path / "state" / "budgets.json"
    store = BudgetStore(path, today=Day())
    store.record(budgets, ch(catalog, "cloud/small"), requests=3, tokens=40)
    reborn = BudgetStore(path, today=Day())
    assert reborn.usage.counts == {"cloud/*": {"requests": 3, "tokens": 40}}
    assert reborn.exceeded(budgets, ch(catalog, "cloud/big")) is not None
    assert [p.name for p in path.parent.iterdir()] == ["budgets.json"]  # no temp file left behind


async def test_with_a_loop_writes_are_batched_and_close_flushes(tmp_path: Path, budgets: Budgets,
                                                              catalog: Catalog) -> None:
    path = tmp_path / "budgets.json"
    store = BudgetStore(path, today=Day())
    store.record(budgets, ch(catalog, "cloud/big"), requests=1)
    store.record(budgets, ch(catalog, "cloud/big"), requests=1)
    assert not path.exists()  # at most one second later, not on the hot path
    store.close()
    assert json.loads(path.read_text())["usage"]["cloud/*"]["requests"] == 2


def test_yesterdays_file_is_not_todays_budget(tmp_path: Path, budgets: Budgets, catalog: Catalog) -> None:
    path = tmp_path / "budgets.json"
    path.write_text(DayCounts("2025-12-31", {"cloud/*": {"requests": 50, "tokens": 0}}).to_json())
    store = BudgetStore(path, today=Day())
    assert store.usage.counts == {} and store.problem is None


def test_a_corrupt_file_is_reported_and_counting_restarts(tmp_path: Path) -> None:
    path = tmp_path / "budgets.json"
    path.write_text("{not json")
    store = BudgetStore(path, today=Day())
    assert store.problem is not None and "unreadable budget state" in store.problem
    assert store.usage.counts == {}


def test_nothing_is_written_for_channels_without_a_budget(tmp_path: Path, budgets: Budgets) -> None:
    catalog = Catalog(load_config(None, environ={}, text="""
listeners: [{port: 0}]
model_providers: [{model: other/m, base_url: "http://127.0.0.1:9/v1"}]
""").config)
    store = BudgetStore(tmp_path / "budgets.json", today=Day())
    assert store.record(budgets, catalog.channels[0], requests=1, tokens=5) == []
    store.close()
    assert not (tmp_path / "budgets.json").exists()


def test_gauge_rows_cover_every_target_and_kind_and_read_zero_on_a_new_day(budgets: Budgets,
                                                                           tmp_path: Path) -> None:
    day = ["2025-01-01"]
    (tmp_path / "budgets.json").write_text(DayCounts(day[0], {"smart": {"requests": 2, "tokens": 40}}).to_json())
    store = BudgetStore(tmp_path / "budgets.json", today=lambda: day[0])

    assert budgets.rows(store.today()) == [("cloud/*", "requests", 0), ("cloud/*", "tokens", 0),
                                           ("smart", "requests", 2), ("smart", "tokens", 40),
                                           ("local/coder", "requests", 0), ("local/coder", "tokens", 0)]
    day[0] = "2025-01-02"
    assert {total for _, _, total in budgets.rows(store.today())} == {0}


def test_an_unwritable_state_dir_is_reported_and_counts_are_kept(tmp_path: Path, budgets: Budgets,
                                                                 catalog: Catalog) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the state directory should be")
    store = BudgetStore(blocker / "budgets.json", today=Day())
    store.record(budgets, ch(catalog, "cloud/big"), requests=1)  # no loop: written at once, and fails
    store.close()
    assert store.problem is not None and "cannot save budget state" in store.problem
    assert store.usage.get("cloud/*", "requests") == 1
    blocker.unlink()
    store.record(budgets, ch(catalog, "cloud/big"), requests=1)
    assert json.loads((blocker / "budgets.json").read_text())["usage"]["cloud/*"]["requests"] == 2

"""Shared Retry-After blocks: per model or prefix, only ever extended, gone when they expire."""

from __future__ import annotations

from plano_daemon.failover import blocks as blocks_mod
from plano_daemon.failover.blocks import Blocks


def test_a_model_block_applies_to_that_model_only() -> None:
    b = Blocks()
    b.block("a/m1", until=110, reason="rate_limited", now=100)
    assert b.active("a/m1", now=105).reason == "rate_limited"
    assert b.active("a/m2", now=105) is None


def test_a_prefix_block_applies_to_every_model_of_the_prefix() -> None:
    b = Blocks()
    b.block("a", until=110, reason="rate_limited", now=100)
    assert b.active("a/m1", now=105) is not None
    assert b.active("a/x/y", now=105) is not None
    assert b.active("ab/m1", now=105) is None


def test_blocks_expire_and_are_dropped() -> None:
    b = Blocks()
    b.block("a/m1", until=110, reason="rate_limited", now=100)
    assert b.active("a/m1", now=110) is None
    assert len(b) == 0


def test_a_shorter_block_never_shortens_a_longer_one() -> None:
    b = Blocks()
    b.block("a/m1", until=200, reason="rate_limited", now=100)
    b.block("a/m1", until=120, reason="provider_5xx", now=100)
    assert b.active("a/m1", now=150).reason == "rate_limited"
    b.block("a/m1", until=300, reason="provider_5xx", now=100)
    assert b.active("a/m1", now=250).reason == "provider_5xx"


def test_the_longer_of_model_and_prefix_block_wins() -> None:
    b = Blocks()
    b.block("a/m1", until=120, reason="model", now=100)
    b.block("a", until=150, reason="prefix", now=100)
    assert b.active("a/m1", now=110).until == 150


def test_memory_is_bounded(monkeypatch) -> None:
    monkeypatch.setattr(blocks_mod, "MAX_BLOCKS", 8)
    b = Blocks()
    for i in range(50):
        b.block(f"p/m{i}", until=1000 + i, reason="rate_limited", now=0)
    assert len(b) == 8
    assert b.active("p/m49", now=1) is not None
    assert b.active("p/m0", now=1) is None

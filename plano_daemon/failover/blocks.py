"""Retry-After blocks shared across requests: a model (`prefix/id`) or a whole prefix, until a time.

An upstream that says "come back in 30 s" is not asked again by the next request either (global scope);
the block lapses on its own when the time passes. Time is passed in, so this is tested without waiting.
With a shared state store, `on_block` announces each new block to the other instances (shared/store.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

#: Bounds memory if an upstream blocks ever-new wildcard model names; oldest-expiring entries go first.
MAX_BLOCKS = 1024


@dataclass(frozen=True, slots=True)
class Block:
    until: float  # monotonic seconds
    reason: str


class Blocks:
    """Model and prefix blocks with expiry; keys are `prefix/id` (scope model) or `prefix` (scope provider)."""

    __slots__ = ("_blocks", "on_block")

    def __init__(self) -> None:
        self._blocks: dict[str, Block] = {}
        #: Called with (key, seconds from now, reason) for each block this instance learns first.
        self.on_block: Callable[[str, float, str], None] | None = None

    def block(self, key: str, *, until: float, reason: str, now: float, announce: bool = True) -> None:
        """Block `key` until `until`; an existing later block is kept (blocks only ever extend).
        `announce=False` for a block another instance announced."""
        current = self._blocks.get(key)
        if current is not None and current.until >= until:
            return
        self._blocks[key] = Block(until, reason)
        if len(self._blocks) > MAX_BLOCKS:
            self._prune(now)
        if announce and self.on_block is not None:
            self.on_block(key, until - now, reason)

    def entries(self, now: float) -> list[tuple[str, float, str]]:
        """(key, until, reason) of every block still in force."""
        return [(k, b.until, b.reason) for k, b in self._blocks.items() if b.until > now]

    def active(self, model: str, *, now: float) -> Block | None:
        """The block that applies to a channel serving `model` (its own, or its prefix's), if any."""
        best: Block | None = None
        for key in (model, model.split("/", 1)[0]):
            b = self._blocks.get(key)
            if b is None:
                continue
            if b.until <= now:
                del self._blocks[key]
                continue
            if best is None or b.until > best.until:
                best = b
        return best

    def _prune(self, now: float) -> None:
        for key in [k for k, b in self._blocks.items() if b.until <= now]:
            del self._blocks[key]
        while len(self._blocks) > MAX_BLOCKS:
            oldest = min(self._blocks, key=lambda k: self._blocks[k].until)
            del self._blocks[oldest]

    def __len__(self) -> int:
        return len(self._blocks)

"""Upstream models' context windows, learned once from each self-hosted upstream's `GET /models`.

vLLM reports `max_model_len` per model (llama.cpp's server, LM Studio and OpenRouter use other
names, read too). The list is fetched on the first translated request that needs it, once per
upstream base URL (concurrent requests share the fetch), and kept; a failed fetch is retried after
`RETRY_AFTER` seconds rather than on every request. A configured `context_window` always wins.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from plano_daemon.catalog import Channel
from plano_daemon.logs import LOG
from plano_daemon.upstream import UpstreamPool

#: Fields that carry a model's context window in the model lists of OpenAI-compatible servers.
WINDOW_FIELDS = ("max_model_len", "context_length", "context_window", "max_context_length")
FETCH_TIMEOUT = 2.0
RETRY_AFTER = 300.0


async def fetch_model_list(pool: UpstreamPool, channel: Channel) -> Any:
    """The channel's upstream `GET /models` document, parsed, or None when it cannot be had (why is logged
    at debug). Both readers of model lists use it: context windows here, wildcard ids (web/wildcard_models)."""
    base = channel.origin + channel.path_prefix
    got = await pool.fetch(base + "/models", dict(channel.auth_headers), timeout=FETCH_TIMEOUT)
    if got is None:
        LOG.debug("no model list from %s: unreachable", base)
        return None
    if got[0] != 200:
        return None
    try:
        return json.loads(got[1])
    except ValueError as exc:
        LOG.debug("no model list from %s: %s", base, type(exc).__name__)
        return None


def windows_from_list(body: Any) -> dict[str, int]:
    """Model id → context window, from an OpenAI-style model list (`{"data": [{"id": ...}, ...]}`)."""
    data = body.get("data") if isinstance(body, dict) else None
    out: dict[str, int] = {}
    for model in data if isinstance(data, list) else []:
        if not isinstance(model, dict) or not isinstance(model.get("id"), str):
            continue
        for name in WINDOW_FIELDS:
            value = model.get(name)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                out[model["id"]] = value
                break
    return out


class ContextWindows:
    """Learned windows per upstream base URL (`origin + path prefix`), kept across config reloads."""

    __slots__ = ("_clock", "_lists", "_pending")

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lists: dict[str, tuple[float, dict[str, int]]] = {}
        self._pending: dict[str, asyncio.Future[dict[str, int]]] = {}
        self._clock = clock

    def known(self, channel: Channel) -> int | None:
        """The window without asking anyone: configured, or learned earlier."""
        if channel.context_window is not None:
            return channel.context_window
        entry = self._lists.get(channel.origin + channel.path_prefix)
        return entry[1].get(channel.model_id) if entry else None

    async def window(self, channel: Channel, pool: UpstreamPool) -> int | None:
        if channel.context_window is not None or not channel.discover_window:
            return channel.context_window
        base = channel.origin + channel.path_prefix
        entry = self._lists.get(base)
        if entry is not None and (entry[1] or self._clock() - entry[0] < RETRY_AFTER):
            return entry[1].get(channel.model_id)
        pending = self._pending.get(base)
        if pending is None:
            pending = self._pending[base] = asyncio.ensure_future(self._fetch(channel, pool, base))
        windows = await asyncio.shield(pending)
        return windows.get(channel.model_id)

    async def _fetch(self, channel: Channel, pool: UpstreamPool, base: str) -> dict[str, int]:
        windows: dict[str, int] = {}
        try:
            windows = windows_from_list(await fetch_model_list(pool, channel))
        finally:
            self._lists[base] = (self._clock(), windows)
            self._pending.pop(base, None)
        return windows

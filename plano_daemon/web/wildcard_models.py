"""What a wildcard channel (`local/*`) serves, for GET /v1/models: the upstream's own model list, prefixed.

A wildcard forwards any `prefix/<id>`, so it has no model name of its own to list, and a newcomer serving
the embedded default (`local/*` in front of vLLM or Ollama) would see an empty list. Asking the upstream's
`GET /models` (once a minute at most, two seconds at most) lists `local/<served model>`, which works as is.
"""

from __future__ import annotations

import asyncio
import time

from plano_daemon.catalog import Catalog, Channel
from plano_daemon.context_windows import fetch_model_list
from plano_daemon.upstream import UpstreamPool

KEEP_FOR = 60.0
#: At most this many ids are taken from one upstream's list.
MAX_IDS = 500


def ids_from_list(body: object) -> list[str]:
    """The ids of an OpenAI-style model list (`{"data": [{"id": ...}]}`); Ollama's /v1/models has this shape."""
    data = body.get("data") if isinstance(body, dict) else None
    ids = [m["id"] for m in (data if isinstance(data, list) else [])
           if isinstance(m, dict) and isinstance(m.get("id"), str) and m["id"]]
    return ids[:MAX_IDS]


class WildcardModels:
    """Each wildcard channel's upstream ids, kept KEEP_FOR seconds (a failed fetch too: no retry storm)."""

    __slots__ = ("_cache",)

    def __init__(self) -> None:
        self._cache: dict[str, tuple[float, list[str]]] = {}

    async def listed(self, catalog: Catalog, pool: UpstreamPool) -> list[tuple[str, Channel]]:
        wildcards = [ch for ch in catalog.channels if ch.model_id == "*"]
        found = await asyncio.gather(*(self._ids(ch, pool) for ch in wildcards))
        out: list[tuple[str, Channel]] = []
        for ch, ids in zip(wildcards, found, strict=True):
            for model_id in ids:
                name = f"{ch.prefix}/{model_id}"
                served = catalog.resolve(name)  # a wildcard resolves to a channel of its own per model
                if served is not None and served.index == ch.index:
                    out.append((name, served))
        return out

    async def _ids(self, channel: Channel, pool: UpstreamPool) -> list[str]:
        base = channel.origin + channel.path_prefix
        now = time.monotonic()
        cached = self._cache.get(base)
        if cached is not None and now - cached[0] < KEEP_FOR:
            return cached[1]
        ids = ids_from_list(await fetch_model_list(pool, channel))
        self._cache[base] = (now, ids)
        return ids

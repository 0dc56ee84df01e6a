"""Replace the top-level `model` of a JSON request body without re-serialising the rest."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any


def with_model(raw: bytes | None, body: dict[str, Any], model_id: str) -> bytes:
    """Bytes identical to `raw` but for the model id; `raw=None` means the body changed: serialise it.

    The in-place edit is used only when the current value occurs exactly once as a `"model": "<value>"`
    pair, so a nested `"model"` key elsewhere can never be rewritten by mistake.
    """
    if raw is not None:
        current = body.get("model")
        if current == model_id:
            return raw
        if isinstance(current, str):
            pattern, replacement = _model_edit(current, model_id)
            new, count = pattern.subn(lambda m: m.group(1) + replacement, raw, count=2)
            if count == 1:
                return new
    return json.dumps({**body, "model": model_id}, ensure_ascii=False, separators=(",", ":")).encode()


@lru_cache(maxsize=256)
def _model_edit(model: str, model_id: str) -> tuple[re.Pattern[bytes], bytes]:
    """The pattern of a `"model": "<model>"` pair and the JSON of `model_id`, made once per pair: clients
    send the same few names on every request."""
    return re.compile(rb'("model"\s*:\s*)' + re.escape(json.dumps(model).encode())), json.dumps(model_id).encode()


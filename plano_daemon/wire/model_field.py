"""Replace the top-level `model` of a JSON request body without re-serialising the rest."""

from __future__ import annotations

import json
import re
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
            pattern, value, replacement = _model_edit(current, model_id)
            at = raw.find(value)
            if at >= 0 and raw.find(value, at + len(value)) < 0 and _is_model_value(raw, at):
                return raw[:at] + replacement + raw[at + len(value):]  # the pattern's one match, found faster
            new, count = pattern.subn(lambda m: m.group(1) + replacement, raw, count=2)
            if count == 1:
                return new
    return json.dumps({**body, "model": model_id}, ensure_ascii=False, separators=(",", ":")).encode()


#: `_model_edit`'s answers, emptied when full (a wildcard provider lets clients send any name). Not
#: `lru_cache(maxsize=…)`: its bounded wrapper reorders its list on every hit, ≈ 3.6 k instructions a request.
_EDITS: dict[tuple[str, str], tuple[re.Pattern[bytes], bytes, bytes]] = {}
_MAX_EDITS = 256


def _model_edit(model: str, model_id: str) -> tuple[re.Pattern[bytes], bytes, bytes]:
    """The pattern of a `"model": "<model>"` pair, the JSON of `model` and of `model_id`, made once per pair:
    clients send the same few names on every request."""
    edit = _EDITS.get((model, model_id))
    if edit is None:
        if len(_EDITS) >= _MAX_EDITS:
            _EDITS.clear()
        value = json.dumps(model).encode()
        edit = _EDITS[model, model_id] = (re.compile(rb'("model"\s*:\s*)' + re.escape(value)), value,
                                          json.dumps(model_id).encode())
    return edit


def _is_model_value(raw: bytes, at: int) -> bool:
    """Whether `"model"`, `:` and whitespace only come just before `at` (`bytes.rstrip()` strips what the
    pattern's `\\s` matches); looked for in the 64 bytes before it, so False may also mean "not sure": the
    pattern then decides."""
    head = raw[max(0, at - 64):at].rstrip()
    return head.endswith(b":") and head[:-1].rstrip().endswith(b'"model"')


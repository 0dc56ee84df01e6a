"""JSON on the hot path: orjson (2–3× faster to parse, over 10× faster to write than the standard library,
which matters for the 100 KB bodies coding agents send every turn), falling back to the standard library
for what orjson refuses and `json` accepts, so no input is answered differently.

orjson refuses `NaN`/`Infinity` literals, lone surrogate escapes (`"\\ud800"`), numbers beyond a double
and nesting deeper than 1024: those bodies are parsed by `json`, with its answer and its errors. One
difference stays each way: an integer beyond 64 bits parses as a float (no API field holds one; a body
passed through is forwarded byte for byte anyway), and an infinite float is written as `null` (`json`
writes `Infinity`, which is not JSON).
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def loads(data: bytes | str) -> Any:
    """Parse JSON text; raises ValueError (or RecursionError) exactly when `json.loads` would."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON; values JSON has no type for are written as `str(value)`. A string UTF-8 cannot
    hold (a lone surrogate a client sent) is written as a JSON escape, which reads back as the same string."""
    try:
        return orjson.dumps(obj, default=str)
    except TypeError:
        return json.dumps(obj, ensure_ascii=True, separators=(",", ":"), default=str).encode()


def dumps_line(obj: Any) -> bytes:
    """`dumps(obj)` and a newline, made in one buffer (the line is not copied to append it). JSON text holds
    no raw newline, so the line's is its only one."""
    try:
        return orjson.dumps(obj, default=str, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError:
        return dumps(obj) + b"\n"

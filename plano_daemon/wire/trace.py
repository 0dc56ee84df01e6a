"""W3C trace context: the incoming `traceparent` gives our trace id; we propagate a child upstream.

Fresh ids come from `random`, not `os.urandom`: they must be unique, not secret (W3C trace context), and
`os.urandom` is a system call per id, two per request."""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


@dataclass(slots=True)
class Trace:
    """One request's trace context. Not frozen: one is made per request, and a frozen dataclass's
    `__init__` costs three times as much; it is replaced (`dataclasses.replace`), never changed."""

    trace_id: str  # 32 lowercase hex
    flags: str = "01"
    #: The span the upstream call is a child of (tracing's attempt span); None: a fresh id.
    span_id: str | None = None

    def outgoing(self) -> str:
        """A traceparent for the upstream call: same trace, the attempt's span id (or a fresh one)."""
        return f"00-{self.trace_id}-{self.span_id or random.getrandbits(64).to_bytes(8).hex()}-{self.flags}"


def trace_from_headers(headers: Mapping[str, str]) -> Trace:
    value = headers.get("traceparent")
    if value:
        m = _TRACEPARENT.match(value.strip().lower())
        if m and m.group(2) != "0" * 32 and m.group(3) != "0" * 16 and m.group(1) != "ff":
            return Trace(m.group(2), m.group(4))
    return Trace(random.getrandbits(128).to_bytes(16).hex())  # as f"{n:032x}", at half its cost

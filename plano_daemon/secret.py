"""Secret: a configured credential that is a plain `str` on the wire but never shows in a repr.

Config, catalog and server objects are dataclasses and pydantic models whose reprs print every field;
one stray `%r` (or asyncio's "Exception in callback <bound method Server.reload of Server(...)>") would
otherwise print an access key. Holding keys as `Secret` makes every such repr say `'***'` instead.
"""

from __future__ import annotations


class Secret(str):
    """A str whose repr is redacted; its value is still sent where it is used (headers, DSNs)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'***'"


def control_characters(value: str) -> bool:
    """True when `value` holds a C0/C1 control character or DEL (not valid in a header or a URL)."""
    return any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value)

"""What a response store keeps, and the interface both backends (memory, postgres) implement."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """One answered Responses request: the whole conversation up to and including its output."""

    response_id: str
    #: Responses input items: every earlier turn, this request's input, then this response's output.
    items: list[dict[str, Any]]
    model: str
    provider: str
    created_at: float  # unix seconds
    #: The privacy boundaries the creating request was allowed; None: it had no privacy profile.
    boundaries: frozenset[str] | None

    def __repr__(self) -> str:  # the items are the user's conversation: never in a log line or traceback
        return f"StoredResponse({self.response_id!r}, {len(self.items)} items, model={self.model!r})"


class StoreUnavailable(Exception):
    """The backend could not be reached; the message names the failure kind, never stored content."""


class ResponseStore(Protocol):
    async def get(self, response_id: str) -> StoredResponse | None:
        """The record, or None when unknown or past retention."""

    async def put(self, record: StoredResponse) -> None:
        """Store (or replace) a record; older records past retention may be dropped on the way."""

    async def close(self) -> None:
        """Release connections."""

"""`state_storage: {type: memory}`: records in this process, bounded by count and by age."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from plano_daemon.state_store.base import StoredResponse


class MemoryStore:
    """Insertion-ordered, so the oldest record is dropped first when `max_entries` is reached."""

    def __init__(self, *, retention: float, max_entries: int, clock: Callable[[], float] = time.time) -> None:
        self.retention = retention
        self.max_entries = max_entries
        self._clock = clock
        self._records: OrderedDict[str, StoredResponse] = OrderedDict()

    def __len__(self) -> int:
        return len(self._records)

    async def get(self, response_id: str) -> StoredResponse | None:
        record = self._records.get(response_id)
        if record is None:
            return None
        if record.created_at < self._clock() - self.retention:
            del self._records[response_id]
            return None
        return record

    async def put(self, record: StoredResponse) -> None:
        self._records.pop(record.response_id, None)
        self._records[record.response_id] = record
        cutoff = self._clock() - self.retention
        while self._records:
            oldest = next(iter(self._records.values()))
            if len(self._records) <= self.max_entries and oldest.created_at >= cutoff:
                break
            self._records.popitem(last=False)

    async def close(self) -> None:
        self._records.clear()

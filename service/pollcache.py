"""An in-process cache of process records for the poll route.

Final processes never change, so they are kept until they expire; processing ones are kept for a
quarter of a second, so a crowd polling one process costs Redis one read per 250 ms. A process
that becomes final is announced by the worker and dropped from the cache at once, so clients see
completion without delay; only percentComplete may lag by up to 250 ms.
"""

import time
from collections import OrderedDict
from typing import Any

from core import keyspace

PROCESSING_TTL_S = 0.25
MAX_ENTRIES = 10_000
KEY_PREFIX = keyspace.PROCESS_PREFIX


class PollCache:
    """process id -> (valid until, record), least recently used evicted first."""

    def __init__(self) -> None:
        self._entries: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()

    def get(self, process_id: str) -> dict[str, Any] | None:
        entry = self._entries.get(process_id)
        if entry is None:
            return None
        if entry[0] < time.monotonic() or entry[1]["expires_ms"] < time.time() * 1000:
            del self._entries[process_id]
            return None
        self._entries.move_to_end(process_id)
        return entry[1]

    def put(self, process_id: str, record: dict[str, Any]) -> None:
        final = record["state"] != "processing"
        until = time.monotonic() + (record["expires_ms"] / 1000 - time.time() if final else PROCESSING_TTL_S)
        self._entries[process_id] = (until, record)
        self._entries.move_to_end(process_id)
        while len(self._entries) > MAX_ENTRIES:
            self._entries.popitem(last=False)

    def drop(self, process_id: str) -> None:
        """Forget a process whose record this front door has just changed."""
        self._entries.pop(process_id, None)

    def announced(self, key: str) -> None:
        """Waiter hook: a process record changed."""
        if key.startswith(KEY_PREFIX):
            self._entries.pop(key[len(KEY_PREFIX) :], None)

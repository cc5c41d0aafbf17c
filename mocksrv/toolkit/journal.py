"""The request journal: every request, matched or not, in a bounded in-memory ring buffer."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mocksrv.clock import iso

if TYPE_CHECKING:
    from mocksrv.call import Call

DEFAULT_CAPACITY = 10_000
FAULT_KEY = "mocksrv.fault"  # environ key: the fault applied to this call (name), set by faults


def entry_of(call: Call, seq: int) -> dict[str, Any]:
    """The journal record of one finished call (plain data, ready for JSON)."""
    return {
        "seq": seq,
        "requestId": call.request_id,
        "time": iso(datetime.now(UTC)),
        "scenarioTime": iso(call.runtime.clock.now()),
        "method": call.method,
        "path": call.path,
        "api": call.api or None,
        "operation": call.operation or None,
        "identity": call.identity or None,
        "outcome": call.outcome or None,
        "status": call.status,
        "signature_failed": call.signature_failed,
        "latencyMs": round((time.perf_counter() - call.started) * 1000, 3),
        "fields": dict(call.fields),
        "fault": call.environ.get(FAULT_KEY),
    }


class Journal:
    """Newest `capacity` entries; older ones are dropped and counted."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=capacity)
        self._seq = 0
        self._dropped = 0
        self.listeners: list[Callable[[dict[str, Any]], None]] = []

    def record(self, call: Call) -> None:
        with self._lock:
            self._seq += 1
            entry = entry_of(call, self._seq)
            if len(self._entries) == self.capacity:
                self._dropped += 1
            self._entries.append(entry)
            for listener in self.listeners:
                listener(entry)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._dropped = 0

    def adopt(self, other: Journal) -> None:
        """Take over another journal's entries (scenario switch keeping state)."""
        kept = other.entries()[-self.capacity :]
        with self._lock:
            self._entries.extend(kept)
            self._seq = max(self._seq, kept[-1]["seq"] if kept else 0)
            self._dropped = other.stats()["dropped"]

    def with_history(self, fn: Callable[[list[dict[str, Any]]], None]) -> None:
        """Run `fn(entries)` while no request is recorded (a new listener misses nothing)."""
        with self._lock:
            fn(list(self._entries))

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"size": len(self._entries), "capacity": self.capacity, "dropped": self._dropped}

    def query(self, filters: Filters) -> list[dict[str, Any]]:
        """Matching entries, newest first, at most `filters.limit`."""
        out = []
        for entry in _newest_first(self.entries()):
            if filters.accepts(entry):
                out.append(entry)
                if filters.limit is not None and len(out) >= filters.limit:
                    break
        return out


def _newest_first(entries: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    return reversed(entries)


class Filters:
    """Journal filters: exact api/operation/identity/outcome/status, `since` instant, `limit`."""

    KEYS = ("api", "operation", "identity", "outcome", "status")

    def __init__(
        self,
        equal: dict[str, Any] | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> None:
        self.equal = equal or {}
        self.since = iso(since) if since else None
        self.limit = limit

    def accepts(self, entry: dict[str, Any]) -> bool:
        for key, want in self.equal.items():
            if entry.get(key) != want:
                return False
        return not (self.since and entry["time"] < self.since)

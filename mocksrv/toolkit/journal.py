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


Raw = tuple[Any, ...]


def raw_of(call: Call, seq: int) -> Raw:
    """What the journal keeps per call: plain values, formatted only when someone reads them."""
    return (
        seq,
        call.request_id,
        time.time(),
        call.runtime.clock.now(),
        call.method,
        call.path,
        call.api,
        call.operation,
        call.identity,
        call.outcome,
        call.status,
        call.signature_failed,
        time.perf_counter() - call.started,
        call.fields,
        call.environ.get(FAULT_KEY),
    )


def entry_of_raw(raw: Raw) -> dict[str, Any]:
    """The journal record of one finished call (plain data, ready for JSON)."""
    seq, rid, wall, scen, method, path, api, op, ident, outcome, status, sig, lat, fields, fault = (
        raw
    )
    return {
        "seq": seq,
        "requestId": rid,
        "time": iso(datetime.fromtimestamp(wall, UTC)),
        "scenarioTime": iso(scen),
        "method": method,
        "path": path,
        "api": api or None,
        "operation": op or None,
        "identity": ident or None,
        "outcome": outcome or None,
        "status": status,
        "signature_failed": sig,
        "latencyMs": round(lat * 1000, 3),
        "fields": dict(fields),
        "fault": fault,
    }


class Journal:
    """Newest `capacity` entries; older ones are dropped and counted."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._entries: deque[Raw | dict[str, Any]] = deque(maxlen=capacity)
        self._seq = 0
        self._dropped = 0
        # entries up to this seq belong to earlier scopes (a reset that kept the journal): queries
        # and new expectations see only the current scope; scenario expectations count them all
        self.scope_seq = 0
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        # listeners are only fed while this says so (no expectations: no per-call formatting)
        self.listen_if: Callable[[], bool] = lambda: True

    def record(self, call: Call) -> None:
        with self._lock:
            self._seq += 1
            raw = raw_of(call, self._seq)
            if len(self._entries) == self.capacity:
                self._dropped += 1
            self._entries.append(raw)
            if self.listeners and self.listen_if():
                entry = entry_of_raw(raw)
                for listener in self.listeners:
                    listener(entry)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._dropped = 0

    def adopt(self, other: Journal) -> None:
        """Take over another journal's entries (scenario switch keeping state)."""
        with other._lock:  # raw records as they are: formatting waits for a reader
            kept = list(other._entries)[-self.capacity :]
            last, scope = other._seq, other.scope_seq
        with self._lock:
            self._entries.extend(kept)
            self._seq = max(self._seq, last)
            self.scope_seq = scope
            self._dropped = other.stats()["dropped"]

    def new_scope(self) -> None:
        """From now on, queries and new expectations see only requests recorded after this."""
        with self._lock:
            self.scope_seq = self._seq

    def with_history(self, fn: Callable[[list[dict[str, Any]]], None]) -> None:
        """Run `fn(entries of the current scope)` while no request is recorded (a new listener
        misses nothing)."""
        with self._lock:
            fn([_as_entry(e) for e in self._entries if _seq_of(e) > self.scope_seq])

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            kept = list(self._entries)
        return [_as_entry(e) for e in kept]

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"size": len(self._entries), "capacity": self.capacity, "dropped": self._dropped}

    def query(self, filters: Filters, *, all_scopes: bool = False) -> list[dict[str, Any]]:
        """Matching entries of the current scope (or all), newest first, at most `filters.limit`."""
        out = []
        floor = 0 if all_scopes else self.scope_seq
        for entry in _newest_first(self.entries()):
            if entry["seq"] <= floor:
                break
            if filters.accepts(entry):
                out.append(entry)
                if filters.limit is not None and len(out) >= filters.limit:
                    break
        return out


def _as_entry(item: Raw | dict[str, Any]) -> dict[str, Any]:
    return item if isinstance(item, dict) else entry_of_raw(item)


def _seq_of(item: Raw | dict[str, Any]) -> int:
    return int(item["seq"] if isinstance(item, dict) else item[0])


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

"""The request journal: every request, matched or not, in a bounded in-memory ring buffer."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mocksrv.clock import iso, parse_instant

if TYPE_CHECKING:
    from mocksrv.call import Call

DEFAULT_CAPACITY = 10_000
DEFAULT_MAX_BYTES = 32 * 1024 * 1024  # what all entries may hold, besides the entry count
MAX_TEXT = 2048  # characters kept of a path or a field value; the rest is cut with a marker
_OVERHEAD = 400  # the fixed part of an entry, roughly, in bytes
FAULT_KEY = "mocksrv.fault"  # environ key: the fault applied to this call (name), set by faults


Raw = tuple[Any, ...]


def cut(text: str) -> str:
    """`text` if short, else its first MAX_TEXT characters and a marker saying how many were cut."""
    if len(text) <= MAX_TEXT:
        return text
    return f"{text[:MAX_TEXT]}...[{len(text) - MAX_TEXT} characters cut]"


_SCALARS = (int, float, bool, type(None))


def _bounded(value: Any, depth: int = 0) -> tuple[Any, int]:
    """A field value with long strings cut, and its rough size in bytes."""
    if type(value) is dict and depth == 0:  # the usual fields: short strings and numbers
        size = 0
        for key, item in value.items():
            if type(item) is str and len(item) <= MAX_TEXT:
                size += len(item) + len(key)
            elif isinstance(item, _SCALARS):
                size += 16 + len(key)
            else:
                break
        else:
            return value, size  # nothing to cut: kept as it is (the call is finished)
    if isinstance(value, str):
        value = cut(value)
        return value, len(value)
    if isinstance(value, dict) and depth < 3:
        out, size = {}, 0
        for key, item in value.items():
            out[key], n = _bounded(item, depth + 1)
            size += n + len(str(key))
        return out, size
    if isinstance(value, list | tuple) and depth < 3:
        items = [_bounded(v, depth + 1) for v in value]
        return [v for v, _ in items], sum(n for _, n in items)
    return value, 16


def raw_of(call: Call, seq: int) -> tuple[Raw, int]:
    """What the journal keeps per call: plain values, formatted only when someone reads them;
    and its rough size in bytes (long paths and field values are cut)."""
    path = call.path if len(call.path) <= MAX_TEXT else cut(call.path)
    fields, size = _bounded(call.fields)
    raw = (
        seq,
        call.request_id,
        time.time(),
        call.runtime.clock.now(),
        call.method,
        path,
        call.api,
        call.operation,
        call.identity,
        call.outcome,
        call.status,
        call.signature_failed,
        time.perf_counter() - call.started,
        fields,
        call.environ.get(FAULT_KEY),
    )
    return raw, _OVERHEAD + len(path) + size


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
    """Newest `capacity` entries holding at most `max_bytes`; older ones are dropped and counted.
    Entries are kept raw and formatted when read: a read walks newest first, stops at its limit
    and formats only what it returns; an index finds an entry by request id."""

    def __init__(
        self, capacity: int = DEFAULT_CAPACITY, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        self.capacity = capacity
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._entries: deque[Raw] = deque()
        self._sizes: deque[int] = deque()
        self._by_id: dict[str, Raw] = {}
        self._bytes = 0
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
            raw, size = raw_of(call, self._seq)
            self._append(raw, size)
            if self.listeners and self.listen_if():
                entry = entry_of_raw(raw)
                for listener in self.listeners:
                    listener(entry)

    def _append(self, item: Raw, size: int) -> None:
        """Add under the lock, then drop the oldest until both bounds hold."""
        self._entries.append(item)
        self._sizes.append(size)
        self._by_id[item[1]] = item
        self._bytes += size
        while len(self._entries) > self.capacity or (
            self._bytes > self.max_bytes and len(self._entries) > 1
        ):
            old = self._entries.popleft()
            if self._by_id.get(old[1]) is old:
                del self._by_id[old[1]]
            self._bytes -= self._sizes.popleft()
            self._dropped += 1

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._sizes.clear()
            self._by_id.clear()
            self._bytes = 0
            self._dropped = 0

    def adopt(self, other: Journal) -> None:
        """Take over another journal's entries (scenario switch keeping state)."""
        with other._lock:  # raw records as they are: formatting waits for a reader
            kept = list(zip(other._entries, other._sizes, strict=True))[-self.capacity :]
            last, scope, dropped = other._seq, other.scope_seq, other._dropped
        with self._lock:
            for entry, size in kept:
                self._append(entry, size)
            self._seq = max(self._seq, last)
            self.scope_seq = scope
            self._dropped += dropped

    def new_scope(self) -> None:
        """From now on, queries and new expectations see only requests recorded after this."""
        with self._lock:
            self.scope_seq = self._seq

    def with_history(self, fn: Callable[[list[dict[str, Any]]], None]) -> None:
        """Run `fn(entries of the current scope)` while no request is recorded (a new listener
        misses nothing)."""
        with self._lock:
            fn([entry_of_raw(e) for e in self._entries if e[0] > self.scope_seq])

    def entries(self) -> list[dict[str, Any]]:
        """Every kept entry, oldest first (formats them all: not for the admin API's reads)."""
        with self._lock:
            kept = list(self._entries)
        return [entry_of_raw(e) for e in kept]

    def find(self, request_id: str) -> dict[str, Any] | None:
        """The entry of one request, if still kept (an index lookup, one entry formatted)."""
        with self._lock:
            raw = self._by_id.get(request_id)
        return entry_of_raw(raw) if raw is not None else None

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "size": len(self._entries),
                "capacity": self.capacity,
                "dropped": self._dropped,
                "bytes": self._bytes,
                "maxBytes": self.max_bytes,
            }

    def query(self, filters: Filters, *, all_scopes: bool = False) -> list[dict[str, Any]]:
        """Matching entries of the current scope (or all), newest first, at most `filters.limit`:
        the walk filters raw entries and stops at the limit; only the found ones are formatted.
        It holds the lock (a deque cannot be walked while it changes); a filter is a few
        comparisons per entry."""
        found: list[Raw] = []
        limit = filters.limit
        with self._lock:
            floor = 0 if all_scopes else self.scope_seq
            for raw in reversed(self._entries):
                if raw[0] <= floor:
                    break
                if filters.accepts_raw(raw):
                    found.append(raw)
                    if limit is not None and len(found) >= limit:
                        break
        return [entry_of_raw(raw) for raw in found]


class Filters:
    """Journal filters: exact api/operation/identity/outcome/status, `since` instant, `limit`."""

    KEYS = ("api", "operation", "identity", "outcome", "status")
    _RAW_INDEX = {"api": 6, "operation": 7, "identity": 8, "outcome": 9, "status": 10}

    def __init__(
        self,
        equal: dict[str, Any] | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> None:
        self.equal = equal or {}
        self.since = iso(since) if since else None
        self.limit = limit
        # on raw entries: (position, wanted value), and `since` at the entries' precision (ms)
        self._checks = [(self._RAW_INDEX[key], want) for key, want in self.equal.items()]
        self._since = parse_instant(self.since) if self.since else None

    def accepts_raw(self, raw: Raw) -> bool:
        """What `entry_of_raw(raw)` would show matches: empty values read as None, the wall
        time cut to milliseconds as the entry's `time` is."""
        for index, want in self._checks:
            if (raw[index] or None) != want:
                return False
        if self._since is None:
            return True
        at = datetime.fromtimestamp(raw[2], UTC)
        return at.replace(microsecond=at.microsecond // 1000 * 1000) >= self._since

    def accepts(self, entry: dict[str, Any]) -> bool:
        """The same test on a formatted entry (a SQL state's journal keeps them formatted)."""
        for key, want in self.equal.items():
            if entry.get(key) != want:
                return False
        return not (self.since and entry["time"] < self.since)

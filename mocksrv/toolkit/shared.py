"""The toolkit on a SQL state: the journal, what was sent and answered, expectation tallies,
fault counters and the faults and expectations added at run time live in the engine, so every
process sees every process's requests and a fault's `nth` or `times` counts them all.

A request's journal row and its expectation tallies commit together after the answer is built;
an admin read sees every request whose answer was sent before it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mocksrv.state.engine import Engine, StoreError, Tx, retried
from mocksrv.toolkit.exchanges import item_of
from mocksrv.toolkit.journal import Filters, entry_of_raw, raw_of
from mocksrv.toolkit.shared_buffer import RowBuffer
from mocksrv.toolkit.shared_kit import SharedKit
from mocksrv.toolkit.shared_rows import (
    EXCHANGES_KEPT,
    INSERT,
    entry_of,
    exchange_of_row,
    exchange_row,
    exchange_text,
    nth_newest,
    row_of,
)

if TYPE_CHECKING:
    from mocksrv.call import Call

log = logging.getLogger("mocksrv")
_INSERT_ROW = "INSERT INTO journal (tenant, request_id, entry, exchange) VALUES (?, ?, ?, ?)"
PRUNE_EVERY = 64  # records between trims of a tenant's journal to its capacity
TABLES = (
    "CREATE TABLE IF NOT EXISTS journal (id {serial}, tenant TEXT NOT NULL, "
    "request_id TEXT NOT NULL, entry TEXT NOT NULL, exchange TEXT)",
    "CREATE INDEX IF NOT EXISTS journal_tenant ON journal (tenant, id)",
    # no index on request ids: random keys cost each row a write to a page of their own, and
    # a lookup by id (an admin read) walks the tenant's rows newest first (`find`)
    "DROP INDEX IF EXISTS journal_request",
    "CREATE TABLE IF NOT EXISTS kit_state (tenant TEXT PRIMARY KEY, scope {bigint} NOT NULL, "
    "dropped {bigint} NOT NULL, added {bigint} NOT NULL)",
    "CREATE TABLE IF NOT EXISTS kit_specs (id {serial}, tenant TEXT NOT NULL, "
    "kind TEXT NOT NULL, spec TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS kit_tallies (tenant TEXT NOT NULL, name TEXT NOT NULL, "
    "matched {bigint} NOT NULL, samples TEXT NOT NULL, near TEXT NOT NULL, "
    "PRIMARY KEY (tenant, name))",
    "CREATE TABLE IF NOT EXISTS kit_faults (tenant TEXT NOT NULL, id TEXT NOT NULL, "
    "seen {bigint} NOT NULL, fired {bigint} NOT NULL, PRIMARY KEY (tenant, id))",
)


class SharedJournal:
    """The `Journal` interface over the engine's rows of one tenant."""

    def __init__(self, engine: Engine, tenant: str, capacity: int, kit: SharedKit) -> None:
        self.engine = engine
        self.tenant = tenant
        self.capacity = capacity
        self.max_bytes = 0  # bounded by entry count; each entry's texts are cut as in memory
        self.kit = kit
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        self.listen_if: Callable[[], bool] = lambda: True
        self._count = 0
        self._lock = threading.Lock()
        self._buffer = RowBuffer(self)

    @property
    def scope_seq(self) -> int:
        with self.engine.read() as tx:
            return _scope(tx, self.tenant)

    def record(self, call: Call) -> None:
        """One row: the entry's raw values and the exchange, as flat JSON lists (formatted when
        read); the expectations are tallied in the same step, on the entry, if there are any.
        On SQLite the row is numbered now and kept in the process until an admin read asks or
        seconds pass (`shared_buffer`), or, while the tenant has expectations, committed with
        its tally within milliseconds (`mocksrv.state.later`); on PostgreSQL it commits before
        the answer goes out."""
        raw, size = raw_of(call, 0)
        tally = self.kit.expectations is not None and self.kit.expectations.items
        later = self.engine.later
        if later is not None:
            seq = later.number(self._largest)
            if not tally:  # kept in the process until asked for (`shared_buffer`)
                self._buffer.add(later, seq, call.request_id, raw, size, item_of(call))
                return
            later.row(INSERT, (seq, self.tenant, call.request_id, row_of(raw), None))
            item = item_of(call)
            if item is not None:  # encoded and written only if still among the newest then
                later.hold(self._exchanges, seq, item, item[-1])
            trim = self._due()
            later.add(lambda tx: self._tallied(tx, raw, seq, tally, trim))
            return
        values = (self.tenant, call.request_id, row_of(raw), exchange_row(call))
        trim = self._due()
        if not tally and not trim:  # one statement (PostgreSQL: one round trip)
            try:
                self.engine.note(_INSERT_ROW, values)
            except StoreError as exc:
                log.error("journal entry of %s not kept: %s", call.request_id, exc)
            return

        def step(tx: Tx) -> None:
            tx.bookkeeping()  # the answer's change committed already
            row = tx.one(_INSERT_ROW + " RETURNING id", values)
            self._tallied(tx, raw, int(row[0]) if row else 0, tally, trim)

        try:
            retried(self.engine, step)
        except StoreError as exc:  # the answer stands (its change committed); the entry is lost
            log.error("journal entry of %s not kept: %s", call.request_id, exc)

    def _exchanges(self, tx: Tx, items: list[tuple[int, Any]]) -> None:
        """Held exchanges (`record`) into their rows, but those of rows no longer among the
        tenant's newest EXCHANGES_KEPT (their exchange is not kept: `_trim`)."""
        floor = nth_newest(tx, self.tenant, EXCHANGES_KEPT)
        tx.many(
            "UPDATE journal SET exchange=? WHERE id=?",
            [(exchange_text(item), seq) for seq, item in items if seq > floor],
        )

    def _tallied(self, tx: Tx, raw: Any, seq: int, tally: Any, trim: bool) -> None:
        if tally:
            entry = entry_of_raw(raw)
            entry["seq"] = seq
            self.kit.tally(tx, entry)
        if trim:
            self._trim(tx)

    def _due(self) -> bool:
        """Is this record the one in PRUNE_EVERY that trims the tenant's journal?"""
        with self._lock:
            self._count += 1
            return not self._count % PRUNE_EVERY

    def _largest(self) -> int:
        """The largest journal row number stored (of any tenant)."""
        with self.engine.read() as tx:
            row = tx.one("SELECT max(id) FROM journal")
        return int(row[0] or 0) if row else 0

    def _trim(self, tx: Tx) -> None:
        """Every PRUNE_EVERY records: drop the tenant's rows beyond its newest `capacity`, and
        the exchanges beyond its newest EXCHANGES_KEPT. Counted among the tenant's own rows (its
        index, an offset): tenants of one state share the row ids, so an id range would cut a
        quiet tenant's rows because busy ones inserted more."""
        t = self.tenant
        cut = nth_newest(tx, t, self.capacity)
        if cut:
            dropped = tx.run("DELETE FROM journal WHERE tenant=? AND id <= ?", (t, cut))
            tx.run("UPDATE kit_state SET dropped = dropped + ? WHERE tenant=?", (dropped, t))
        old = nth_newest(tx, t, EXCHANGES_KEPT)
        if old:
            tx.run(
                "UPDATE journal SET exchange=NULL WHERE tenant=? AND id <= ? AND id > ? "
                "AND exchange IS NOT NULL",
                (t, old, old - 4 * PRUNE_EVERY),
            )

    def clear(self) -> None:
        with self.engine.write() as tx:
            clear_journal(tx, self.tenant)

    def adopt(self, other: Any) -> None:
        pass  # the rows are the engine's: a new runtime on the same state sees them already

    def new_scope(self) -> None:
        with self.engine.write() as tx:
            new_scope(tx, self.tenant)

    def with_history(self, fn: Callable[[list[dict[str, Any]]], None]) -> None:
        fn(self._entries(current=True))

    def entries(self) -> list[dict[str, Any]]:
        return self._entries(current=False)

    def _entries(self, current: bool) -> list[dict[str, Any]]:
        with self.engine.read() as tx:
            floor = max(_scope(tx, self.tenant) if current else 0, self._kept(tx))
            rows = tx.all(
                "SELECT id, entry FROM journal WHERE tenant=? AND id > ? ORDER BY id",
                (self.tenant, floor),
            )
        return [entry_of(i, e) for i, e in rows]

    def find(self, request_id: str) -> dict[str, Any] | None:
        with self.engine.read() as tx:
            row = tx.one(
                "SELECT id, entry FROM journal WHERE tenant=? AND request_id=? AND id > ? "
                "ORDER BY id DESC LIMIT 1",
                (self.tenant, request_id, self._kept(tx)),
            )
        return entry_of(*row) if row is not None else None

    def exchange(self, request_id: str) -> dict[str, Any] | None:
        with self.engine.read() as tx:
            row = tx.one(
                "SELECT exchange FROM journal WHERE tenant=? AND request_id=? AND id > ? "
                "ORDER BY id DESC LIMIT 1",
                (self.tenant, request_id, self._kept(tx)),
            )
        return exchange_of_row(row[0]) if row is not None and row[0] is not None else None

    def stats(self) -> dict[str, int]:
        """As the memory journal's: the newest `capacity` entries are kept, older ones count as
        dropped (whether or not the periodic trim removed their rows yet)."""
        with self.engine.read() as tx:
            floor = self._kept(tx)
            row = tx.one(
                "SELECT count(*), coalesce(sum(length(entry)), 0) FROM journal WHERE tenant=? "
                "AND id > ?",
                (self.tenant, floor),
            )
            over = tx.one(
                "SELECT count(*) FROM journal WHERE tenant=? AND id <= ?", (self.tenant, floor)
            )
            dropped = tx.one("SELECT dropped FROM kit_state WHERE tenant=?", (self.tenant,))
        size, used = (int(row[0]), int(row[1])) if row else (0, 0)
        gone = (int(dropped[0]) if dropped else 0) + (int(over[0]) if over else 0)
        return {"size": size, "capacity": self.capacity, "dropped": gone, "bytes": used,
                "maxBytes": self.max_bytes}  # fmt: skip

    def _kept(self, tx: Tx) -> int:
        """The largest row id beyond the tenant's newest `capacity` (0: none): rows are trimmed
        every PRUNE_EVERY records, so up to that many more may be stored; a read sees the newest
        `capacity`, as the memory journal keeps."""
        return nth_newest(tx, self.tenant, self.capacity)

    def query(self, filters: Filters, *, all_scopes: bool = False) -> list[dict[str, Any]]:
        """Newest first, stopping at the limit; rows are read in pages of 200."""
        out: list[dict[str, Any]] = []
        with self.engine.read() as tx:
            floor = max(0 if all_scopes else _scope(tx, self.tenant), self._kept(tx))
            below: int | None = None
            while True:
                page = tx.all(
                    "SELECT id, entry FROM journal WHERE tenant=? AND id > ? AND id < ? "
                    "ORDER BY id DESC LIMIT 200",
                    (self.tenant, floor, below if below is not None else 1 << 62),
                )
                for seq, text in page:
                    entry = entry_of(seq, text)
                    if filters.accepts(entry):
                        out.append(entry)
                        if filters.limit is not None and len(out) >= filters.limit:
                            return out
                if len(page) < 200:
                    return out
                below = int(page[-1][0])


def _scope(tx: Tx, tenant: str) -> int:
    row = tx.one("SELECT scope FROM kit_state WHERE tenant=?", (tenant,))
    return int(row[0]) if row else 0


def clear_journal(tx: Tx, tenant: str) -> None:
    tx.run("DELETE FROM journal WHERE tenant=?", (tenant,))
    tx.run("UPDATE kit_state SET dropped=0, scope=0 WHERE tenant=?", (tenant,))


def new_scope(tx: Tx, tenant: str) -> None:
    row = tx.one("SELECT max(id) FROM journal WHERE tenant=?", (tenant,))
    tx.run("UPDATE kit_state SET scope=? WHERE tenant=?", (int(row[0] or 0) if row else 0, tenant))

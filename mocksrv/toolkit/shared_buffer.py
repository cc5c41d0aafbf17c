"""A SQLite journal's rows kept in the process that answered them until they are asked for.

Under steady load most journal rows are never read: the journal keeps a tenant's newest
`capacity` entries, and a busy server pushes each row out again within seconds. Encoding,
inserting and trimming every row cost a `--workers` process about as much as the rest of a
verify. So each process keeps its newest rows of a tenant (at most `capacity`, and BYTES) as
they were recorded, numbered in answer order, and writes them when an admin read asks (the
barrier of `mocksrv.state.later` reaches every process), LINGER seconds after the first of them,
when they pass BYTES, or at a clean stop. Rows pushed out before that are counted as dropped, as
the memory journal counts them; only the newest EXCHANGES_KEPT keep their exchange.

Not used while the tenant has expectations (each request must be tallied once, and a tally is
written with its row) or on PostgreSQL (rows commit before the answer there). A process killed
with kill -9 loses its rows of the last LINGER seconds, never a state change.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING, Any

from mocksrv.state.later import LINGER, many  # LINGER: seconds rows are kept unasked
from mocksrv.toolkit.exchanges import TOTAL_BYTES
from mocksrv.toolkit.shared_rows import EXCHANGES_KEPT, INSERT, exchange_text, nth_newest, row_of

if TYPE_CHECKING:
    from mocksrv.state.engine import Tx

BYTES = 16 * 1024 * 1024  # what one tenant's kept rows may hold in a process before they go


class RowBuffer:
    """One tenant's unwritten journal rows in this process (see the module)."""

    def __init__(self, journal: Any) -> None:
        self.journal = journal  # the SharedJournal: tenant, capacity, trim
        self._lock = threading.Lock()
        self._rows: deque[tuple[int, str, Any, int]] = deque()  # seq, request id, raw, size
        self._bytes = 0
        self._exchanges: deque[tuple[int, Any]] = deque()  # seq, item: the newest only
        self._exchange_bytes = 0
        self._gone = 0  # rows pushed out before they were written: dropped
        self._handed = False  # given to the queue (`linger`), not written since

    def add(self, later: Any, seq: int, request_id: str, raw: Any, size: int,
            item: Any) -> None:  # fmt: skip
        """Keep one row (and its exchange `item`, if any); hand the buffer to the queue once."""
        capacity = self.journal.capacity
        with self._lock:
            rows = self._rows
            rows.append((seq, request_id, raw, size))
            self._bytes += size
            while len(rows) > capacity:
                self._bytes -= rows.popleft()[3]
                self._gone += 1
            if item is not None:
                self._exchanges.append((seq, item))
                self._exchange_bytes += item[-1]
                while len(self._exchanges) > EXCHANGES_KEPT or (
                    self._exchange_bytes > TOTAL_BYTES and len(self._exchanges) > 1
                ):
                    self._exchange_bytes -= self._exchanges.popleft()[1][-1]
            full = self._bytes > BYTES
            hand, self._handed = full or not self._handed, True
        if hand:
            later.linger(self.write, ("journal", id(self)), self, 0.0 if full else LINGER)

    def write(self, tx: Tx, items: list[Any]) -> None:
        """Everything kept, in the caller's transaction: the rows (with the exchanges of those
        still among the tenant's newest EXCHANGES_KEPT), the rows pushed out as dropped, then
        the tenant's rows beyond its capacity trimmed; nothing for a tenant deleted since."""
        with self._lock:
            rows, self._rows, self._bytes = self._rows, deque(), 0
            exchanges, self._exchanges, self._exchange_bytes = self._exchanges, deque(), 0
            gone, self._gone = self._gone, 0
            self._handed = False
        journal = self.journal
        tenant = journal.tenant
        if tx.one("SELECT 1 FROM kit_state WHERE tenant=?", (tenant,)) is None:
            return  # the tenant was deleted meanwhile: its rows went with it
        if gone:
            tx.run("UPDATE kit_state SET dropped = dropped + ? WHERE tenant=?", (gone, tenant))
        if not rows:
            return
        floor = nth_newest(tx, tenant, EXCHANGES_KEPT)
        shown = {seq: item for seq, item in exchanges if seq > floor}
        values = [
            (seq, tenant, rid, row_of(raw), exchange_text(shown[seq]) if seq in shown else None)
            for seq, rid, raw, _ in rows
        ]
        many(tx, INSERT + " {rows}", values)
        journal._trim(tx)

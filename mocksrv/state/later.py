"""Bookkeeping written after the answer, and the barrier that makes it visible to admin reads.

On SQLite, a request's journal row (with its expectation tallies) and a Prime verify's call
counters are bookkeeping: no API answer depends on them, only later admin reads do. Committing
them before the answer cost each request a transaction of its own: the write lock, a commit,
and hand-offs between the threads sharing it. So they are queued in the process instead (`row`,
`add`) and committed together in one transaction with few calls into SQLite (a multi-row INSERT
per statement): by the HTTP server's loop after a turn once the oldest is AGE seconds old
(`tick`), else by the queue's thread (an idle loop, or requests served on worker threads), and
by a request that finds HIGH items waiting. Counters (`count`) are summed in the process and
written LINGER seconds after the first, each once.

The barrier (`Deferred.settle`) runs before every admin request but the probes (health, ready;
metrics asks for it itself): it asks every process of the state to commit what it has queued,
and waits until each did. A request's step is queued before its answer is sent, so an admin request sees every
request whose answer went out before it arrived, whichever process served it.

The processes meet on the state's lock-file page (`mocksrv.state.board.Board`), which also
numbers the journal rows: rows commit in batches, process by process, yet their numbers follow
the order in which their requests were answered.

Held items (`hold`: a request's exchange, a process's metrics) wait up to HOLD seconds, and
lingering ones (`linger`: a journal's rows kept in the process, `mocksrv.toolkit.shared_buffer`)
until their own deadline; a barrier or a clean stop writes both at once.

A process killed with kill -9 loses the bookkeeping of its last moments (queued rows: AGE
seconds under load, up to BUSY when its loop just went idle; held items: HOLD; counters and
lingering items: LINGER), never a state change: those still commit before their answer.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from mocksrv.state.batch import _Job, _step
from mocksrv.state.board import Board
from mocksrv.state.errors import Busy, Conflict, StoreError

log = logging.getLogger("mocksrv")
AGE = 0.01  # seconds between commits while steps come
BUSY = 0.05  # the thread's look, while the loop turns (and commits): what a barrier may wait
HIGH = 4096  # queued steps a request commits itself (the thread is behind)
CHUNK = 200  # rows per multi-row statement (SQLite allows 32,766 parameters in one)
LINGER = 5.0  # seconds counters (`count`) and a journal's kept rows wait, unless a barrier asks
HOLD = 1.0  # seconds held items (`hold`) may wait for their write, unless a barrier asks
_NEVER = float("inf")
HELD_BYTES = 8 * 1024 * 1024  # what held items may hold in a process; the oldest go first
_PID = [os.getpid()]  # this process's (a forked worker's own from its start): no call per item
os.register_at_fork(after_in_child=lambda: _PID.__setitem__(0, os.getpid()))


class Deferred:
    """This process's queue of bookkeeping steps (see the module)."""

    def __init__(self, engine: Any, board: Board) -> None:
        self._engine = engine
        self._board = board
        self._pid = -1  # the process the queue, its thread and its slot belong to (fork)
        self._lock = threading.Lock()
        self._commit = threading.Lock()  # one commit at a time: the queue's order is kept
        self._steps: list[Any] = []  # steps, and (statement, values) tuples: rows
        self._counted: dict[str, dict[tuple[Any, ...], int]] = {}  # upsert: key: count
        self._counted_handed = False  # handed to `linger`, its writer not run since
        self._held: OrderedDict[Any, tuple[Any, Any, int]] = OrderedDict()  # key: writer, item
        self._held_bytes = 0
        self._held_since = 0.0
        self._lingering: dict[Any, tuple[Any, Any, float]] = {}  # key: writer, item, deadline
        self._linger_at = _NEVER  # the soonest deadline among them
        self._since = 0.0
        self._ticked = 0.0  # the HTTP loop's last turn (`tick`)
        self._wake = threading.Event()
        self._stop = False
        self._floored = False

    def number(self, floor: Callable[[], int]) -> int:
        """The next journal row number; `floor()` (the largest stored) is asked once per process,
        so numbers stay above rows written before this page numbered them."""
        if self._floored:
            return self._board.next_id()
        value = self._board.next_id(floor())
        self._floored = True
        return value

    def add(self, step: Callable[[Any], Any]) -> None:
        """Queue `step(tx)`, run in a savepoint of its own; it commits within AGE seconds, or
        before the next admin read (inside a write transaction on this thread: in that
        transaction, now)."""
        tx = self._open_tx()
        if tx is not None:
            step(tx)
            return
        self._queue(step)

    def row(self, insert: str, values: tuple[Any, ...]) -> None:
        """Queue a row for `insert` ("INSERT INTO t (a, b) VALUES"): the queued rows of one
        statement go in as one multi-row INSERT, a single call into SQLite."""
        tx = self._open_tx()
        if tx is not None:
            many(tx, insert + " {rows}", [values])
            return
        self._queue((insert, values))

    def count(self, upsert: str, *keys: tuple[Any, ...]) -> None:
        """One more for each counter row of `keys`: `upsert` has `{rows}` where the rows go
        (each key with its total) and adds `excluded`'s count on conflict. Counted in the
        process and written, each counter once, when a barrier asks or LINGER seconds after
        the first count (`linger`)."""
        tx = self._open_tx()
        if tx is not None:
            for key in keys:
                many(tx, upsert, [(*key, 1)])
            return
        if self._pid != _PID[0]:
            self._start()
        with self._lock:
            counted = self._counted.setdefault(upsert, {})
            for key in keys:
                counted[key] = counted.get(key, 0) + 1
            hand, self._counted_handed = not self._counted_handed, True
        if hand:
            self.linger(self._write_counts, "counts", None, LINGER)

    def _write_counts(self, tx: Any, items: list[Any]) -> None:
        with self._lock:
            counted, self._counted, self._counted_handed = self._counted, {}, False
        for upsert, keyed in counted.items():
            many(tx, upsert, [(*key, n) for key, n in keyed.items()])

    def hold(
        self, writer: Callable[[Any, list[Any]], None], key: Any, item: Any, size: int
    ) -> None:
        """Keep `item` (of `size` bytes) until a barrier asks, HOLD seconds pass or the process
        stops: then `writer(tx, [(key, item), ...])` writes what is held, in the commit after
        the queued rows'. For what is read rarely and costs to encode (a journal row's
        exchange): most of it is replaced before anyone asks. At most HELD_BYTES are held;
        the oldest items are dropped first."""
        if self._pid != _PID[0]:
            self._start()
        with self._lock:
            if not self._held:
                self._held_since = time.monotonic()
                if not self._steps:
                    self._board.mark(None, True)  # before the answer goes out
                    self._wake.set()
            self._held[key] = (writer, item, size)
            self._held_bytes += size
            while self._held_bytes > HELD_BYTES and len(self._held) > 1:
                self._held_bytes -= self._held.popitem(last=False)[1][2]

    def linger(self, writer: Callable[[Any, list[Any]], None], key: Any, item: Any,
               seconds: float) -> None:  # fmt: skip
        """As `hold`, for one item that gathers what many requests leave (a journal's unwritten
        rows, counters, a process's metrics): written when a barrier asks, `seconds` after this
        call, or at a clean stop; a later call for the same key keeps the first deadline unless
        `seconds` is sooner. Never dropped: a commit that fails hands it back for LINGER
        seconds later, so its owner hands it over once until its writer runs."""
        if self._pid != _PID[0]:
            self._start()
        with self._lock:
            first = not (self._steps or self._held or self._lingering)
            deadline = time.monotonic() + seconds
            found = self._lingering.get(key)
            if found is not None:
                deadline = min(deadline, found[2])
            self._lingering[key] = (writer, item, deadline)
            self._linger_at = min(self._linger_at, deadline)
            if first:
                self._board.mark(None, True)  # before the answer goes out
                self._wake.set()

    def _open_tx(self) -> Any:
        """The write transaction open on this thread, if any (queued items then go in it)."""
        return getattr(self._engine._local, "tx", None)

    def _queue(self, *items: Any) -> None:
        if self._pid != _PID[0]:
            self._start()
        with self._lock:
            first = not self._steps
            self._steps += items
            count = len(self._steps)
            if first:
                self._since = time.monotonic()
                self._board.mark(None, True)  # before the answer goes out
                self._wake.set()
        if count >= HIGH:
            self.flush()

    def settle(self) -> None:
        """The barrier: every process's queued steps committed (this one's on this thread)."""
        if self._pid != _PID[0]:
            self._start()
        number = self._board.ask()
        self.flush()
        self._board.wait(number)

    def flush(self, wait: bool = True, full: bool = False, block: bool = True) -> None:
        """Commit every queued item in one transaction (`_run`), the held ones (`hold`) if
        `full`, a barrier asks or they were held HOLD seconds, and the lingering ones (`linger`)
        if `full`, a barrier asks or their time came. `wait=False`: not if another
        thread is committing now; `block=False`: not if another writer holds the state's
        write lock now (the items stay queued)."""
        if not self._commit.acquire(blocking=wait):
            return
        try:
            number = self._board.asked()  # read before taking the queue: the commit covers it
            now = time.monotonic()
            full = full or number > self._board.flushed()
            with self._lock:
                steps, self._steps = self._steps, []
                held: list[Any] = []
                held_since = self._held_since
                if (full or now - held_since >= HOLD) and self._held:
                    held, self._held, self._held_bytes = list(self._held.items()), OrderedDict(), 0
                    self._held_since = now
                lingered = [(k, v) for k, v in self._lingering.items() if full or v[2] <= now]
                for key, _ in lingered:
                    del self._lingering[key]
                self._linger_at = min((v[2] for v in self._lingering.values()), default=_NEVER)
                self._since = now
            held += [(key, (writer, item, 0)) for key, (writer, item, _) in lingered]
            done = self._run(steps, held, block) if steps or held else True
            if done is not True:
                with self._lock:  # not committed: back in front of what came meanwhile
                    for key, (writer, item, deadline) in lingered:  # they gather: never dropped
                        again = deadline if done is False else now + LINGER  # failed: later
                        self._lingering.setdefault(key, (writer, item, again))
                        self._linger_at = min(self._linger_at, again)
                    if done is None:  # failed: the queued and held items are gone (logged)
                        return
                    if held:
                        self._held_since = held_since
                    self._steps[:0] = steps
                    for key, found in reversed(held[: len(held) - len(lingered)]):
                        self._held[key] = found
                        self._held.move_to_end(key, last=False)
                        self._held_bytes += found[2]
                return
            with self._lock:
                self._board.mark(number, bool(self._steps or self._held or self._lingering))
        finally:
            self._commit.release()

    def close(self) -> None:
        """Commit what is queued and stop the thread (this process's, at shutdown)."""
        if self._pid != os.getpid():
            return
        self._stop = True
        self._wake.set()
        with contextlib.suppress(StoreError, Conflict):
            self.flush(full=True)
        self._board.leave()

    def _run(self, steps: list[Any], held: list[Any], block: bool = True) -> bool | None:
        """Rows first (a multi-row INSERT per statement and CHUNK rows), then the steps, then
        the held and lingering items by writer, each of those in a savepoint: every call into
        SQLite lets another thread take the GIL, so a batch makes few calls. True: committed;
        False: not run, the write lock was taken (`block=False`); None: the commit failed
        (logged)."""
        engine = self._engine
        rows: dict[str, list[tuple[Any, ...]]] = {}
        jobs: list[_Job] = []
        for item in steps:
            if item.__class__ is not tuple:
                jobs.append(_Job(item))
            else:
                rows.setdefault(item[0], []).append(item[1])
        writers: dict[Any, list[Any]] = {}
        for key, (writer, value, _) in held:
            writers.setdefault(writer, []).append((key, value))
        jobs += [_Job(functools.partial(writer, items=items)) for writer, items in writers.items()]
        try:
            with engine.write(wait=block) as tx:
                for insert, values in rows.items():
                    many(tx, insert + " {rows}", values)
                for job in jobs:
                    _step(tx, job, engine._driver.errors)
        except (StoreError, Conflict) as exc:
            log.error("state: %d journal rows and counters not kept: %s", len(steps) + len(held),
                      exc)  # fmt: skip
            return None
        except Busy:
            return False
        for job in jobs:
            if job.error is not None:
                log.error("state: a journal row or counter not kept: %s", job.error)
        return True

    def _start(self) -> None:
        """First use in this process (a worker forked after the engine opened starts afresh)."""
        with self._commit:
            if self._pid == os.getpid():
                return
            self._lock = threading.Lock()
            self._steps, self._stop, self._floored = [], False, False
            self._held, self._held_bytes, self._lingering = OrderedDict(), 0, {}
            self._counted, self._counted_handed = {}, False
            self._linger_at = _NEVER
            self._wake = threading.Event()
            self._board.join()
            self._pid = os.getpid()
            threading.Thread(target=self._loop, name="mocksrv-deferred", daemon=True).start()

    def tick(self) -> None:
        """The HTTP server's loop calls this after each turn: it commits the queue once its
        oldest step is AGE old or a barrier asks, unless a commit is running. Under load the loop
        commits, and the thread stays asleep: a thread waiting for the GIL is woken at each
        system call of the thread holding it (the loop makes several per request) and mostly
        loses the race, two context switches each time."""
        now = self._ticked = time.monotonic()
        if self._waiting() and self._pid == _PID[0] and self._due(now):
            self._commit_due(block=False)  # another process writing: the next turn, or the thread

    def _loop(self) -> None:
        """The fallback for a loop that is idle (or whose requests worker threads serve): wakes
        when the queue gets its first step, then while steps wait looks every AGE seconds (every
        BUSY seconds while the loop turns: it commits then) whether they are due."""
        while not self._stop:
            self._wake.wait()
            self._wake.clear()
            while self._waiting() and not self._stop:
                busy = time.monotonic() - self._ticked < BUSY
                time.sleep(BUSY if busy else AGE)
                if self._waiting() and self._due(time.monotonic()):
                    self._commit_due()

    def _waiting(self) -> bool:
        return bool(self._steps or self._held or self._lingering)

    def _due(self, now: float) -> bool:
        """Has the oldest queued item waited AGE, the oldest held one HOLD, has a lingering
        item's time come, or does a barrier ask for a commit?"""
        return (
            (bool(self._steps) and now - self._since >= AGE)
            or (bool(self._held) and now - self._held_since >= HOLD)
            or now >= self._linger_at
            or self._board.asked() > self._board.flushed()
        )

    def _commit_due(self, block: bool = True) -> None:
        """A commit unless one is running (or, `block=False`, unless another writer holds the
        lock); a failure is logged (the next look tries again)."""
        try:
            self.flush(wait=False, block=block)
        except Exception as exc:  # never let the loop or the thread die
            log.error("state: committing the journal rows failed: %s", exc)


def many(tx: Any, sql: str, values: list[tuple[Any, ...]]) -> None:
    """`sql` with `{rows}` filled by CHUNK rows at a time: one statement per chunk."""
    width = len(values[0])
    one = f"({', '.join('?' * width)})"
    for at in range(0, len(values), CHUNK):
        chunk = values[at : at + CHUNK]
        tx.run(sql.format(rows=", ".join([one] * len(chunk))), [v for row in chunk for v in row])

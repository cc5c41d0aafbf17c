"""The state engines: memory (one process), SQLite (one machine) and PostgreSQL (many machines).

An engine decides; a process's memory only caches. Every state change is one transaction
(`Engine.write()`): its effects commit together before the reply that reports them is sent, and
a failed commit leaves nothing behind (the client gets its API's server error, `StoreError`).
The memory engine has no transactions: its stores keep their data themselves, under their locks.

SQL is written once, in SQLite's spelling with `?` parameters; the PostgreSQL dialect rewrites
the few spots that differ (parameters, `{serial}`/`{blob}`-style DDL tokens, row locks).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar

from mocksrv.state.batch import ATTEMPTS, GroupCommit, alone
from mocksrv.state.errors import Conflict, StateError, StoreError
from mocksrv.state.later import Deferred
from mocksrv.state.rates import RateTable
from mocksrv.state.sqltx import Dialect, ReadTx, Signal, SqlTx, WriteTx
from mocksrv.state.turn import Turn

log = logging.getLogger("mocksrv")
T = TypeVar("T")
__all__ = [
    "ATTEMPTS",
    "Conflict", "Dialect", "Engine", "MEMORY", "MemoryEngine", "Signal", "SqlEngine", "SqlTx",
    "StateError", "StoreError", "Tx", "retried",
]  # fmt: skip


class Tx(Protocol):
    """One open transaction (or read) on a SQL engine."""

    dialect: str

    def run(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None: ...

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def lock(self, *key: str) -> None: ...

    def bookkeeping(self) -> None: ...

    def control_changed(self) -> None: ...


class Engine(Protocol):
    """Where state lives; `shared` engines are seen by every process that opens them."""

    kind: str  # "memory", "sqlite" or "postgresql"
    shared: bool
    local: bool  # on this machine: a write waits for no network, at most for another writer
    signal: Signal | None  # SQLite's control signal (None: read the control row per request)
    later: Deferred | None  # SQLite's bookkeeping written after the answer (None: before it)
    rates: RateTable | None  # SQLite's rate-limit buckets in shared memory (None: rows)
    turn: Turn | None  # SQLite's group commit per turn of the event loop (None: none)

    def settle(self) -> None: ...

    def write(self, wait: bool = True) -> contextlib.AbstractContextManager[Tx]: ...

    def read(self) -> contextlib.AbstractContextManager[Tx]: ...

    def note(self, sql: str, params: Sequence[Any]) -> None: ...

    def describe(self) -> str: ...

    def reachable(self) -> bool: ...

    def uncache(self, tenant: str) -> None: ...

    def cache(self, key: Any, make: Callable[[], T], keep: Callable[[T], bool] = ...) -> T: ...

    def close(self) -> None: ...


class MemoryEngine:
    """The embedded default: each store keeps its data in this process, under its own lock."""

    kind = "memory"
    shared = False
    local = True
    signal: Signal | None = None
    later: Deferred | None = None
    rates: RateTable | None = None
    turn: Turn | None = None

    def settle(self) -> None:
        pass  # nothing is deferred: the stores hold their data

    def write(self, wait: bool = True) -> contextlib.AbstractContextManager[Tx]:
        raise RuntimeError("the memory engine has no transactions: its stores hold the data")

    def read(self) -> contextlib.AbstractContextManager[Tx]:
        raise RuntimeError("the memory engine has no transactions: its stores hold the data")

    def note(self, sql: str, params: Sequence[Any]) -> None:
        raise RuntimeError("the memory engine has no transactions: its stores hold the data")

    def describe(self) -> str:
        return "memory (this process only)"

    def reachable(self) -> bool:
        return True

    def uncache(self, tenant: str) -> None:
        pass

    def cache(
        self, key: Any, make: Callable[[], T], keep: Callable[[T], bool] = lambda _: True
    ) -> T:
        return make()  # the memory engine's stores keep their own objects

    def close(self) -> None:
        pass


MEMORY = MemoryEngine()


def retried(engine: Engine, step: Callable[[Tx], T]) -> T:
    """`step(tx)` committed in a write transaction, run again (up to ATTEMPTS times) while it
    loses a race (`Conflict`: a key another transaction took first; PostgreSQL's serialization
    failures). On SQLite, concurrent steps share transactions (`mocksrv.state.batch`): a step
    must be short, and may run on another thread than its caller's."""
    batcher = getattr(engine, "batcher", None)
    if batcher is not None:
        return batcher.run(step)
    return alone(engine, step)


class SqlEngine:
    """A SQL engine: a pool of connections, write transactions, reads, the schema."""

    shared = True

    def __init__(self, driver: Any, dialect: str, where: str) -> None:
        self.kind = dialect
        self.local = dialect == "sqlite"
        self.dialect = Dialect(dialect)
        self._driver = driver  # connect(), begin(conn), errors, the cross-process write lock
        self.signal: Signal | None = getattr(driver, "signal", None)
        # one writer at a time: concurrent short writes share transactions (`retried`)
        self.batcher = GroupCommit(self) if dialect == "sqlite" else None
        # the event loop's requests: their steps share a transaction per turn of the loop
        self.turn: Turn | None = None
        if self.batcher is not None:
            self.turn = self.batcher.turn = Turn(self.batcher.execute)
        # bookkeeping committed after the answer, seen by admin reads (`settle`): one machine
        board = getattr(driver, "board", None)
        self.later: Deferred | None = Deferred(self, board) if board is not None else None
        self.rates: RateTable | None = getattr(driver, "rates", None)
        self._where = where
        self._pool: queue.SimpleQueue[Any] = queue.SimpleQueue()
        # PostgreSQL's reads take connections in autocommit: at READ COMMITTED each statement
        # reads a snapshot of its own in a transaction or not, so a read saves two round trips
        # (BEGIN and COMMIT); SQLite's reads are transactions (one snapshot for the block)
        reading = getattr(driver, "connect_reading", None)
        self._autocommit = reading is not None
        self._reads: queue.SimpleQueue[Any] = queue.SimpleQueue() if reading else self._pool
        self._connects = (driver.connect, reading or driver.connect)  # by `read`
        self._local = threading.local()
        self._closed = False
        self._caches: dict[Any, Any] = {}
        self._cache_lock = threading.Lock()
        from mocksrv.histogram import Histogram

        self.commits = Histogram()  # seconds per write transaction, BEGIN to COMMIT (metrics)

    def describe(self) -> str:
        return self._where

    def cache(
        self, key: Any, make: Callable[[], T], keep: Callable[[T], bool] = lambda _: True
    ) -> T:
        """A process-local object kept with this engine across runtimes (this process's moto
        copy of a tenant's S3): made on first use, made again when `keep(found)` says no (the
        old one is closed)."""
        with self._cache_lock:
            found = self._caches.get(key)
            if found is not None and not keep(found):
                with contextlib.suppress(Exception):
                    found.close()
                found = None
            if found is None:
                found = self._caches[key] = make()
            return found

    def uncache(self, tenant: str) -> None:
        """Close and forget this process's objects of a deleted tenant (its moto copy)."""
        with self._cache_lock:
            gone = [k for k in self._caches if isinstance(k, tuple) and k[-1:] == (tenant,)]
            items = [self._caches.pop(k) for k in gone]
        for item in items:
            with contextlib.suppress(Exception):
                item.close()

    # -- connections -------------------------------------------------------------------------

    def _take(self, read: bool = False) -> Any:
        if self._closed:
            raise StoreError(f"the state {self._where} is closed")
        try:
            return (self._reads if read else self._pool).get_nowait()
        except queue.Empty:
            pass
        try:
            return self._connects[read]()
        except self._driver.errors as exc:
            raise StoreError(f"cannot reach the state {self._where}: {exc}") from None

    def _give(self, conn: Any, healthy: bool, read: bool = False) -> None:
        if healthy and not self._closed:
            (self._reads if read else self._pool).put(conn)
            return
        with contextlib.suppress(Exception):
            conn.close()

    # -- transactions ------------------------------------------------------------------------

    def write(self, wait: bool = True) -> contextlib.AbstractContextManager[Tx]:
        """One write transaction; nested calls on the same thread join the outer one.
        `wait=False`: `Busy` if another writer holds the lock now (SQLite)."""
        return WriteTx(self, wait)

    def read(self) -> contextlib.AbstractContextManager[Tx]:
        """A read: on SQLite one snapshot for the block; on PostgreSQL each statement reads its
        own, in autocommit, as it would at READ COMMITTED in a transaction (inside a write on
        this thread: that transaction)."""
        return ReadTx(self)

    def note(self, sql: str, params: Sequence[Any]) -> None:
        """One bookkeeping statement (a journal row), committed on its own. PostgreSQL: on a
        connection in autocommit whose commits do not wait for the disk (one round trip, where
        a write transaction takes four; see `SqlTx.bookkeeping`); SQLite: a write transaction."""
        if not self._autocommit:
            with self.write() as tx:
                tx.bookkeeping()
                tx.run(sql, params)
            return
        conn = self._take(True)
        healthy = False
        try:
            conn.execute(self.dialect.sql(sql), params)
            healthy = True
        except self._driver.errors as exc:
            raise self._failure(exc, "state operation failed") from None
        finally:
            self._give(conn, healthy or self._rollback(conn), True)

    def settle(self) -> None:
        """Before an admin read: every process's deferred bookkeeping committed (journal rows,
        tallies, counters: `mocksrv.state.later`)."""
        if self.later is not None:
            self.later.settle()

    def reachable(self) -> bool:
        """The state answers a read (for /__admin/ready)."""
        try:
            with self.read() as tx:
                tx.one("SELECT count(*) FROM meta")
        except (StoreError, Conflict):
            return False
        return True

    def _failure(self, exc: Exception, what: str) -> Exception:
        if self._driver.retryable(exc):
            return Conflict(str(exc))
        log.error("state %s: %s: %s", self._where, what, exc, exc_info=exc)
        return StoreError(f"{what}: {exc}")

    def _rollback(self, conn: Any) -> bool:
        try:
            conn.rollback()
            return True
        except Exception:  # a broken connection is dropped, never reused
            return False

    # -- life cycle --------------------------------------------------------------------------

    def create_tables(self, ddl: Iterable[str]) -> None:
        with self.write() as tx:
            for statement in ddl:
                tx.run(self.dialect.ddl(statement))

    def close(self) -> None:
        if self.later is not None:
            self.later.close()
        self._closed = True
        with self._cache_lock:
            caches, self._caches = list(self._caches.values()), {}
        for item in caches:
            with contextlib.suppress(Exception):
                item.close()
        for pool in (self._pool, self._reads):  # one queue twice on SQLite: drained once
            while True:
                try:
                    conn = pool.get_nowait()
                except queue.Empty:
                    break
                with contextlib.suppress(Exception):
                    conn.close()
        self._driver.close()

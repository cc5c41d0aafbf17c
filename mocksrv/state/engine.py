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
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

log = logging.getLogger("mocksrv")
T = TypeVar("T")


class StoreError(Exception):
    """A state change could not be committed, or state could not be read (disk full, I/O
    error, database gone): the request fails with its API's server error and changes nothing."""


class StateError(Exception):
    """The state cannot be used at all (damaged, another format, unreachable): start-up stops."""


class Conflict(Exception):
    """Another transaction won a race on the same key: this one is rolled back and run again."""


class Tx(Protocol):
    """One open transaction (or read) on a SQL engine."""

    dialect: str

    def run(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None: ...

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...

    def lock(self, *key: str) -> None: ...


class Engine(Protocol):
    """Where state lives; `shared` engines are seen by every process that opens them."""

    kind: str  # "memory", "sqlite" or "postgresql"
    shared: bool

    def write(self) -> contextlib.AbstractContextManager[Tx]: ...

    def read(self) -> contextlib.AbstractContextManager[Tx]: ...

    def describe(self) -> str: ...

    def reachable(self) -> bool: ...

    def uncache(self, tenant: str) -> None: ...

    def cache(self, key: Any, make: Callable[[], T], keep: Callable[[T], bool] = ...) -> T: ...

    def close(self) -> None: ...


class MemoryEngine:
    """The embedded default: each store keeps its data in this process, under its own lock."""

    kind = "memory"
    shared = False

    def write(self) -> contextlib.AbstractContextManager[Tx]:
        raise RuntimeError("the memory engine has no transactions: its stores hold the data")

    read = write

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
ATTEMPTS = 8


def retried(engine: Engine, step: Callable[[Tx], T]) -> T:
    """`step(tx)` in a write transaction, run again (up to ATTEMPTS times) while it loses a race
    (`Conflict`: a key another transaction took first; PostgreSQL's serialization failures)."""
    for _ in range(ATTEMPTS):
        try:
            with engine.write() as tx:
                return step(tx)
        except Conflict:
            continue
    raise StoreError(f"gave up after {ATTEMPTS} conflicting attempts")


class Dialect:
    """What differs between SQLite and PostgreSQL, in one place."""

    def __init__(self, name: str) -> None:
        self.name = name
        pg = name == "postgresql"
        self.tokens = {
            "serial": "BIGSERIAL PRIMARY KEY" if pg else "INTEGER PRIMARY KEY",
            "blob": "BYTEA" if pg else "BLOB",
            "real": "DOUBLE PRECISION" if pg else "REAL",
            "bigint": "BIGINT" if pg else "INTEGER",
            "norowid": "" if pg else " WITHOUT ROWID",
            "skip_locked": " FOR UPDATE SKIP LOCKED" if pg else "",
            "for_update": " FOR UPDATE" if pg else "",
        }
        self._cache: dict[str, str] = {}

    def ddl(self, text: str) -> str:
        return text.format(**self.tokens)

    def sql(self, text: str) -> str:
        """`?` parameters and `{skip_locked}` as this dialect writes them (memoised)."""
        out = self._cache.get(text)
        if out is None:
            out = text.replace("{skip_locked}", self.tokens["skip_locked"])
            out = out.replace("{for_update}", self.tokens["for_update"])
            if self.name == "postgresql":
                out = out.replace("%", "%%").replace("?", "%s")
            if len(self._cache) < 4096:
                self._cache[text] = out
        return out


class SqlTx:
    """A transaction over one connection (DB-API cursor semantics, both drivers)."""

    __slots__ = ("_cur", "_dialect", "dialect", "_errors")

    def __init__(self, cursor: Any, dialect: Dialect, errors: tuple[type[Exception], ...]) -> None:
        self._cur = cursor
        self._dialect = dialect
        self.dialect = dialect.name
        self._errors = errors

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        self._cur.execute(self._dialect.sql(sql), params)
        return int(self._cur.rowcount)

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._cur.executemany(self._dialect.sql(sql), rows)

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        self._cur.execute(self._dialect.sql(sql), params)
        row = self._cur.fetchone()
        return tuple(row) if row is not None else None

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._cur.execute(self._dialect.sql(sql), params)
        return [tuple(r) for r in self._cur.fetchall()]

    def lock(self, *key: str) -> None:
        """Serialise transactions on `key` (a code's uses, a pool's claims): PostgreSQL takes a
        transaction-scoped advisory lock; SQLite's writes are serial already."""
        if self.dialect == "postgresql":
            import zlib

            text = "\x1f".join(key).encode()
            number = (zlib.crc32(text) << 31) ^ zlib.adler32(text)
            self._cur.execute("SELECT pg_advisory_xact_lock(%s)", (number - (1 << 62),))


class SqlEngine:
    """A SQL engine: a pool of connections, write transactions, reads, the schema."""

    shared = True

    def __init__(self, driver: Any, dialect: str, where: str) -> None:
        self.kind = dialect
        self.dialect = Dialect(dialect)
        self._driver = driver  # connect(), begin(conn), errors, the cross-process write lock
        self._where = where
        self._pool: queue.SimpleQueue[Any] = queue.SimpleQueue()
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

    def _take(self) -> Any:
        if self._closed:
            raise StoreError(f"the state {self._where} is closed")
        try:
            return self._pool.get_nowait()
        except queue.Empty:
            pass
        try:
            return self._driver.connect()
        except self._driver.errors as exc:
            raise StoreError(f"cannot reach the state {self._where}: {exc}") from None

    def _give(self, conn: Any, healthy: bool) -> None:
        if healthy and not self._closed:
            self._pool.put(conn)
            return
        with contextlib.suppress(Exception):
            conn.close()

    # -- transactions ------------------------------------------------------------------------

    @contextlib.contextmanager
    def write(self) -> Iterator[Tx]:
        """One write transaction; nested calls on the same thread join the outer one."""
        outer = getattr(self._local, "tx", None)
        if outer is not None:
            yield outer
            return
        with self._driver.write_lock():
            conn = self._take()
            healthy = True
            started = time.perf_counter()
            try:
                cur = conn.cursor()
                self._driver.begin(cur, True)
                tx = SqlTx(cur, self.dialect, self._driver.errors)
                self._local.tx = tx
                try:
                    yield tx
                except BaseException:
                    self._local.tx = None
                    healthy = self._rollback(conn)
                    raise
                self._local.tx = None
                try:
                    conn.commit()
                except self._driver.errors as exc:
                    healthy = self._rollback(conn)
                    raise self._failure(exc, "commit failed") from None
                self.commits.observe(time.perf_counter() - started)
            except self._driver.errors as exc:
                healthy = self._rollback(conn)
                raise self._failure(exc, "state operation failed") from None
            finally:
                self._local.tx = None
                self._give(conn, healthy)

    @contextlib.contextmanager
    def read(self) -> Iterator[Tx]:
        """A consistent read (inside a write on this thread: that transaction)."""
        outer = getattr(self._local, "tx", None)
        if outer is not None:
            yield outer
            return
        conn = self._take()
        healthy = True
        try:
            cur = conn.cursor()
            self._driver.begin(cur, False)
            yield SqlTx(cur, self.dialect, self._driver.errors)
            conn.commit()  # ends the read snapshot
        except self._driver.errors as exc:
            healthy = self._rollback(conn)
            raise StoreError(f"state read failed: {exc}") from None
        finally:
            self._give(conn, healthy)

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
        self._closed = True
        with self._cache_lock:
            caches, self._caches = list(self._caches.values()), {}
        for item in caches:
            with contextlib.suppress(Exception):
                item.close()
        while True:
            try:
                conn = self._pool.get_nowait()
            except queue.Empty:
                break
            with contextlib.suppress(Exception):
                conn.close()
        self._driver.close()

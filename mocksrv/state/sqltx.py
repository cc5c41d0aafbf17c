"""A SQL engine's transactions: the dialects' differences, a transaction's statements, and the
write and read blocks (`SqlEngine.write()`, `SqlEngine.read()`)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from mocksrv.state.errors import Busy, StoreError


class Signal(Protocol):
    """SQLite's control signal (`mocksrv.state.sqlite.ControlSignal`): two counters that every
    process on the machine reads without a query. A control change counts `begun` before its
    commit and makes `done` equal to it after (both under the write lock)."""

    def begin(self) -> None: ...

    def done(self) -> int: ...

    def begun(self) -> int: ...

    def settle(self) -> None: ...


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

    __slots__ = ("_cur", "_dialect", "dialect", "_errors", "_signal", "control", "_used")

    def __init__(
        self,
        cursor: Any,
        dialect: Dialect,
        errors: tuple[type[Exception], ...],
        signal: Signal | None = None,
    ) -> None:
        self._cur = cursor
        self._dialect = dialect
        self.dialect = dialect.name
        self._errors = errors
        self._signal = signal
        self.control = False  # this transaction changes the control row (`control_changed`)
        self._used = False  # a statement ran in it (`bookkeeping`)

    def control_changed(self) -> None:
        """This transaction changes what every process must follow (scenarios, clock, faults
        and expectations): the engine's signal (SQLite's) is told before the commit, and again
        after it (`WriteTx`)."""
        if self._signal is not None and not self.control:
            self._signal.begin()
        self.control = True

    def bookkeeping(self) -> None:
        """This transaction, begun by the caller, writes bookkeeping only (rate-limit tokens,
        journal rows), never a change a client is told about: on PostgreSQL its commit does not
        wait for the log to reach the disk, so the row locks it takes (a bucket's) are held for
        its statements, not for an fsync. A crash of the database server may lose its last
        moments; a crash of mocksrv loses nothing it committed. Inside a transaction that ran a
        statement already (a state change, or a step joined to one), nothing changes."""
        if self.dialect == "postgresql" and not self._used:
            self._cur.execute("SET LOCAL synchronous_commit TO OFF")

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        self._used = True
        self._cur.execute(self._dialect.sql(sql), params)
        return int(self._cur.rowcount)

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._used = True
        self._cur.executemany(self._dialect.sql(sql), rows)

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        self._used = True
        self._cur.execute(self._dialect.sql(sql), params)
        row = self._cur.fetchone()
        return tuple(row) if row is not None else None

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self._used = True
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


class WriteTx:
    """`SqlEngine.write()` (a class, not a generator: every request enters one or two)."""

    __slots__ = ("_engine", "_conn", "_tx", "_started", "_wait")

    def __init__(self, engine: Any, wait: bool = True) -> None:
        self._engine = engine
        self._tx: SqlTx | None = None
        self._wait = wait

    def __enter__(self) -> SqlTx:
        engine = self._engine
        outer = getattr(engine._local, "tx", None)
        if outer is not None:
            return outer  # joined: the outer block commits
        driver = engine._driver
        if not driver.acquire(self._wait):
            raise Busy("the write lock is taken")
        try:
            conn = engine._take()
        except BaseException:
            driver.release()
            raise
        self._conn, self._started = conn, time.perf_counter()
        try:
            cur = conn.cursor()
            driver.begin(cur, True)
        except driver.errors as exc:
            self._end(engine._rollback(conn), None)
            raise engine._failure(exc, "state operation failed") from None
        except BaseException:
            self._end(engine._rollback(conn), None)
            raise
        self._tx = engine._local.tx = SqlTx(cur, engine.dialect, driver.errors, engine.signal)
        return self._tx

    def __exit__(self, kind: Any, exc: Any, trace: Any) -> None:
        tx = self._tx
        if tx is None:
            return  # a joined block
        engine, conn = self._engine, self._conn
        engine._local.tx = None
        errors = engine._driver.errors
        if kind is not None:
            self._end(engine._rollback(conn), tx)
            if issubclass(kind, errors):
                raise engine._failure(exc, "state operation failed") from None
            return
        try:
            conn.commit()
        except errors as failed:
            self._end(engine._rollback(conn), tx)
            raise engine._failure(failed, "commit failed") from None
        except BaseException:
            self._end(engine._rollback(conn), tx)
            raise
        engine.commits.observe(time.perf_counter() - self._started)
        self._end(True, tx)

    def _end(self, healthy: bool, tx: SqlTx | None) -> None:
        """Give the connection back, say a control change is over, release the write lock."""
        engine = self._engine
        self._tx = None
        engine._local.tx = None
        try:
            engine._give(self._conn, healthy)
        finally:
            engine._driver.release(tx is not None and tx.control)


class ReadTx:
    """`SqlEngine.read()`."""

    __slots__ = ("_engine", "_conn", "_own")

    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self._own = False

    def __enter__(self) -> SqlTx:
        engine = self._engine
        outer = getattr(engine._local, "tx", None)
        if outer is not None:
            return outer
        self._conn = conn = engine._take(True)
        self._own = True
        try:
            cur = conn.cursor()
            engine._driver.begin(cur, False)
        except engine._driver.errors as exc:
            engine._give(conn, engine._rollback(conn), True)
            self._own = False
            raise StoreError(f"state read failed: {exc}") from None
        except BaseException:
            engine._give(conn, engine._rollback(conn), True)
            self._own = False
            raise
        return SqlTx(cur, engine.dialect, engine._driver.errors)

    def __exit__(self, kind: Any, exc: Any, trace: Any) -> None:
        if not self._own:
            return
        engine, conn = self._engine, self._conn
        errors = engine._driver.errors
        healthy = True
        try:
            if kind is None:
                conn.commit()  # ends the read snapshot
            else:
                healthy = engine._rollback(conn)
        except errors as failed:
            healthy = engine._rollback(conn)
            engine._give(conn, healthy, True)
            raise StoreError(f"state read failed: {failed}") from None
        if kind is not None and issubclass(kind, errors):
            engine._give(conn, healthy, True)
            raise StoreError(f"state read failed: {exc}") from None
        engine._give(conn, healthy, True)

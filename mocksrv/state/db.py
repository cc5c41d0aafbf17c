"""The durable state database (`serve --state PATH`): SQLite in WAL mode, one row per state item.

Every API's store writes through a `Sink`: `NullSink` (memory only, the default) or `ApiSink`,
which writes rows `(api, kind, key, value)` to SQLite. A write outside a batch is its own
transaction, committed before the store's method returns, so a request is acknowledged only once its
effects are on disk. `batch()` gathers a thread's writes into one transaction (a processed upload:
its codes, its report and its dequeueing together).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from mocksrv.histogram import Histogram

log = logging.getLogger("mocksrv")
SCHEMA_VERSION = "1"
Row = tuple[str, str, Any]  # kind, key, value (JSON-able)


class StateError(Exception):
    """The state file cannot be used (locked by another mocksrv, damaged, another version)."""


class StateDB:
    """One SQLite file per server (with `-wal`/`-shm` beside it, and `PATH.objects/` for S3 bytes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.objects = path.with_name(path.name + ".objects")
        self._lock = threading.RLock()
        self._local = threading.local()
        self.commits = Histogram()  # seconds per write transaction, BEGIN to COMMIT (metrics)
        self._lockfile = self._exclusive(path)
        try:
            self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._setup()
        except sqlite3.DatabaseError as exc:
            raise StateError(f"{path} is not a mocksrv state database: {exc}") from None
        self.objects.mkdir(mode=0o700, exist_ok=True)

    @staticmethod
    def _exclusive(path: Path) -> Any:
        """A lock held for the life of the server: two processes must not share one state."""
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path.with_name(path.name + ".lock"), "a+")  # noqa: SIM115 (held open)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise StateError(f"{path} is in use by another mocksrv process") from None
        return handle

    def _setup(self) -> None:
        c = self._conn
        c.execute("PRAGMA journal_mode=WAL")
        # NORMAL: a commit is in the WAL before the call returns, so a killed process loses
        # nothing it acknowledged; only a power loss can drop the newest commits.
        c.execute("PRAGMA synchronous=NORMAL")
        c.execute(
            "CREATE TABLE IF NOT EXISTS kv (api TEXT NOT NULL, kind TEXT NOT NULL, "
            "key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (api, kind, key)) WITHOUT ROWID"
        )
        c.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        found = self.meta("schema")
        if found is None:
            self.set_meta("schema", SCHEMA_VERSION)
        elif found != SCHEMA_VERSION:
            raise StateError(
                f"{self.path} has state format {found}, this mocksrv reads {SCHEMA_VERSION}"
            )

    # -- metadata -------------------------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._write([("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(key, value)])])

    def fingerprinted_apis(self) -> list[str]:
        """The APIs whose state this database holds (each has a fingerprint row)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT key FROM meta WHERE key LIKE 'fingerprint:%'"
            ).fetchall()
        return [r[0].split(":", 1)[1] for r in rows]

    # -- rows -----------------------------------------------------------------------------------

    def forget(self) -> None:
        """Drop every API's state (a reset): the next runtime built on it starts fresh."""
        with self.batch():
            for api in self.fingerprinted_apis():
                self.clear(api)
                self.set_meta(f"fingerprint:{api}", "")

    def rows(self, api: str) -> list[Row]:
        with self._lock:
            found = self._conn.execute(
                "SELECT kind, key, value FROM kv WHERE api=?", (api,)
            ).fetchall()
        # one parse for all values (100,000 cards: a tenth of the time of a parse per row)
        values = json.loads("[" + ",".join(v for _, _, v in found) + "]")
        return [(kind, key, value) for (kind, key, _), value in zip(found, values, strict=True)]

    def clear(self, api: str) -> None:
        self._write([("DELETE FROM kv WHERE api=?", [(api,)])])

    def put(self, api: str, kind: str, items: Iterable[tuple[str, Any]]) -> None:
        params = [(api, kind, k, json.dumps(v, separators=(",", ":"))) for k, v in items]
        self._write([("INSERT OR REPLACE INTO kv VALUES (?, ?, ?, ?)", params)])

    def delete(self, api: str, kind: str, key: str) -> None:
        self._write([("DELETE FROM kv WHERE api=? AND kind=? AND key=?", [(api, kind, key)])])

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """This thread's writes inside the block commit together at its end (nested: outermost)."""
        pending = getattr(self._local, "pending", None)
        if pending is not None:
            yield
            return
        self._local.pending = []
        try:
            yield
            statements = self._local.pending
        finally:
            self._local.pending = None
        if statements:
            self._write(statements)

    def _write(self, statements: list[tuple[str, list[tuple[Any, ...]]]]) -> None:
        pending = getattr(self._local, "pending", None)
        if pending is not None:
            pending.extend(statements)
            return
        with self._lock:
            c = self._conn
            started = time.perf_counter()
            c.execute("BEGIN IMMEDIATE")
            try:
                for sql, params in statements:
                    c.executemany(sql, params)
            except BaseException:
                c.execute("ROLLBACK")
                raise
            c.execute("COMMIT")
            self.commits.observe(time.perf_counter() - started)

    def reachable(self) -> bool:
        """The database answers a read (for /__admin/ready)."""
        try:
            with self._lock:
                self._conn.execute("SELECT count(*) FROM meta").fetchone()
        except sqlite3.Error:
            return False
        return True

    def close(self) -> None:
        with self._lock:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._conn.close()
        self._lockfile.close()

    # -- object files (S3 bytes) ----------------------------------------------------------------

    def object_path(self, name: str) -> Path:
        return self.objects / name

    def write_object(self, name: str, chunks: Iterable[bytes]) -> int:
        """Write an object's bytes to its file (fsync'd, renamed into place); returns the size."""
        tmp = self.objects / f".{name}.{threading.get_ident()}.tmp"
        size = 0
        with open(tmp, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
                size += len(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.objects / name)
        return size

    def prune_objects(self, keep: set[str]) -> None:
        """Remove object files no row refers to (replaced, deleted, or written by a batch that
        never committed)."""
        for path in self.objects.iterdir():
            if path.name not in keep:
                with contextlib.suppress(OSError):
                    path.unlink()

    def remove_object(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.objects / name).unlink()


class ApiSink:
    """One API's view of the state database."""

    durable = True

    def __init__(self, db: StateDB, api: str) -> None:
        self.db, self.api = db, api

    def put(self, kind: str, key: str, value: Any) -> None:
        self.db.put(self.api, kind, [(key, value)])

    def put_many(self, kind: str, items: Iterable[tuple[str, Any]]) -> None:
        self.db.put(self.api, kind, items)

    def delete(self, kind: str, key: str) -> None:
        self.db.delete(self.api, kind, key)

    def batch(self) -> contextlib.AbstractContextManager[None]:
        return self.db.batch()

    def write_blob(self, name: str, chunks: Iterable[bytes]) -> None:
        self.db.write_object(name, chunks)

    def read_blob(self, name: str) -> bytes | None:
        try:
            return self.db.object_path(name).read_bytes()
        except FileNotFoundError:
            return None

    def remove_blob(self, name: str) -> None:
        self.db.remove_object(name)


def open_db(path: str | os.PathLike[str]) -> StateDB:
    try:
        return StateDB(Path(path))
    except OSError as exc:
        raise StateError(f"cannot open the state {path}: {exc.strerror or exc}") from None

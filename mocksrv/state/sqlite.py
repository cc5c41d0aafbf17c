"""The SQLite engine (`--state FILE`): one machine, one process or many, in WAL mode.

- The file is opened by its resolved path, so a symbolic link reaches the same database, its
  WAL and its lock; a file with several hard links is refused (SQLite names the WAL after the
  name it is given, so two names of one file would write two WALs and corrupt it).
- The file, its WAL, its lock and a folder made for it are private to the user (0600, 0700).
- Writes from every process take one lock file first (`flock`), so a waiting writer sleeps in
  the kernel until the lock is free instead of SQLite's polling back-off; SQLite's own locking
  (`BEGIN IMMEDIATE`, `busy_timeout`) stays underneath.
- `synchronous=NORMAL` in WAL mode: a commit survives the process being killed at any point;
  only a power loss can drop the newest commits.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mocksrv.state.engine import SqlEngine, StateError

log = logging.getLogger("mocksrv")
BUSY_MS = 10_000


class SqliteDriver:
    errors: tuple[type[Exception], ...] = (sqlite3.Error,)

    def __init__(self, path: Path) -> None:
        self.path = path
        self._thread_lock = threading.Lock()
        self._lockfile = _private_open(path.with_name(path.name + ".lock"))

    def connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_MS / 1000
        )
        conn.execute(f"PRAGMA busy_timeout={BUSY_MS}")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def begin(self, cur: Any, write: bool) -> None:
        cur.execute("BEGIN IMMEDIATE" if write else "BEGIN")

    @contextlib.contextmanager
    def write_lock(self) -> Iterator[None]:
        with self._thread_lock:
            fcntl.flock(self._lockfile, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._lockfile, fcntl.LOCK_UN)

    def retryable(self, exc: Exception) -> bool:
        return False  # writes are serial: no transaction is ever asked to run again

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._lockfile)


def _private_open(path: Path) -> int:
    """Open (creating 0600) a file of the state and make it private if it was not."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    mode = os.fstat(fd).st_mode
    if mode & 0o077:
        os.fchmod(fd, 0o600)
        log.warning("state: %s was readable by others (mode %o); now 0600", path, mode & 0o777)
    return fd


def resolve(raw: str | os.PathLike[str]) -> Path:
    """The state file's real path, checked: not a directory, not hard-linked; its folder made
    (0700) when missing."""
    path = Path(raw).expanduser()
    try:
        path = path.resolve()
        missing = [p for p in [path.parent, *path.parent.parents] if not p.exists()]
        for folder in reversed(missing):  # each folder made for the state is private
            folder.mkdir(mode=0o700)
        st = os.stat(path) if path.exists() else None
    except (OSError, RuntimeError) as exc:  # a symlink loop, a parent that is a file, ...
        reason = getattr(exc, "strerror", None) or exc
        raise StateError(f"cannot use the state {raw}: {reason}") from None
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise StateError(f"the state {raw} is not a regular file")
    if st is not None and st.st_nlink > 1:
        raise StateError(
            f"the state {raw} has {st.st_nlink} hard links: SQLite keeps its log next to the "
            "name it is opened by, so two names would corrupt it; use one name (a symbolic "
            "link is fine)"
        )
    return path


def _private(side: Path) -> None:
    """`side` made private to the user if it exists. Another process's last connection may
    remove a WAL or shared-memory file at any moment (SQLite deletes them on a clean close):
    gone is fine, it is made again with the database's mode."""
    try:
        if os.stat(side).st_mode & 0o077:
            os.chmod(side, 0o600)
    except FileNotFoundError:
        pass


def open_sqlite(raw: str | os.PathLike[str]) -> SqlEngine:
    """The SQLite engine on the file `raw` (created if missing), in WAL mode, checked."""
    path = resolve(raw)
    os.close(_private_open(path))
    driver = SqliteDriver(path)
    engine = SqlEngine(driver, "sqlite", str(path))
    try:
        conn = driver.connect()
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                raise StateError(f"the state {raw} cannot use SQLite's WAL mode ({mode})")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
        for suffix in ("-wal", "-shm"):  # SQLite gives them the database's mode; make sure
            _private(path.with_name(path.name + suffix))
    except sqlite3.DatabaseError as exc:
        engine.close()
        raise StateError(f"the state {raw} is not a mocksrv state or is damaged: {exc}") from None
    except BaseException:
        engine.close()
        raise
    return engine

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
- Checkpoints (copying the WAL into the database, with its fsyncs) run on a thread of their own
  every CHECKPOINT_COMMITS commits, never inside a commit under the write lock, where one would
  stop every writer of every process for its fsyncs.
- The lock file also holds the control signal (`ControlSignal`): every process maps it and
  reads there, without a query, whether the control row changed since it last looked; and,
  from its second page, the rate-limit buckets (`mocksrv.state.rates`).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import mmap
import os
import sqlite3
import stat
import struct
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mocksrv.state.board import Board
from mocksrv.state.engine import SqlEngine, StateError
from mocksrv.state.rates import RateTable

log = logging.getLogger("mocksrv")
BUSY_MS = 10_000
CHECKPOINT_COMMITS = 256  # commits of a process between its checkpoints
WAL_PAGES = 10_000  # SQLite's own checkpoint at commit, only if the thread cannot keep up
SIGNAL_BYTES = 4096  # the lock file's size: one page mapped, the signal's counters at its start
_U64 = struct.Struct("<Q")


class SqliteDriver:
    errors: tuple[type[Exception], ...] = (sqlite3.Error,)

    def __init__(self, path: Path) -> None:
        self.path = path
        self._thread_lock = threading.Lock()
        self._lockfile = _private_open(path.with_name(path.name + ".lock"))
        self.signal = ControlSignal(self._lockfile, self.settle)
        self.board = Board(self.signal.page, self._lockfile, self.locked)
        self.rates = RateTable(self._lockfile)
        self._checkpoints: Checkpointer | None = None
        self._closed = False

    def connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_MS / 1000
        )
        conn.execute(f"PRAGMA busy_timeout={BUSY_MS}")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA temp_store=MEMORY")  # a statement's own journal: no temporary file
        conn.execute(f"PRAGMA wal_autocheckpoint={WAL_PAGES}")
        return conn

    def begin(self, cur: Any, write: bool) -> None:
        cur.execute("BEGIN IMMEDIATE" if write else "BEGIN")

    def acquire(self, wait: bool = True) -> bool:
        """The write lock: this process's threads, then every process's (`flock`); `wait=False`:
        only if both are free now (False: not taken)."""
        if not self._thread_lock.acquire(blocking=wait):
            return False
        try:
            fcntl.flock(self._lockfile, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._thread_lock.release()
            return False
        except BaseException:
            self._thread_lock.release()
            raise
        return True

    def release(self, control: bool = False) -> None:
        """After a commit or a rollback: a control change is over (`control`), the lock free;
        the WAL is due for a checkpoint."""
        try:
            if control:
                self.signal.end()
            fcntl.flock(self._lockfile, fcntl.LOCK_UN)
            if self._checkpoints is None and not self._closed:
                self._checkpoints = Checkpointer(self)
            if self._checkpoints is not None:
                self._checkpoints.committed()
        finally:
            self._thread_lock.release()

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """The write lock, held for a moment outside any transaction (the board's counters)."""
        with self._thread_lock:
            fcntl.flock(self._lockfile, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._lockfile, fcntl.LOCK_UN)

    def settle(self) -> None:
        """A control change began and never ended (its process was killed in between): if no
        writer holds the lock now, none is in flight, so the signal is made whole again."""
        if not self._thread_lock.acquire(blocking=False):
            return
        try:
            fcntl.flock(self._lockfile, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._thread_lock.release()
            return
        self.release(control=True)

    def retryable(self, exc: Exception) -> bool:
        return False  # writes are serial: no transaction is ever asked to run again

    def close(self) -> None:
        with self._thread_lock:
            self._closed = True
            checkpoints, self._checkpoints = self._checkpoints, None
        if checkpoints is not None:
            checkpoints.stop()
        self.signal.close()
        self.rates.close()
        with contextlib.suppress(OSError):
            os.close(self._lockfile)


class ControlSignal:
    """Two counters at the start of the lock file, mapped into every process that opened the
    state: `begun` counts control changes begun, `done` is made equal to it once one commits or
    rolls back (both under the write lock). A process whose last look saw `done` unchanged knows,
    from one read of memory, that no control change finished since; `begun` ahead of `done` says
    one is in flight, or that its process died mid-way (`settle`)."""

    def __init__(self, fd: int, settle: Any) -> None:
        if os.fstat(fd).st_size < SIGNAL_BYTES:  # growing it keeps what another process wrote
            os.ftruncate(fd, SIGNAL_BYTES)
        self._map = mmap.mmap(fd, SIGNAL_BYTES)
        self._settle = settle

    @property
    def page(self) -> mmap.mmap:
        """The whole mapped page (the deferred writes' board shares it: `mocksrv.state.later`)."""
        return self._map

    def done(self) -> int:
        """-1 once closed: never a value seen, so a reader asks the (closed) engine, which
        answers as an unreachable state does."""
        return int(_U64.unpack_from(self._map, 8)[0]) if not self._map.closed else -1

    def begun(self) -> int:
        return int(_U64.unpack_from(self._map, 0)[0]) if not self._map.closed else -1

    def begin(self) -> None:
        if not self._map.closed:
            _U64.pack_into(self._map, 0, self.begun() + 1)

    def end(self) -> None:
        if not self._map.closed:
            _U64.pack_into(self._map, 8, self.begun())

    def settle(self) -> None:
        if not self._map.closed:
            self._settle()

    def close(self) -> None:
        self._map.close()


class Checkpointer:
    """A thread that checkpoints the WAL (PASSIVE: it never waits for a reader or a writer)
    once this process made CHECKPOINT_COMMITS commits since the last one: about as often as
    SQLite's own checkpoint at 1,000 pages, whose copy and fsyncs then ran inside a commit,
    under the write lock. Started by the first commit."""

    def __init__(self, driver: SqliteDriver) -> None:
        self.commits = 0
        self._driver = driver
        self._due = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="mocksrv-checkpoint", daemon=True)
        self._thread.start()

    def committed(self) -> None:
        self.commits += 1  # under the write lock
        if self.commits >= CHECKPOINT_COMMITS:
            self.commits = 0
            self._due.set()

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while True:
                self._due.wait()
                self._due.clear()
                if self._stop:
                    return
                try:
                    conn = conn or self._driver.connect()
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:  # the next turn tries again
                    log.debug("state checkpoint: %s", exc)
        finally:
            if conn is not None:
                conn.close()

    def stop(self) -> None:
        self._stop = True
        self._due.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=10)


def _private_open(path: Path) -> int:
    """Open (creating 0600) a file of the state and make it private if it was not."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    mode = os.fstat(fd).st_mode
    if mode & 0o077:
        os.fchmod(fd, 0o600)
        log.warning("state: %s was readable by others (mode %o); now 0600", path, mode & 0o777)
    return fd


def _private(side: Path) -> None:
    """Make a side file of the database private if it is there: another process closing the
    last connection removes the WAL at any moment, so it may be gone between looking and
    changing it."""
    try:
        if side.stat().st_mode & 0o077:
            side.chmod(0o600)
    except FileNotFoundError:
        pass


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

"""Where the processes of a SQLite state meet: the lock file's first page, mapped by each.

One `asked` counter (the newest barrier, counted under the write lock) and a slot per process
(its pid, the last `asked` value its commit covered, whether it has bookkeeping queued); only a
slot's process writes it. The page also numbers the journal rows (`next_id`, under a byte-range
lock of its own), in the order their requests were answered (`mocksrv.state.later`).
"""

from __future__ import annotations

import fcntl
import logging
import mmap
import os
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

from mocksrv.state.errors import StoreError

log = logging.getLogger("mocksrv")
WAIT = 5.0  # seconds a barrier waits for another process before it goes on without it
_ASKED = 16  # byte offset of `asked` on the page (the control signal holds bytes 0-15)
_IDS = 24  # byte offset of the last journal row number given out
_SLOTS = 64  # byte offset of the first slot
_SLOT = struct.Struct("<QQQ")  # pid, flushed (the `asked` its last commit covered), pending
_U64 = struct.Struct("<Q")


class RangeLock:
    """A byte range of the lock file held exclusively: first among this process's threads, then
    among processes (`lockf`); a class, not a generator (it is on every request's path)."""

    __slots__ = ("_fd", "_start", "_length", "_threads")

    def __init__(self, fd: int, start: int, length: int = 8) -> None:
        self._fd, self._start, self._length = fd, start, length
        self._threads = threading.Lock()

    def __enter__(self) -> None:
        self._threads.acquire()
        try:
            fcntl.lockf(self._fd, fcntl.LOCK_EX, self._length, self._start)
        except BaseException:
            self._threads.release()
            raise

    def __exit__(self, *exc: Any) -> None:
        try:
            fcntl.lockf(self._fd, fcntl.LOCK_UN, self._length, self._start)
        finally:
            self._threads.release()


class Board:
    """The processes' meeting place on the lock file's page (see the module)."""

    def __init__(self, page: mmap.mmap, fd: int, locked: Callable[[], Any]) -> None:
        self._page = page
        self._locked = locked  # a context manager: the write lock of every process
        self._ids = RangeLock(fd, _IDS)  # the lock file's bytes at _IDS: to number a row
        self._slot = -1
        self._count = (len(page) - _SLOTS) // _SLOT.size
        self._flushed = 0  # this process's slot's `flushed` (only this process writes it)

    def next_id(self, floor: int = 0) -> int:
        """The next journal row number of the state (above `floor`, the largest one stored)."""
        with self._ids:
            value = max(int(_U64.unpack_from(self._page, _IDS)[0]), floor) + 1
            _U64.pack_into(self._page, _IDS, value)
        return value

    def join(self) -> None:
        """Take a slot: this process's own, a free one or a dead process's."""
        pid = os.getpid()
        with self._locked():
            best = -1
            for i in range(self._count):
                owner = self._read(i)[0]
                if owner == pid:
                    best = i
                    break
                if best < 0 and (owner == 0 or not _alive(owner)):
                    best = i
            if best < 0:
                raise StoreError(f"more than {self._count} processes on one state")
            self._slot = best
            self._flushed = self.asked()
            _SLOT.pack_into(self._page, _SLOTS + best * _SLOT.size, pid, self._flushed, 0)

    def leave(self) -> None:
        if self._slot >= 0 and not self._page.closed:
            _SLOT.pack_into(self._page, _SLOTS + self._slot * _SLOT.size, 0, 0, 0)
        self._slot = -1

    def asked(self) -> int:
        """The newest barrier's number (0 once the state is closed: nothing is asked then)."""
        return int(_U64.unpack_from(self._page, _ASKED)[0]) if not self._page.closed else 0

    def flushed(self) -> int:
        """The `asked` value this process's last commit covered."""
        return self._flushed if self._slot >= 0 and not self._page.closed else 0

    def ask(self) -> int:
        """A new barrier's number (counted under the write lock: no two barriers share one)."""
        with self._locked():
            value = self.asked() + 1
            _U64.pack_into(self._page, _ASKED, value)
        return value

    def mark(self, flushed: int | None, pending: bool) -> None:
        """This process's slot: what its last commit covered, and whether steps wait."""
        if self._slot < 0 or self._page.closed:
            return
        at = _SLOTS + self._slot * _SLOT.size
        if flushed is not None:
            self._flushed = flushed
        pid = _U64.unpack_from(self._page, at)[0]
        _SLOT.pack_into(self._page, at, pid, self._flushed, int(pending))

    def wait(self, number: int, timeout: float = WAIT) -> list[int]:
        """Until every other live process with steps queued committed them for barrier `number`;
        the pids still behind after `timeout` seconds (logged, then left behind)."""
        deadline = time.monotonic() + timeout
        while True:
            behind = [
                pid
                for i in range(self._count)
                if i != self._slot
                for pid, flushed, pending in (self._read(i),)
                if pid and pending and flushed < number and _alive(pid)
            ]
            if not behind or time.monotonic() > deadline:
                if behind:
                    log.warning("state: processes %s did not commit their journal rows in "
                                "%.0f s; reading without them", behind, timeout)  # fmt: skip
                return behind
            time.sleep(0.0005)

    def _read(self, i: int) -> tuple[int, int, int]:
        pid, flushed, pending = _SLOT.unpack_from(self._page, _SLOTS + i * _SLOT.size)
        return int(pid), int(flushed), int(pending)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process has that pid now: alive
    return True

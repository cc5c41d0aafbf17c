"""Group commit per turn of the HTTP server's event loop (SQLite).

The loop answers short calls itself (`MocksrvApp.inline`), one after another, so the group
commit of `mocksrv.state.batch` never saw two of them at once: each create, cancel or Prime use
answered there paid a transaction of its own (the write lock, BEGIN, COMMIT, the pages it
touched written to the WAL again). Here each such request runs as a greenlet (a coroutine on the
loop's own thread, switched without the GIL or the kernel: `greenlet`, as gevent and
SQLAlchemy use it). When its write step is due, the request parks: the step is queued and the
loop goes on with the turn's next request. At the turn's end (`end`) the loop runs every queued
step in one transaction, each in a savepoint of its own (`GroupCommit.execute`), and resumes
the requests in the order they parked; each then builds and sends its answer. So no answer
leaves before its transaction committed, a failed commit fails every step in it (each request
answers with its API's server error, as alone), and the write lock is held only while the
steps run, not while requests are parsed or answered.

A parked request holds no lock and no transaction (a step parks only outside one), and the
loop's requests share no thread-local state but the transaction, which is open only in `end`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from greenlet import getcurrent, greenlet

log = logging.getLogger("mocksrv")
IDLE = 256  # request greenlets a loop keeps for its next requests


class _Request(greenlet):
    """A request served on the loop: its write step may park it until the turn's end."""

    __slots__ = ()


class _Loop:
    """What a turn keeps per event loop (the HTTP and HTTPS servers each run one, on a thread of
    its own): its parked (request, job) pairs in the order they parked, and its request
    greenlets waiting for a request."""

    __slots__ = ("parked", "idle")

    def __init__(self) -> None:
        self.parked: list[tuple[Any, Any]] = []
        self.idle: list[Any] = []


class Turn:
    """The requests of one turn of the loop and their parked write steps (see the module)."""

    def __init__(self, execute: Callable[[list[Any]], None]) -> None:
        self._execute = execute  # runs the steps of jobs in one transaction (or a few)
        self._loops = threading.local()  # `loop`: this thread's `_Loop`

    def _loop(self) -> _Loop:
        loop: _Loop | None = getattr(self._loops, "loop", None)
        if loop is None:
            loop = self._loops.loop = _Loop()
        return loop

    def serve(self, fn: Callable[[Any], None], arg: Any) -> None:
        """`fn(arg)` as a request of this turn: returns when it is done or parked (on a request
        of the turn already, a pipelined one: as part of it). An idle request greenlet of this
        loop runs it (one made costs about six times a switch)."""
        if getcurrent().__class__ is _Request:
            fn(arg)
            return
        idle = self._loop().idle
        request = idle.pop() if idle else _Request(self._requests)
        _switch(request, fn, arg)

    def _requests(self, fn: Callable[[Any], None], arg: Any) -> None:
        """A request greenlet's life: a request, then idle in its loop's pool until the next."""
        current = getcurrent()
        idle = self._loop().idle
        while True:
            try:
                fn(arg)
            except Exception:  # the request's own errors are answered inside it
                log.exception("a request served on the loop failed")
            if len(idle) >= IDLE:
                return  # ends: back to the loop
            idle.append(current)
            fn, arg = current.parent.switch()

    def park(self, job: Any) -> bool:
        """On a request of this turn: queue `job` and wait for the turn's end (True, `job`
        done then). Anywhere else (a worker thread, the loop outside a request): False."""
        current = getcurrent()
        if current.__class__ is not _Request:
            return False
        self._loop().parked.append((current, job))
        current.parent.switch()
        return True

    def end(self) -> None:
        """The parked steps run, then their requests resume (a resumed request may park again:
        its next step runs in a further transaction)."""
        loop = self._loop()
        while loop.parked:
            parked, loop.parked = loop.parked, []
            try:
                self._execute([job for _, job in parked])
            except Exception:  # every job has its error: each request answers it
                log.exception("state: a turn's transaction failed")
            for request, _ in parked:
                _switch(request)


def _switch(request: Any, *args: Any) -> None:
    try:
        request.switch(*args)
    except Exception:  # the request's own errors are answered inside it; never stop the loop
        log.exception("a request served on the loop failed")

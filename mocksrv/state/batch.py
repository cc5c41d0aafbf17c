"""Group commit on SQLite: the short writes of a process's concurrent requests share transactions.

SQLite has one writer at a time, and a commit costs more than the statements it commits: each
transaction takes the cross-process lock and writes its pages to the WAL. So a request's short
write (a journal row, a token taken from a bucket, a create with its debit, a Prime use) is a
step, a function of the transaction, handed to `GroupCommit.run`. The first thread to arrive
leads: it runs every step waiting at that moment (its own among them) in one transaction,
commits, and wakes their threads with their results; a thread that arrived meanwhile leads the
next transaction. With one request at a time every transaction holds one step, as without this;
under load a transaction holds as many steps as requests came while the one before it ran.

The steps of a transaction run first without savepoints (two statements a step less, the usual
case); if one raises, the transaction is rolled back whole and run again with each step in a
savepoint of its own. The requests the event loop answers itself park their steps instead of
waiting as threads (`mocksrv.state.turn`); the loop runs them with `execute` at its turn's end.

Every guarantee of a transaction per change holds: a step's effects commit with it or not at
all (a step that raises is rolled back alone, to its savepoint), and no step's result is handed
back before its transaction committed; a failed commit fails every step in it (a step that saw
another step's uncommitted change must not report on it either).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from mocksrv.state.errors import Conflict, StoreError
from mocksrv.state.turn import Turn

T = TypeVar("T")
ATTEMPTS = 8  # runs of a step that loses a race (`Conflict`) before it gives up
MOST = 64  # steps per transaction: the leader's own request waits for all of them


class _Job:
    __slots__ = ("step", "done", "result", "error", "lead")

    def __init__(self, step: Callable[[Any], Any]) -> None:
        self.step = step
        # a follower's: released once its transaction ended, or to make it lead (a leader's
        # own job has none: nobody waits for it)
        self.done: Any = None
        self.result: Any = None
        self.error: BaseException | None = None
        self.lead = False

    def outcome(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.result


class GroupCommit:
    """Runs steps for a SQL engine's writers, many to a transaction (see the module)."""

    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self._mutex = threading.Lock()
        self._queue: list[_Job] = []
        self._leading = False
        self.turn: Turn | None = None  # the event loop's turn (`mocksrv.state.turn`)

    def run(self, step: Callable[[Any], T]) -> T:
        """`step(tx)` committed; its result, or what it raised."""
        engine = self._engine
        if getattr(engine._local, "tx", None) is not None:  # inside a transaction already
            return alone(engine, step)
        job = _Job(step)
        turn = self.turn
        if turn is not None and turn.park(job):  # a request on the loop: run at the turn's end
            return job.outcome()
        with self._mutex:
            self._queue.append(job)
            lead = not self._leading
            self._leading = True
            if not lead:
                job.done = threading.Lock()
                job.done.acquire()
        if not lead:
            job.done.acquire()  # done, or made the next leader
            if not job.lead:
                return job.outcome()
        self._lead()
        return job.outcome()

    def _lead(self) -> None:
        with self._mutex:
            batch, self._queue = self._queue[:MOST], self._queue[MOST:]
        try:
            self._execute(batch)
        finally:
            with self._mutex:
                successor = self._queue[0] if self._queue else None
                if successor is not None:
                    successor.lead = True
                else:
                    self._leading = False
            for job in batch:
                if job.done is not None:
                    job.done.release()
            if successor is not None:
                successor.done.release()

    def execute(self, jobs: list[_Job]) -> None:
        """The steps of `jobs` (parked by a turn of the event loop), MOST to a transaction."""
        for at in range(0, len(jobs), MOST):
            self._execute(jobs[at : at + MOST])

    def _execute(self, batch: list[_Job]) -> None:
        engine = self._engine
        if len(batch) == 1:
            job = batch[0]
            try:
                job.result = alone(engine, job.step)
            except BaseException as exc:
                job.error = exc
            return
        fatal = engine._driver.errors
        try:
            try:  # first without savepoints (two statements a step): the usual case
                with engine.write() as tx:
                    for job in batch:
                        _plain(tx, job, fatal)
            except _Raised:  # a step raised: rolled back whole, then each in a savepoint
                with engine.write() as tx:
                    for job in batch:
                        _step(tx, job, fatal)
        except (StoreError, Conflict) as exc:  # nothing of the batch was committed
            for job in batch:
                job.result, job.error = None, exc
        except BaseException as exc:
            for job in batch:
                job.result, job.error = None, exc
            raise


class _Raised(Exception):
    """A step of a transaction without savepoints raised: the transaction is rolled back."""


def _plain(tx: Any, job: _Job, fatal: tuple[type[Exception], ...]) -> None:
    """One job in the shared transaction, without a savepoint: if it raises anything (but a
    driver error, which ends the whole transaction), the transaction rolls back and runs again
    with a savepoint per step (`_step`)."""
    try:
        job.result = job.step(tx)
    except fatal:
        raise
    except Exception:
        raise _Raised from None


def _step(tx: Any, job: _Job, fatal: tuple[type[Exception], ...]) -> None:
    """One job in the shared transaction, alone in a savepoint: what it raises (but a driver
    error, which ends the whole transaction) rolls back its own effects only."""
    for _ in range(ATTEMPTS):
        tx.run("SAVEPOINT step")
        try:
            result = job.step(tx)
        except fatal:
            raise
        except Conflict:
            tx.run("ROLLBACK TO step")
            tx.run("RELEASE step")
            continue
        except Exception as exc:
            tx.run("ROLLBACK TO step")
            tx.run("RELEASE step")
            job.error = exc
            return
        tx.run("RELEASE step")
        job.result = result
        return
    job.error = StoreError(f"gave up after {ATTEMPTS} conflicting attempts")


def alone(engine: Any, step: Callable[[Any], T]) -> T:
    """`step` in a write transaction of its own (or the one open on this thread), run again
    while it loses a race (`Conflict`)."""
    for _ in range(ATTEMPTS):
        try:
            with engine.write() as tx:
                return step(tx)
        except Conflict:
            continue
    raise StoreError(f"gave up after {ATTEMPTS} conflicting attempts")

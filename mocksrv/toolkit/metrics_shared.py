"""Request metrics of every process of a run on one shared state (`--workers N`).

Each process counts its own requests in memory (`metrics.Metrics`: a request costs what it costs
in one process) and keeps a copy of its counts of each tenant in the state: a row per run,
process and tenant. A metrics read (`GET /__admin/metrics`, the dashboard's chart) adds the
other processes' rows of the run to its own counts, so a scrape that any worker answers counts
every worker's requests, and the sum never goes down: a worker that dies leaves its last row,
and the one started in its place counts from zero beside it.

When the copy is written: on SQLite with the journal rows' bookkeeping (`later.linger`), within
a second, and before every admin read, metrics included (the barrier: a read counts every request
answered before it); on PostgreSQL by a thread of each process, every EVERY seconds while its
counts change (a read may miss another process's last second). A run is the server started
once: the rows of a run that ended are not counted again by the next one, and are deleted after
KEEP seconds.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any

from mocksrv.state.engine import Conflict, Engine, StoreError
from mocksrv.state.later import HOLD
from mocksrv.toolkit.metrics import Metrics

if TYPE_CHECKING:
    from mocksrv.call import Call

RUN = f"{os.getpid()}.{time.time_ns()}"  # loaded before `--workers` forks: its workers share it
KEEP = 7 * 86400  # seconds the rows of an ended run are kept
EVERY = 1.0  # seconds between a process's writes of its counts on PostgreSQL
TABLES = (
    "CREATE TABLE IF NOT EXISTS metric_parts (run TEXT NOT NULL, proc TEXT NOT NULL, "
    "tenant TEXT NOT NULL, updated {bigint} NOT NULL, data TEXT NOT NULL, "
    "PRIMARY KEY (run, proc, tenant))",
)
_UPSERT = (
    "INSERT INTO metric_parts VALUES (?, ?, ?, ?, ?) ON CONFLICT (run, proc, tenant) "
    "DO UPDATE SET updated=excluded.updated, data=excluded.data"
)
_PROC = ["", -1]  # this process's name among the run's rows, and the pid it was made for
_SWEPT = [-1]  # the process that deleted the ended runs' rows
log = logging.getLogger("mocksrv")


def proc() -> str:
    """This process's name in the run's rows: its pid and when it first wrote (pids recur)."""
    if _PROC[1] != os.getpid():
        _PROC[:] = [f"{os.getpid()}.{time.time_ns()}", os.getpid()]
    return str(_PROC[0])


class SharedMetrics(Metrics):
    """A tenant's metrics on a shared state (see the module)."""

    def __init__(self, engine: Engine, tenant: str) -> None:
        super().__init__()
        self.engine = engine
        self.tenant = tenant
        self._due = False  # handed to a write that has not run since

    def record(self, call: Call) -> None:
        super().record(call)
        if self._due:
            return
        self._due = True
        later = self.engine.later
        if later is not None:  # written within a second, or by a barrier
            later.linger(write, ("metrics", self.tenant), self, HOLD)
        else:
            _TICKER.add(self)

    def others(self) -> list[dict[str, Any]]:
        """The other processes' counts of this tenant in this run (every process's requests
        answered before this read are in them, on SQLite)."""
        with contextlib.suppress(StoreError, Conflict):
            self.engine.settle()  # a probe: the app does not ask for the barrier itself
        with self.engine.read() as tx:
            rows = tx.all(
                "SELECT data FROM metric_parts WHERE run=? AND tenant=? AND proc<>?",
                (RUN, self.tenant, proc()),
            )
        return [json.loads(data) for (data,) in rows]


def write(tx: Any, items: list[tuple[Any, SharedMetrics]]) -> None:
    """The counts of `items` into their rows (in the caller's transaction); a process's first
    write also deletes the rows of runs that ended KEEP seconds ago."""
    now = int(time.time())
    if _SWEPT[0] != os.getpid():
        _SWEPT[0] = os.getpid()
        tx.run("DELETE FROM metric_parts WHERE run<>? AND updated<?", (RUN, now - KEEP))
    for _, metrics in items:
        metrics._due = False  # before the snapshot: a request counted after it is written again
        data = json.dumps(metrics.snapshot(), separators=(",", ":"))
        tx.run(_UPSERT, (RUN, proc(), metrics.tenant, now, data))


class _Ticker:
    """PostgreSQL's writer: one thread per process writes the counts handed to it every EVERY
    seconds."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._due: dict[int, SharedMetrics] = {}
        self._pid = -1

    def add(self, metrics: SharedMetrics) -> None:
        with self._lock:
            self._due[id(metrics)] = metrics
            if self._pid != os.getpid():
                self._pid = os.getpid()
                threading.Thread(target=self._loop, name="mocksrv-metrics", daemon=True).start()

    def _loop(self) -> None:
        while True:
            time.sleep(EVERY)
            with self._lock:
                due, self._due = list(self._due.values()), {}
            by_engine: dict[int, list[tuple[Any, SharedMetrics]]] = {}
            for metrics in due:
                by_engine.setdefault(id(metrics.engine), []).append((None, metrics))
            for items in by_engine.values():
                try:
                    with items[0][1].engine.write() as tx:
                        tx.bookkeeping()  # no answer waits for it: no wait for the disk
                        write(tx, items)
                except Exception as exc:  # never let the thread die; the next request hands over
                    log.error("state: the metrics of this process not kept: %s", exc)
                    for _, metrics in items:
                        metrics._due = False


_TICKER = _Ticker()

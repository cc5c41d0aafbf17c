"""Request metrics for `GET /__admin/metrics` (Prometheus text) and the dashboard's traffic chart.

Counts live for the whole process: a reset or a scenario switch hands them to the new runtime
(`adopt`), so counters only ever rise. A request costs one lock and a few increments. On a shared
state each process's counts are also kept in the state, and a read adds up those of every process
of the run (`mocksrv.toolkit.metrics_shared`).
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections import deque
from typing import TYPE_CHECKING, Any

from mocksrv import __version__
from mocksrv.histogram import BOUNDS
from mocksrv.toolkit.journal import FAULT_KEY

if TYPE_CHECKING:
    from mocksrv.call import Call
    from mocksrv.runtime import Runtime
    from mocksrv.toolkit.plugin import Toolkit

MAX_SERIES = 2000  # distinct (api, operation, outcome, status); more are counted as "other"
STEP = 5  # seconds per point of the traffic chart
POINTS = 120  # points kept: the last ten minutes
_NBUCKETS = len(BOUNDS) + 1
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


_EPOCH = time.time() - time.perf_counter()  # perf_counter + _EPOCH: wall-clock seconds


class _Counts:
    """What every runtime of an app shares (see `Metrics.adopt`)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        # (api, operation, outcome, status) -> [count, latency sum, count per bucket...]
        self.series: dict[tuple[str, str, str, int], list[Any]] = {}
        self.faults: dict[tuple[str, str], int] = {}
        # the chart: at the first request of each STEP, the totals per API so far, newest last
        self.marks: deque[tuple[int, dict[str, tuple[int, float]]]] = deque(maxlen=POINTS + 1)
        self.step_ends = 0.0  # perf_counter time at which the current step ends

    def totals(self) -> dict[str, tuple[int, float]]:
        """Requests and latency sum per API so far (under the lock)."""
        out: dict[str, tuple[int, float]] = {}
        for (api, *_), row in self.series.items():
            n, total = out.get(api, (0, 0.0))
            out[api] = (n + row[0], total + row[1])
        return out


class Metrics:
    """The recorder (`record`, one per runtime) over the app's shared counts."""

    def __init__(self) -> None:
        self.counts = _Counts()

    def adopt(self, other: Metrics) -> None:
        """Count on in `other`'s counts (the runtime this one replaces)."""
        self.counts = other.counts

    def record(self, call: Call) -> None:
        now = time.perf_counter()
        latency = now - call.started
        key = (call.api, call.operation, call.outcome, call.status)
        c = self.counts
        with c.lock:
            if now >= c.step_ends:  # the first request of a step: where the chart's step begins
                slot = int((now + _EPOCH) // STEP)
                c.step_ends = (slot + 1) * STEP - _EPOCH
                c.marks.append((slot, c.totals()))
            row = c.series.get(key)
            if row is None:
                row = c.series[key] = _new_row(c.series, key)
            row[0] += 1
            row[1] += latency
            row[2 + bisect_left(BOUNDS, latency)] += 1
        fault = call.environ.get(FAULT_KEY)
        if fault is not None:
            with c.lock:
                c.faults[(call.api, fault)] = c.faults.get((call.api, fault), 0) + 1

    def others(self) -> list[dict[str, Any]]:
        """The snapshots (`snapshot`) of the other processes counting for the same tenant:
        none here (one process); a shared state's metrics read them from the state."""
        return []

    def snapshot(self) -> dict[str, Any]:
        """This process's counts as plain data: what another process adds to its own (`render`,
        `traffic`)."""
        c = self.counts
        with c.lock:
            return {
                "series": [[*key, *row] for key, row in c.series.items()],
                "faults": [[*key, n] for key, n in c.faults.items()],
                "marks": [[slot, totals] for slot, totals in c.marks],
                "totals": c.totals(),
            }

    def traffic(self) -> dict[str, Any]:
        """Requests per second and mean latency per API for each STEP of the last POINTS, of
        this process and the others (`others`) added up."""
        c = self.counts
        last = int((time.perf_counter() + _EPOCH) // STEP)
        with c.lock:
            marks = [*c.marks, (last + 1, c.totals())]
        steps = _steps(marks)
        for part in self.others():
            found = [(slot, _pairs(t)) for slot, t in part["marks"]]
            for slot, step in _steps([*found, (last + 1, _pairs(part["totals"]))]).items():
                into = steps.setdefault(slot, {})
                for api, (n, total) in step.items():
                    had = into.get(api, (0, 0.0))
                    into[api] = (had[0] + n, had[1] + total)
        slots = range(last - POINTS + 1, last + 1)
        apis = sorted({api for step in steps.values() for api, (n, _) in step.items() if n})
        series = {}
        for api in apis:
            points = [steps.get(s, {}).get(api, (0, 0.0)) for s in slots]
            series[api or "none"] = {
                "requestsPerSecond": [round(n / STEP, 3) for n, _ in points],
                "meanLatencyMs": [round(t / n * 1000, 3) if n else None for n, t in points],
            }
        return {"stepSeconds": STEP, "end": (last + 1) * STEP, "points": POINTS, "apis": series}


def _steps(
    marks: list[tuple[int, dict[str, tuple[int, float]]]],
) -> dict[int, dict[str, tuple[int, float]]]:
    """Requests and latency sum per API of each step that has a mark. Requests between two marks
    belong to the step of the first (no request started a step in between), so each step's
    count is the difference of the totals at its mark and at the next one (the last: now)."""
    steps: dict[int, dict[str, tuple[int, float]]] = {}
    for (slot, before), (_, after) in zip(marks, marks[1:], strict=False):
        steps[slot] = {
            api: (n - before.get(api, (0, 0.0))[0], total - before.get(api, (0, 0.0))[1])
            for api, (n, total) in after.items()
        }
    return steps


def _pairs(totals: dict[str, Any]) -> dict[str, tuple[int, float]]:
    """Totals per API read back from a snapshot's JSON (lists) as tuples."""
    return {api: (int(v[0]), float(v[1])) for api, v in totals.items()}


def _new_row(series: dict[Any, Any], key: tuple[str, str, str, int]) -> list[Any]:
    if len(series) >= MAX_SERIES:  # a bound on memory whatever outcomes clients provoke
        other = (key[0], "other", "other", key[3])
        return series.setdefault(other, [0, 0.0] + [0] * _NBUCKETS)
    return [0, 0.0] + [0] * _NBUCKETS


# --- the Prometheus text format ----------------------------------------------------------------
def _label(value: Any) -> str:
    text = str(value)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels: Any) -> str:
    return "{" + ",".join(f'{k}="{_label(v)}"' for k, v in labels.items()) + "}"


def _family(out: list[str], name: str, kind: str, text: str) -> None:
    out.append(f"# HELP {name} {text}")
    out.append(f"# TYPE {name} {kind}")


_LE = (*(repr(float(b)) for b in BOUNDS), "+Inf")


def _histogram(
    out: list[str], name: str, labels: dict[str, Any], counts: list[int], total: float
) -> None:
    running = 0
    for le, n in zip(_LE, counts, strict=True):
        running += n
        out.append(f"{name}_bucket{_labels(**labels, le=le)} {running}")
    out.append(f"{name}_sum{_labels(**labels)} {total!r}")
    out.append(f"{name}_count{_labels(**labels)} {running}")


def render(metrics: Metrics, runtime: Runtime, kit: Toolkit, started: float) -> str:
    """Every metric, in the Prometheus text exposition format 0.0.4."""
    c = metrics.counts
    with c.lock:
        series = {k: list(v) for k, v in c.series.items()}
        faults = dict(c.faults)
    for part in metrics.others():  # the other processes' counts (a shared state)
        for api, op, outcome, status, *row in part["series"]:
            into = series.setdefault((api, op, outcome, int(status)), [0, 0.0] + [0] * _NBUCKETS)
            for i, n in enumerate(row):
                into[i] += n
        for api, fault, n in part["faults"]:
            faults[(api, fault)] = faults.get((api, fault), 0) + int(n)
    out: list[str] = []
    _family(out, "mocksrv_info", "gauge", "This mocksrv's version.")
    out.append(f"mocksrv_info{_labels(version=__version__)} 1")
    _family(out, "mocksrv_uptime_seconds", "gauge", "Seconds since the process started.")
    out.append(f"mocksrv_uptime_seconds {round(time.time() - started, 3)!r}")
    _requests(out, series)
    _family(out, "mocksrv_faults_fired_total", "counter", "Faults applied, by API and fault.")
    for (api, fault), n in sorted(faults.items()):
        out.append(f"mocksrv_faults_fired_total{_labels(api=api, fault=fault)} {n}")
    report = kit.expectations.verify()
    _family(out, "mocksrv_expectations", "gauge", "Expectations of the runtime, met and unmet.")
    unmet = len(report["unmet"])
    out.append(f'mocksrv_expectations{{state="met"}} {report["total"] - unmet}')
    out.append(f'mocksrv_expectations{{state="unmet"}} {unmet}')
    stats = kit.journal.stats()
    _family(out, "mocksrv_journal_entries", "gauge", "Requests the journal holds.")
    out.append(f"mocksrv_journal_entries {stats['size']}")
    _family(out, "mocksrv_journal_bytes", "gauge", "Bytes the journal's entries hold, roughly.")
    out.append(f"mocksrv_journal_bytes {stats['bytes']}")
    _family(out, "mocksrv_journal_capacity", "gauge", "Entries the journal keeps at most.")
    out.append(f"mocksrv_journal_capacity {stats['capacity']}")
    state = runtime.engine
    if state.shared:
        name = "mocksrv_state_commit_duration_seconds"
        _family(out, name, "histogram", "State database write transactions, BEGIN to COMMIT.")
        counts, total = state.commits.read()  # type: ignore[attr-defined]
        _histogram(out, name, {}, counts, total)
    return "\n".join(out) + "\n"


def _requests(out: list[str], series: dict[tuple[str, str, str, int], list[Any]]) -> None:
    _family(
        out, "mocksrv_requests_total", "counter",
        "Requests to the emulated APIs, by API, operation, outcome and HTTP status.",
    )  # fmt: skip
    by_op: dict[tuple[str, str], list[Any]] = {}
    for (api, op, outcome, status), row in sorted(series.items(), key=str):
        labels = _labels(api=api, operation=op, outcome=outcome, status=status)
        out.append(f"mocksrv_requests_total{labels} {row[0]}")
        agg = by_op.setdefault((api, op), [0.0] + [0] * _NBUCKETS)
        agg[0] += row[1]
        for i, n in enumerate(row[2:], 1):
            agg[i] += n
    name = "mocksrv_request_duration_seconds"
    _family(out, name, "histogram", "Time from receipt to the answer, by API and operation.")
    for (api, op), agg in sorted(by_op.items()):
        _histogram(out, name, {"api": api, "operation": op}, agg[1:], agg[0])

"""The benchmark of issue 6 in one run: mocksrv vs WireMock vs bare moto; table + results file.

Usage: bench/run.sh [options]   (or: python bench/run.py [options]; see docs/benchmark.md)
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import http_bench  # noqa: E402
import instructions  # noqa: E402
import mixed  # noqa: E402
import report  # noqa: E402
import s3_bench  # noqa: E402
import scale_bench  # noqa: E402
import soak  # noqa: E402
import state_bench  # noqa: E402
import tenants_bench  # noqa: E402
from load import LOADGEN, have_wrk  # noqa: E402
from peers import wiremock_jar  # noqa: E402
from procs import BENCH, LOGS, ROOT, all_cores, pin_self, stop_all  # noqa: E402

# instructions and observability last: they run valgrind on both cores, after every timed section
SECTIONS = (
    "startup", "http", "s3", "promo", "mixed", "soak", "state", "scale", "tenants",
    "instructions",
    "observability",
)  # fmt: skip
NOISE = (
    "Measured on a shared 2-core machine: server pinned to CPU 0, load generator to CPU 1 "
    "(taskset). Other work on the machine adds noise; compare ratios from the same run only."
)


def _interpreter() -> str:
    """The interpreter, named without the machine's folders (results files are committed)."""
    exe = Path(sys.executable)
    try:
        return str(exe.relative_to(ROOT))
    except ValueError:
        return exe.name


def _baseline(tree: Path) -> str:
    """The baseline tree by its commit, not its folder on this machine."""
    found = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
                           capture_output=True, text=True)  # fmt: skip
    head = found.stdout.strip()
    return f"a checkout of {head}" if found.returncode == 0 and head else "another source tree"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=10, help="length of each load run (10)")
    p.add_argument("--warmup", type=float, default=10, help="warm-up before each load run (10)")
    p.add_argument("--startup-runs", type=int, default=5, help="launches per server (5)")
    p.add_argument("--promo-codes", type=int, default=1_000_000, help="codes in the promo file")
    p.add_argument("--mixed-threads", type=int, default=16)
    p.add_argument("--mixed-ops", type=int, default=250, help="operations per mixed client")
    p.add_argument("--state-cards", type=int, default=1_000_000,
                   help="cards in the SQLite state of the start-up row (1000000)")  # fmt: skip
    p.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto",
                   help="load generator: wrk if installed (auto), or the threaded Python one")  # fmt: skip
    p.add_argument("--soak-seconds", type=float, default=180,
                   help="mixed load under 1,000 idle + 200 slowloris connections (180)")  # fmt: skip
    p.add_argument("--baseline", type=Path, default=None,
                   help="another mocksrv source tree (e.g. a checkout of main) measured in the http section")  # fmt: skip
    p.add_argument("--instructions-count", type=int, default=1000,
                   help="requests counted per kind in the instructions and observability sections (1000)")  # fmt: skip
    p.add_argument("--tenants", type=int, default=tenants_bench.TENANTS,
                   help="tenants created, measured and deleted in the tenants section (100)")  # fmt: skip
    p.add_argument("--only", default="", help=f"comma list of sections: {','.join(SECTIONS)}")
    p.add_argument("--note", action="append", default=[], help="extra note for the results file")
    p.add_argument("--out", type=Path, default=BENCH / "results", help="results directory")
    return p.parse_args(argv)


def _version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return "unavailable"
    return ((out.stdout or out.stderr).strip().splitlines() or ["?"])[0]


def meta(args: argparse.Namespace, stem: str) -> dict[str, Any]:
    import moto

    import mocksrv

    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((ln.split(":", 1)[1].strip() for ln in cpuinfo if ln.startswith("model name")), "?")
    commit = _version(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--", "mocksrv"],
        capture_output=True, text=True, timeout=20,
    ).stdout.count("\n")  # fmt: skip
    if dirty:
        commit += f" (+{dirty} uncommitted files under mocksrv/)"
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), "stem": stem,
        "notes": [NOISE, *args.note],
        "commit": commit, "cpu": f"{cpu} x {os.cpu_count()}",
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": f"{platform.python_version()} ({_interpreter()})",
        "mocksrv": mocksrv.__version__, "moto": moto.__version__,
        "java": _version(["java", "-version"]),
        "wiremock": wiremock_jar().name,
        "baseline": _baseline(args.baseline) if args.baseline else "none",
        "load generator": _version(["wrk", "--version"]) if have_wrk() else "python fallback",
        "server environment": "PYTHONDONTWRITEBYTECODE removed, PYTHONPYCACHEPREFIX=bench/.cache/pycache"
        + (" (the caller had PYTHONDONTWRITEBYTECODE set)" if os.environ.get("PYTHONDONTWRITEBYTECODE") else ""),
        "runs": f"{args.seconds:g} s per load run after {args.warmup:g} s warm-up, 16 connections; "
        f"start-up median of {args.startup_runs}",
    }  # fmt: skip


def _instructions(baseline: Path | None, count: int) -> dict[str, Any]:
    """CPU instructions per request, this tree / the --baseline tree (bench/instructions.py):
    deterministic to about 0.5 %, where the wall-clock rows against the baseline are not.
    Without --baseline there is nothing to compare, and no row."""
    if baseline is None:
        return {}
    if shutil.which("valgrind") is None:
        return {"skipped": "valgrind is not installed (apt-get install valgrind)"}
    with all_cores():
        per = instructions.compare(baseline, list(instructions.KINDS), count)
    return {"count": count, "per_request": per}


def _observability(count: int) -> dict[str, Any]:
    """CPU instructions per verify with the request log at info against warning, and with the
    metrics against none (bench/instructions.py --observability): this tree only."""
    if shutil.which("valgrind") is None:
        return {"skipped": "valgrind is not installed (apt-get install valgrind)"}
    with all_cores():
        per = instructions.observability(count)
    return {
        "count": count,
        "per_request": {k: {"on": on, "off": off} for k, (on, off) in per.items()},
    }


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    only = [s for s in args.only.split(",") if s] or list(SECTIONS)
    unknown = set(only) - set(SECTIONS)
    if unknown:
        print(f"unknown sections: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    LOADGEN["name"] = args.loadgen
    if args.baseline is not None:
        os.environ["MOCKSRV_BENCH_BASELINE"] = str(args.baseline.resolve())
    if args.loadgen == "wrk" and not have_wrk():
        print("--loadgen wrk: wrk is not installed", file=sys.stderr)
        return 2
    pin_self()
    shutil.rmtree(LOGS, ignore_errors=True)
    signal.signal(signal.SIGTERM, _interrupt)  # so the finally blocks kill every server
    stem = datetime.now(UTC).strftime("%Y-%m-%dT%H%MZ")
    tmp = Path(tempfile.mkdtemp(prefix="mocksrv-bench-"))
    opts = http_bench.Opts(args.seconds, args.warmup, args.startup_runs, tmp)
    steps: dict[str, Callable[[], Any]] = {
        "startup": lambda: http_bench.startup(opts),
        "http": lambda: http_bench.throughput(opts),
        "s3": lambda: s3_bench.s3_put_get(opts),
        "promo": lambda: s3_bench.promo_million(opts, args.promo_codes),
        "mixed": lambda: mixed.correctness(args.mixed_threads, args.mixed_ops),
        "state": lambda: state_bench.state_rows(opts, args.state_cards),
        "scale": lambda: scale_bench.scale(opts),
        "soak": lambda: soak.soak(args.soak_seconds),
        "tenants": lambda: tenants_bench.tenant_rows(args.tenants, args.instructions_count),
        "instructions": lambda: _instructions(args.baseline, args.instructions_count),
        "observability": lambda: _observability(args.instructions_count),
    }
    results: dict[str, Any] = {"meta": meta(args, stem)}
    t0 = time.perf_counter()
    try:
        for name in only:
            print(f"[{time.perf_counter() - t0:6.1f} s] {name} ...", flush=True)
            try:
                results[name] = steps[name]()
            except Exception as exc:
                traceback.print_exc()
                results[name] = {"error": f"{type(exc).__name__}: {exc}"}
            finally:
                stop_all()
    finally:
        stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    results["meta"]["load average at end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    results["meta"]["bench wall time"] = f"{time.perf_counter() - t0:.0f} s"
    table = report.rows(results)
    print()
    print(report.console(table))
    path = report.save(results, table, args.out, stem)
    print(f"\nsaved {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

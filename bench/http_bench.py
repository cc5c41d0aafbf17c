"""Start-up, idle RSS, and verify GET / CreateGiftCard POST under wrk: mocksrv beside WireMock."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sign
from load import run_load
from peers import baseline_dir, launch
from procs import free_port

PEERS = ("mocksrv", "wiremock", "wiremock-nojournal")
STARTUP_PEERS = ("mocksrv-default", "wiremock")  # `mocksrv serve --port P`, as a user starts it
SETTLE = 2.0  # seconds idle before reading "idle" RSS


@dataclass
class Opts:
    seconds: float
    warmup: float
    startup_runs: int
    tmp: Path


def startup(opts: Opts) -> dict[str, Any]:
    """Launch each server `startup_runs` times (alternating); median time to the first 200.
    One untimed launch each first fills the OS file cache and Python's bytecode cache."""
    for name in STARTUP_PEERS:
        launch(name, free_port())[0].stop()
    times: dict[str, list[float]] = {p: [] for p in STARTUP_PEERS}
    rss: dict[str, list[float]] = {p: [] for p in STARTUP_PEERS}
    for _ in range(opts.startup_runs):
        for name in STARTUP_PEERS:
            server, seconds = launch(name, free_port())
            try:
                times[name].append(seconds * 1000)
                time.sleep(SETTLE)
                rss[name].append(server.rss_mib())
            finally:
                server.stop()
    return {
        name.removesuffix("-default"): {
            "command": "mocksrv serve --port P" if name == "mocksrv-default" else "java -jar ...",
            "startup_ms": round(statistics.median(times[name]), 1),
            "startup_ms_runs": [round(t, 1) for t in times[name]],
            "idle_rss_mib": round(statistics.median(rss[name]), 1),
            "idle_rss_mib_runs": [round(r, 1) for r in rss[name]],
        }
        for name in STARTUP_PEERS
    }


def create_count(seconds: float) -> int:
    """Distinct pre-signed CreateGiftCard requests: more than a fast server sends in `seconds`."""
    return max(5_000, int(4_000 * seconds))


def throughput(opts: Opts) -> dict[str, Any]:
    """verify and CreateGiftCard at 16 connections on each server, fresh process each. The
    baseline mocksrv (--baseline) reuses mocksrv's port, so the same signed requests fit it."""
    out: dict[str, Any] = {}
    files: dict[str, Path] = {}
    peers = list(PEERS)
    if baseline_dir() is not None:
        peers.insert(1, "mocksrv-baseline")
    mocksrv_port = free_port()
    for name in peers:
        port = mocksrv_port if name.startswith("mocksrv") else free_port()
        server, started = launch(name, port)
        try:
            if name == "mocksrv":  # signed for mocksrv's host:port; WireMock ignores auth
                files = _sign_files(port, opts)
            res: dict[str, Any] = {"startup_ms_bench_scenario": round(started * 1000, 1)}
            run_load(port, files["verify"], opts.warmup)
            res["verify"] = run_load(port, files["verify"], opts.seconds).as_dict()
            server.check_alive("the verify run")
            run_load(port, files["create_warm"], opts.warmup)
            create = run_load(port, files["create"], opts.seconds)
            server.check_alive("the CreateGiftCard run")
            res["create"] = create.as_dict()
            res["create"]["distinct_ids"] = files["create_count"]
            res["create"]["ids_reused"] = create.requests > int(files["create_count"])
            time.sleep(SETTLE)
            res["rss_after_load_mib"] = round(server.rss_mib(), 1)
            res["peak_rss_mib"] = round(server.hwm_mib(), 1)
            out[name] = res
        finally:
            server.stop()
    return out


def _sign_files(port: int, opts: Opts, tag: str = "R") -> dict[str, Any]:
    """Sign right before the runs: Prime allows 5 min of skew, AGCOD 15 min. `tag` makes the
    creationRequestIds distinct from another set's."""
    t0 = time.perf_counter()
    verify = sign.write_requests(
        opts.tmp / "verify.req", [sign.raw("GET", sign.VERIFY_PATH, sign.prime_headers(port))]
    )
    count = create_count(opts.seconds)
    warm = sign.create_requests(port, max(500, int(2_000 * opts.warmup)), "W" + tag)
    create = sign.create_requests(port, count, tag)
    files: dict[str, Any] = {
        "verify": verify,
        "create_warm": sign.write_requests(opts.tmp / "create-warm.req", warm),
        "create": sign.write_requests(opts.tmp / "create.req", create),
        "create_count": count,
    }
    print(
        f"  signed {count + len(warm)} CreateGiftCard requests in {time.perf_counter() - t0:.1f} s"
    )
    return files

"""Issue 20's scale rows: `serve --workers 1` and `--workers 2` beside WireMock, nothing pinned.

As on a user's multi-core runner: every server and wrk (2 threads, 64 connections) may run on
every core, so the servers compete with the load generator for the machine's cores. mocksrv
`--workers 1` is the one-process server with its state in memory; `--workers 2` forks two
processes on one port (SO_REUSEPORT) sharing a private SQLite state made for the run. WireMock
runs with its request journal (its default) and without it (`--no-request-journal`).
"""

from __future__ import annotations

import resource
import time
from typing import Any

import http_bench
from load import run_load
from peers import PROBES, SCENARIO, _wiremock_cmd
from procs import ALL_CPUS, Server, free_port, mocksrv_cmd

CONNECTIONS = 64
WRK_THREADS = 2
# name -> the command's extra arguments (mocksrv) or its WireMock flags
PEERS: dict[str, list[str]] = {
    "mocksrv-w1": ["--workers", "1"],
    "mocksrv-w2": ["--workers", "2"],
    "wiremock": [],
    "wiremock-nojournal": ["--no-request-journal"],
}


def launch(name: str, port: int) -> Server:
    """`name` on `port`, free to use every core, once it answers its first 200."""
    extra = PEERS[name]
    if name.startswith("mocksrv"):
        probe = PROBES["mocksrv"](port)
        server = Server(name, [*mocksrv_cmd(port, SCENARIO), *extra], port, cpu=ALL_CPUS)
    else:
        probe = PROBES["wiremock"](port)
        server = Server(name, [*_wiremock_cmd(port), *extra], port, cpu=ALL_CPUS)
    try:
        server.wait_ready(probe)
    except BaseException:
        server.stop()
        raise
    return server


def _measured(server: Server, port: int, requests: Any, seconds: float) -> dict[str, Any]:
    """One wrk run (2 threads, 64 connections, every core) and the cores each side used."""
    cpu0, kids0, t0 = server.cpu_seconds(), _children_cpu(), time.perf_counter()
    result = run_load(
        port, requests, seconds, CONNECTIONS, threads=WRK_THREADS, cpu=ALL_CPUS
    ).as_dict()
    wall = time.perf_counter() - t0
    result["server_cores"] = round((server.cpu_seconds() - cpu0) / wall, 2)
    result["loadgen_cores"] = round((_children_cpu() - kids0) / wall, 2)
    return result


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def scale(opts: http_bench.Opts) -> dict[str, Any]:
    """verify and CreateGiftCard on each server in turn, a fresh server each; mocksrv's
    requests are signed for one port, which every mocksrv run reuses."""
    out: dict[str, Any] = {"connections": CONNECTIONS, "wrk_threads": WRK_THREADS}
    mocksrv_port = free_port()
    files: dict[str, Any] = {}
    for name in PEERS:
        port = mocksrv_port if name.startswith("mocksrv") else free_port()
        server = launch(name, port)
        try:
            if not files:  # signed for mocksrv's host:port; WireMock ignores auth
                files = http_bench._sign_files(port, opts, tag="S")
            res: dict[str, Any] = {}
            _measured(server, port, files["verify"], opts.warmup)
            res["verify"] = _measured(server, port, files["verify"], opts.seconds)
            server.check_alive("the verify run")
            _measured(server, port, files["create_warm"], opts.warmup)
            res["create"] = _measured(server, port, files["create"], opts.seconds)
            server.check_alive("the CreateGiftCard run")
            res["create"]["ids_reused"] = res["create"]["requests"] > int(files["create_count"])
            res["rss_mib"] = round(server.tree_rss_mib(), 1)
            out[name] = res
        finally:
            server.stop()
    return out


def rows(res: dict[str, Any], add: Any, ratio: Any, verdict: Any, invalid_of: Any) -> None:
    """The scale section's rows of the results table (bench/report.py)."""
    if not res or "error" in res:
        return

    def side(name: str, op: str) -> dict[str, Any]:
        return dict((res.get(name) or {}).get(op) or {})

    targets = (
        ("verify", "verify GET", "mocksrv-w1", "--workers 1", 1.6),
        ("create", "CreateGiftCard POST", "mocksrv-w1", "--workers 1", 1.3),
        ("verify", "verify GET", "wiremock-nojournal", "WireMock --no-request-journal", 1.5),
        ("create", "CreateGiftCard POST", "wiremock-nojournal", "WireMock --no-request-journal", 1.0),
    )  # fmt: skip
    for op, label, peer, peer_label, bound in targets:
        m, p = side("mocksrv-w2", op), side(peer, op)
        bad = invalid_of({"--workers 2": m, peer_label: p})
        add(f"scale: {label} req/s, --workers 2 (64 conns, unpinned)", m.get("rps"),
            p.get("rps"), peer_label, f">= {bound}x",
            verdict(ratio(m.get("rps"), p.get("rps")), ">=", bound, bad))  # fmt: skip
    for op, label in (("verify", "verify GET"), ("create", "CreateGiftCard POST")):
        m, p = side("mocksrv-w2", op), side("wiremock", op)
        bad = invalid_of({"--workers 2": m, "WireMock": p})
        add(f"scale: {label} req/s, --workers 2 vs WireMock with its journal", m.get("rps"),
            p.get("rps"), "WireMock", "-", bad or "info")  # fmt: skip
        text = " / ".join(
            f"{n.removeprefix('mocksrv-')} {side(n, op).get('server_cores', '-')}" for n in PEERS
        )
        add(f"scale: {label} server cores used (of 2)", text, None, "-", "-", "info")

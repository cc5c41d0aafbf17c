"""Tenants (issue 21): create and delete 100 tenants over the admin API, memory per idle tenant,
and CPU instructions per request with 100 tenants against one (bench/instructions.py --tenants)."""

from __future__ import annotations

import json
import shutil
import statistics
import time
import urllib.request
from typing import Any

import instructions
from peers import SCENARIO, mocksrv_probe
from procs import Server, all_cores, free_port, mocksrv_cmd

TENANTS = 100


def tenant_rows(count: int, instructions_count: int) -> dict[str, Any]:
    """Wall-clock create/delete latencies and RSS on a served mocksrv; instructions in-process."""
    port = free_port()
    server = Server("mocksrv-tenants", mocksrv_cmd(port, SCENARIO), port)
    try:
        server.wait_ready(mocksrv_probe(port))
        for _ in range(3):  # warm: the first tenant imports what tenants use
            _call(port, "DELETE", f"/__admin/tenants/{_create(port)[1]}")
        time.sleep(0.5)
        before = server.rss_mib()
        created, ids = [], []
        for _ in range(count):
            ms, tenant = _create(port)
            created.append(ms)
            ids.append(tenant)
        time.sleep(0.5)
        after = server.rss_mib()
        deleted = [_call(port, "DELETE", f"/__admin/tenants/{t}")[0] for t in ids]
        server.check_alive("the tenants run")
    finally:
        server.stop()
    out: dict[str, Any] = {
        "tenants": count,
        "create_ms": _percentiles(created),
        "delete_ms": _percentiles(deleted),
        "rss_before_mib": round(before, 1),
        "rss_after_mib": round(after, 1),
        "idle_tenant_kib": round((after - before) * 1024 / count, 1),
    }
    if shutil.which("valgrind") is None:
        out["instructions"] = {"skipped": "valgrind is not installed (apt-get install valgrind)"}
        return out
    with all_cores():
        per = instructions.tenant_scaling(instructions.TENANT_KINDS, instructions_count, count)
    out["instructions"] = {"count": instructions_count, "per_request": per}
    return out


def _create(port: int) -> tuple[float, str]:
    ms, body = _call(port, "POST", "/__admin/tenants", {"name": "bench"})
    return ms, str(body["id"])


def _call(port: int, method: str, path: str, body: Any = None) -> tuple[float, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method)
    req.add_header("content-type", "application/json")
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=30) as resp:
        raw = resp.read()
    ms = (time.perf_counter() - t0) * 1000
    return ms, json.loads(raw) if raw else None


def _percentiles(ms: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(ms, n=100, method="inclusive")
    return {"p50": round(statistics.median(ms), 2), "p99": round(cuts[98], 2),
            "max": round(max(ms), 2)}  # fmt: skip

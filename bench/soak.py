"""The soak (issue 10): 1,000 idle and 200 slowloris connections held open, first alone, then
during a mixed load.

A new signed verify is timed every 0.1 s on a new connection throughout. With the attack alone
(QUIET seconds) its p99 must stay under 100 ms; under the mixed load as well, both cores are busy
(the server's with the load, the load generator's with 8 signing clients, the attackers and the
probe), so that p99 is reported, not judged. The server's RSS is sampled every second; the mixed
clients' state audit runs at the end.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from typing import Any

from mixed import Client, Tally, _admin, audit
from peers import launch
from procs import BENCH, LOADGEN_CPU, free_port, pinned
from s3_bench import pipeline_idle

IDLE, SLOW, THREADS = 1000, 200, 8
QUIET = 20.0  # seconds of the attack alone, before the mixed load


def soak(seconds: float) -> dict[str, Any]:
    port = free_port()
    server, _ = launch("mocksrv", port)
    procs: list[subprocess.Popen[str]] = []
    try:
        script = str(BENCH / "soak_clients.py")
        attack_cmd = [sys.executable, script, "attack", str(port), str(QUIET + seconds), str(IDLE), str(SLOW)]  # fmt: skip
        probe_cmd = [sys.executable, script, "probe", str(port), str(QUIET), str(seconds)]
        holder = _start(procs, attack_cmd)
        assert holder.stdout is not None
        if holder.stdout.readline().strip() != "READY":
            raise RuntimeError("soak attackers did not start")
        prober = _start(procs, probe_cmd)
        assert prober.stdout is not None
        rss: list[float] = []
        stop = threading.Event()
        sampler = threading.Thread(target=_sample, args=(server, rss, stop), daemon=True)
        sampler.start()
        time.sleep(QUIET)
        tally = Tally()
        before = _admin(port, "prime")  # the readiness probe made one verify call
        tally.ops["verify_before"] = sum(
            c["calls"].get("verify", 0) for c in before["offerCodes"] if c["code"] == "123456789"
        )
        clients = [Client(port, 10**9, tally, seed=k) for k in range(THREADS)]
        deadline = time.monotonic() + seconds
        t0 = time.perf_counter()
        workers = [
            threading.Thread(target=c.run, args=(deadline, True), daemon=True) for c in clients
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join(seconds + 60)
        elapsed = time.perf_counter() - t0
        attack = json.loads(holder.stdout.readline() or "{}")
        attack.update(json.loads(prober.stdout.readline() or "{}"))
        stop.set()
        sampler.join(5)
        server.check_alive("the soak")
        pipeline_idle(port)
        checks = audit(port, tally, clients[0])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        server.stop()
    ops = sum(v for k, v in tally.ops.items() if k not in ("error", "verify_before"))
    return {
        "quiet_seconds": QUIET, "seconds": round(elapsed, 1), "mixed_threads": THREADS, "mixed_ops": ops,
        "mixed_ops_per_s": round(ops / elapsed, 1) if elapsed else None,
        "mixed_errors": tally.errors[:20], "audit_ok": all(c["ok"] for c in checks),
        "checks": checks, **attack,
        "rss_start_mib": rss[0] if rss else None, "rss_max_mib": max(rss) if rss else None,
        "rss_end_mib": rss[-1] if rss else None, "rss_samples_mib": rss,
    }  # fmt: skip


def _start(procs: list[subprocess.Popen[str]], cmd: list[str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(pinned(cmd, LOADGEN_CPU), stdout=subprocess.PIPE, text=True)
    procs.append(proc)
    return proc


def _sample(server: Any, out: list[float], stop: threading.Event) -> None:
    while not stop.is_set():
        out.append(round(server.rss_mib(), 1))
        stop.wait(1.0)

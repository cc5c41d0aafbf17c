"""New HTTPS clients while others stall their TLS handshakes (issue 19, D21): latency per call.

Starts `mocksrv serve --tls-port 0` (this tree, or `--tree DIR` for another, e.g. main) as a child
process, then measures N Prime verify calls over HTTPS, each on a new connection (a new
handshake), C at a time, signed by botocore: first with nothing else connected, then while
STALLED TCP connections send nothing and PARTIAL ones have sent half a ClientHello. Prints p50,
p99 and max per phase, and how many calls failed (a timeout counts as a failure).

Usage: .venv/bin/python bench/tls_handshakes.py [--tree DIR] [--calls 100] [--concurrency 10]
       [--stalled 1000] [--partial 200] [--timeout 30]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import http.client
import os
import resource
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ROOT = Path(__file__).resolve().parent.parent
PRIME = Credentials("AKIAMOCKSRVPRIME0001", "MockSrvPrimeDemoSecretKey000000000000001")
VERIFY = "/v1/customer/benefit/PRIME_3P_PARTNER_BENEFIT/offer-code/123456789/verify"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tree", type=Path, default=ROOT, help="the mocksrv source tree to serve")
    ap.add_argument("--calls", type=int, default=100)
    ap.add_argument("--concurrency", type=int, default=10)
    ap.add_argument("--stalled", type=int, default=1000)
    ap.add_argument("--partial", type=int, default=200)
    ap.add_argument("--timeout", type=float, default=30.0, help="a client's timeout (seconds)")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempfile.TemporaryDirectory() as ca_dir:
        proc, port = serve(args.tree.resolve(), ca_dir)
        try:
            ctx = ssl.create_default_context(cafile=f"{ca_dir}/ca.pem")
            rows = [("no other connections", measure(port, ctx, args))]
            held = stall(port, args.stalled, args.partial)
            try:
                load = f"{args.stalled} silent + {args.partial} partial ClientHello"
                rows.append((load, measure(port, ctx, args)))
            finally:
                for s in held:
                    s.close()
        finally:
            proc.terminate()
            proc.wait(20)
    print(f"tree: {args.tree}; {args.calls} verify calls, {args.concurrency} at a time, each a new")
    print(f"connection; client timeout {args.timeout:g} s\n")
    print(
        "| other connections | ok | failed | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|---|"
    )
    for name, (times, failures) in rows:
        p50, p99, top = percentiles(times)
        print(f"| {name} | {len(times)} | {failures} | {p50:.1f} | {p99:.1f} | {top:.1f} |")
    return 0


def serve(tree: Path, ca_dir: str) -> tuple[subprocess.Popen[str], int]:
    cmd = [sys.executable, "-m", "mocksrv", "serve", "--port", "0", "--tls-port", "0"]
    env = dict(os.environ, PYTHONPATH=str(tree))
    proc = subprocess.Popen(
        [*cmd, "--ca-dir", ca_dir], cwd=tree, env=env, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("HTTPS on "):
            port = int(line.split()[2].rsplit(":", 1)[1])
            # the rest of its output is drained so the server never blocks on a full pipe
            threading.Thread(target=proc.stdout.read, daemon=True).start()
            return proc, port
    proc.kill()
    raise RuntimeError("the server printed no HTTPS line")


def stall(port: int, stalled: int, partial: int) -> list[socket.socket]:
    hello = partial_client_hello()
    held = []
    for n in range(stalled + partial):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        if n >= stalled:
            s.sendall(hello)
        held.append(s)
    return held


def partial_client_hello() -> bytes:
    out = ssl.MemoryBIO()
    client = ssl.create_default_context().wrap_bio(ssl.MemoryBIO(), out, server_hostname="x")
    with contextlib.suppress(ssl.SSLWantReadError):  # it waits for the server's answer
        client.do_handshake()
    hello = out.read()
    return hello[: len(hello) // 2]


def measure(port: int, ctx: ssl.SSLContext, args: argparse.Namespace) -> tuple[list[float], int]:
    def one(_: int) -> float | None:
        req = AWSRequest(
            "GET", f"https://localhost:{port}{VERIFY}", headers={"x-amz-marketplace": "US"}
        )
        SigV4Auth(PRIME, "execute-api", "us-east-1").add_auth(req)
        headers = {k: v for k, v in req.headers.items() if k.lower() != "host"}
        started = time.perf_counter()
        conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=args.timeout)
        try:
            conn.request("GET", VERIFY, headers={**headers, "x-amz-request-id": "bench"})
            r = conn.getresponse()
            ok = r.status == 200 and r.read() == b'{"message":"SUCCESS"}'
        except OSError:
            ok = False
        finally:
            conn.close()
        return (time.perf_counter() - started) * 1000 if ok else None

    with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
        results = list(pool.map(one, range(args.calls)))
    times = [t for t in results if t is not None]
    return times, len(results) - len(times)


def percentiles(times: list[float]) -> tuple[float, float, float]:
    if not times:
        return (float("nan"),) * 3
    if len(times) == 1:
        return times[0], times[0], times[0]
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    return statistics.median(times), cuts[98], max(times)


if __name__ == "__main__":
    sys.exit(main())

"""Admin reads of the journal (issue 19, D23): `GET /__admin/journal?limit=5`, the same with a
filter, one that matches nothing (a walk of every entry), and `GET /__admin/journal/{requestId}`
of the oldest entry, each timed over one keep-alive
connection with `--entries` (10,000) entries kept; the median of `--reads` (20) reads.

    python bench/journal_bench.py [--entries 10000] [--reads 20] [--baseline DIR]

The server is a `mocksrv serve` child process pinned to one core (this script to the other); with
`--baseline` the same runs against another source tree (say main before the change), one server
after the other. Target: `journal?limit=5` under 5 ms (median) with 10,000 entries.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import sign  # noqa: E402
from peers import mocksrv_probe  # noqa: E402
from procs import HOST, ROOT, Server, free_port, pin_self  # noqa: E402

TARGET_MS = 5.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--entries", type=int, default=10_000)
    ap.add_argument("--reads", type=int, default=20)
    ap.add_argument("--baseline", type=Path, help="another mocksrv source tree to compare with")
    args = ap.parse_args()
    pin_self()
    trees = {"this tree": ROOT}
    if args.baseline is not None:
        if not (args.baseline / "mocksrv" / "__init__.py").is_file():
            ap.error(f"{args.baseline}: not a mocksrv source tree")
        trees["baseline"] = args.baseline.resolve()
    results = {label: measure(tree, args.entries, args.reads) for label, tree in trees.items()}
    print(f"\n{args.entries:,} journal entries, median of {args.reads} reads (ms)")
    print("| read | " + " | ".join(results) + " |")
    print("|---|" + "---|" * len(results))
    for read in next(iter(results.values())):
        cells = " | ".join(f"{r[read]['median_ms']:.2f} (p90 {r[read]['p90_ms']:.2f})"
                           for r in results.values())  # fmt: skip
        print(f"| `{read}` | {cells} |")
    this = results["this tree"]["journal?limit=5"]["median_ms"]
    print(f"\njournal?limit=5: {this:.2f} ms, target < {TARGET_MS} ms: "
          f"{'met' if this < TARGET_MS else 'NOT met'}")  # fmt: skip
    return 0 if this < TARGET_MS else 1


def measure(tree: Path, entries: int, reads: int) -> dict[str, dict[str, float]]:
    """Start a server of `tree`, fill its journal, time the reads."""
    port = free_port()
    cmd = [sys.executable, "-m", "mocksrv", "serve", "--port", str(port)]
    env = {"PYTHONPATH": str(tree)}
    with Server("mocksrv-journal", cmd, port, cwd=tree, env=env) as server:
        server.wait_ready(mocksrv_probe(port))
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        oldest = fill(conn, port, entries)
        size = json.loads(get(conn, "/__admin/journal?limit=1")[1])["size"]
        if size < entries:
            raise RuntimeError(f"the journal kept {size} entries, not {entries}")
        paths = {
            "journal?limit=5": "/__admin/journal?limit=5",
            "journal?api=prime&limit=5": "/__admin/journal?api=prime&limit=5",
            "journal/{requestId} (oldest)": f"/__admin/journal/{oldest}",
            # nothing matches: the walk visits every entry (formats none)
            "journal?operation=none&limit=5": "/__admin/journal?operation=none&limit=5",
        }
        out = {name: timed(conn, path, reads) for name, path in paths.items()}
        server.check_alive("the journal reads")
        conn.close()
    return out


def fill(conn: http.client.HTTPConnection, port: int, entries: int) -> str:
    """`entries` signed Prime verify calls (one signature, replayed: legal within the skew
    window); the request id of the first."""
    headers = sign.prime_headers(port)
    first = ""
    for i in range(entries):
        conn.request("GET", sign.VERIFY_PATH, headers=headers)
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            raise RuntimeError(f"verify answered {resp.status}")
        if i == 0:
            first = resp.getheader("x-amzn-RequestId") or ""
    return first


def get(conn: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
    conn.request("GET", path)
    resp = conn.getresponse()
    return resp.status, resp.read()


def timed(conn: http.client.HTTPConnection, path: str, reads: int) -> dict[str, float]:
    get(conn, path)  # one warm-up read
    times = []
    for _ in range(reads):
        t0 = time.perf_counter()
        status, body = get(conn, path)
        times.append((time.perf_counter() - t0) * 1000)
        if status != 200:
            raise RuntimeError(f"{path} answered {status}: {body[:200]!r}")
    times.sort()
    return {
        "median_ms": statistics.median(times),
        "p90_ms": times[int(0.9 * (len(times) - 1))],
    }


if __name__ == "__main__":
    raise SystemExit(main())

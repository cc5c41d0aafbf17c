"""Interleaved A/B of two mocksrv trees on verify GET and CreateGiftCard POST.

Both servers run at once (pinned to the server CPU; only one is loaded at a time). Short runs
alternate in both orders, so drift on a shared machine and the position of a tree hit both alike;
`bench/run.sh --baseline DIR` measures the trees one after the other, which on a noisy machine
favours whichever comes second.

Usage: .venv/bin/python bench/ab.py BASELINE_DIR [--rounds 6] [--seconds 4]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("baseline", type=Path, help="another mocksrv source tree (e.g. main before)")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=4)
    args = ap.parse_args()
    os.environ["MOCKSRV_BENCH_BASELINE"] = str(args.baseline.resolve())
    import sign
    from load import run_load
    from peers import launch
    from procs import free_port, pin_self

    pin_self()
    tmp = Path(tempfile.mkdtemp())
    ports = {"this": free_port(), "baseline": free_port()}
    servers, files = {}, {}
    for name, port in ports.items():
        servers[name], _ = launch("mocksrv" if name == "this" else "mocksrv-baseline", port)
        verify = [sign.raw("GET", sign.VERIFY_PATH, sign.prime_headers(port))]
        files[name] = {
            "verify": sign.write_requests(tmp / f"{name}-verify.req", verify),
            "create": sign.write_requests(
                tmp / f"{name}-create.req", sign.create_requests(port, 40_000, name[0].upper())
            ),
        }
    rates: dict[tuple[str, str], list[float]] = {(n, k): [] for n in ports for k in files["this"]}
    try:
        for kind in ("verify", "create"):
            for name in ports:  # warm-up
                run_load(ports[name], files[name][kind], args.seconds)
            for rnd in range(args.rounds):
                order = list(ports) if rnd % 2 == 0 else list(reversed(list(ports)))
                for name in order:
                    rates[(name, kind)].append(run_load(ports[name], files[name][kind], args.seconds).rps)
    finally:
        for server in servers.values():
            server.stop()
    for kind in ("verify", "create"):
        a, b = rates[("this", kind)], rates[("baseline", kind)]
        print(f"{kind}: this {[round(x) for x in a]} baseline {[round(x) for x in b]}")
        median = statistics.median(a) / statistics.median(b)
        pairwise = statistics.median(x / y for x, y in zip(a, b, strict=True))
        print(f"{kind}: req/s this / baseline = {median:.3f} (medians), {pairwise:.3f} (pairwise)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

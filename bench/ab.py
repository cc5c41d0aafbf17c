"""Interleaved A/B of two mocksrv trees on verify GET, CreateGiftCard POST and S3 GetObject.

Both servers run at once (pinned to the server CPU; only one is loaded at a time). Short runs
alternate in both orders, so drift on a shared machine and the position of a tree hit both alike;
`bench/run.sh --baseline DIR` measures the trees one after the other, which on a noisy machine
favours whichever comes second.

Usage: .venv/bin/python bench/ab.py BASELINE_DIR [--rounds 6] [--seconds 4] [--kinds verify,create]
(kinds: verify, create, s3-get; s3-get uploads the bench's 1 KiB object to each server first and
reads its report, as the `s3` section of bench/run.sh does). A run with any answer not 2xx stops
the comparison.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("baseline", type=Path, help="another mocksrv source tree (e.g. main before)")
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--kinds", default="verify,create", help="verify, create, s3-get, startup")
    args = ap.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    if not kinds or set(kinds) - set(KINDS):
        ap.error(f"--kinds: a comma-separated list of {', '.join(KINDS)}")
    os.environ["MOCKSRV_BENCH_BASELINE"] = str(args.baseline.resolve())
    import sign
    from load import run_load
    from peers import launch
    from procs import free_port, pin_self

    pin_self()
    if "startup" in kinds:
        _startups(args.rounds)
        kinds.remove("startup")
        if not kinds:
            return 0
    tmp = Path(tempfile.mkdtemp())
    ports = {"this": free_port(), "baseline": free_port()}
    servers, files = {}, {}
    for name, port in ports.items():
        servers[name], _ = launch("mocksrv" if name == "this" else "mocksrv-baseline", port)
        files[name] = {k: _requests(sign, k, port, tmp / f"{name}-{k}.req", name) for k in kinds}
    rates: dict[tuple[str, str], list[float]] = {(n, k): [] for n in ports for k in kinds}
    try:
        for kind in kinds:
            for name in ports:  # warm-up
                _measured(run_load(ports[name], files[name][kind], args.seconds), name, kind)
            for rnd in range(args.rounds):
                order = list(ports) if rnd % 2 == 0 else list(reversed(list(ports)))
                for name in order:
                    result = run_load(ports[name], files[name][kind], args.seconds)
                    rates[(name, kind)].append(_measured(result, name, kind))
    finally:
        for server in servers.values():
            server.stop()
    for kind in kinds:
        a, b = rates[("this", kind)], rates[("baseline", kind)]
        print(f"{kind}: this {[round(x) for x in a]} baseline {[round(x) for x in b]}")
        median = statistics.median(a) / statistics.median(b)
        pairwise = statistics.median(x / y for x, y in zip(a, b, strict=True))
        print(f"{kind}: req/s this / baseline = {median:.3f} (medians), {pairwise:.3f} (pairwise)")
    return 0


KINDS = ("verify", "create", "s3-get", "startup")


def _startups(rounds: int) -> None:
    """Launch to the first 200 of a signed verify (with --scenario bench/scenario.yaml), each
    tree in turn, both orders; one untimed launch each first (it fills the bytecode cache)."""
    from peers import launch
    from procs import free_port

    names = {"this": "mocksrv", "baseline": "mocksrv-baseline"}
    times: dict[str, list[float]] = {n: [] for n in names}
    for rnd in range(-1, 2 * rounds):
        for name in list(names) if rnd % 2 == 0 else list(reversed(list(names))):
            server, seconds = launch(names[name], free_port())
            server.stop()
            if rnd >= 0:
                times[name].append(seconds * 1000)
    a, b = times["this"], times["baseline"]
    print(f"startup: this {[round(x) for x in a]} baseline {[round(x) for x in b]} (ms)")
    ratio = statistics.median(a) / statistics.median(b)
    pairwise = statistics.median(x / y for x, y in zip(a, b, strict=True))
    print(
        f"startup: ms this / baseline = {ratio:.3f} (medians of {len(a)}), {pairwise:.3f} (pairwise)"
    )


def _requests(sign: Any, kind: str, port: int, path: Path, name: str) -> Path:
    if kind == "verify":
        return sign.write_requests(
            path, [sign.raw("GET", sign.VERIFY_PATH, sign.prime_headers(port))]
        )
    if kind == "create":
        return sign.write_requests(path, sign.create_requests(port, 40_000, name[0].upper()))
    from s3_bench import BODY, BUCKET, PUT_KEY, REPORT_KEY, send, wait_for

    status, body = send(port, sign.s3_put(port, BUCKET, PUT_KEY, BODY))
    if status != 200:
        raise RuntimeError(f"{name} PutObject: {status} {body[:300]!r}")
    get = sign.s3_get(port, BUCKET, REPORT_KEY)
    wait_for(port, get, f"{name}: report of the bench object", 30)
    return sign.write_requests(path, [get])


def _measured(result: Any, name: str, kind: str) -> float:
    if result.non2xx or result.socket_errors:
        raise RuntimeError(
            f"{name} {kind}: {result.non2xx} answers not 2xx, {result.socket_errors} socket errors"
            f" ({result.sample[:300]})"
        )
    return float(result.rps)


if __name__ == "__main__":
    sys.exit(main())

"""CPU instructions per request, this tree against another, counted by valgrind (callgrind).

Wall-clock rates on a shared machine drift by more than the 5 % a redesign may cost, and which
tree runs second gains the most (docs/benchmark.md). An instruction count does not drift: for
one tree and one kind of request it is within about 0.5 % on every run, so two trees measured in
the same invocation compare to a per cent or two. It measures the work only (not cache misses
or waits), so it complements the wall-clock rows of `bench/run.sh`; it does not replace them.

Each measurement runs the WSGI app in one process under valgrind, on bench/scenario.yaml, with
requests signed beforehand by botocore (SigV4Auth, S3SigV4Auth): warm-up calls, then N calls.
Two runs per tree and kind, with N = 1 and N = 1 + COUNT and the same requests prepared, give
(instructions of the second - instructions of the first) / COUNT: start-up, signing and the
warm-up cancel out. No socket is involved: the bench's HTTP rows measure the connection layer.

The kinds `http-verify` and `http-create` (not in the default set) count the HTTP layer's own work
for the same requests instead: mocksrv's parser (llhttp) and `environ_of`, no app.

`--tenants` compares this tree with itself too: verify and CreateGiftCard signed with the keys of
one tenant when 1 tenant was made first and when 100 were (each tenant its own runtime on the same
scenario), and signed with the default tenant's keys with no tenant and with 100.

Usage: .venv/bin/python bench/instructions.py BASELINE_DIR [--count 2000] [--kinds verify,create]
                                             [--state sqlite]
       .venv/bin/python bench/instructions.py --observability [--count 2000]
       .venv/bin/python bench/instructions.py --tenants [--count 2000] [--many 100]
Needs valgrind (`apt-get install valgrind`). Takes about 40 s per tree and kind on two cores.

`--state sqlite` runs both trees' apps on a SQLite state (a new file per run, in a temporary
folder) instead of in memory: the work of the SQL path, including SQLite's own (the fsyncs of a
checkpoint are waits, not instructions).

`--observability` compares this tree with itself: verify with the request log at `info` (written
to /dev/null through mocksrv's own log set-up, as `serve` does) against `warning`, and with the
metrics recorder against the same app without it.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
KINDS = ("verify", "create", "s3-put", "s3-get")
HTTP_KINDS = ("http-verify", "http-create")  # the HTTP layer alone: parse and environ
WARM_UP = 50
PORT = 8080  # the Host the requests are signed for; nothing listens on it


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("baseline", type=Path, nargs="?", help="another mocksrv source tree")
    ap.add_argument("--observability", action="store_true",
                    help="this tree only: the request log and the metrics, each on against off")  # fmt: skip
    ap.add_argument("--tenants", action="store_true",
                    help="this tree only: verify and create with 1 tenant made first against --many")  # fmt: skip
    ap.add_argument("--many", type=int, default=100, help="tenants made first in --tenants (100)")
    ap.add_argument("--count", type=int, default=2000, help="requests measured per run")
    ap.add_argument("--kinds", default=",".join(KINDS), help="comma-separated: " + ", ".join(KINDS))
    ap.add_argument("--state", choices=("memory", "sqlite"), default="memory",
                    help="where the apps keep their state (memory)")  # fmt: skip
    args = ap.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = sorted(set(kinds) - set(KINDS) - set(HTTP_KINDS))
    if unknown:
        ap.error(f"unknown kinds {unknown}; known: {', '.join(KINDS + HTTP_KINDS)}")
    if args.observability:
        print("| verify | on | off | on / off |\n|---|---|---|---|")
        for what, (on, off) in observability(args.count).items():
            print(f"| {what} | {on:,.0f} | {off:,.0f} | {on / off:.3f}x |")
        return 0
    if args.tenants:
        print(
            f"| request | signed as | few tenants | {args.many} tenants | ratio |\n|---|---|---|---|---|"
        )
        for kind, got in tenant_scaling(TENANT_KINDS, args.count, args.many).items():
            for who, (few, many) in got.items():
                print(f"| {kind} | {who} | {few:,.0f} | {many:,.0f} | {many / few:.3f}x |")
        return 0
    if args.baseline is None or not (args.baseline / "mocksrv" / "__init__.py").is_file():
        ap.error(f"{args.baseline}: not a mocksrv source tree")
    per = compare(args.baseline, kinds, args.count, args.state)
    print("| request | this tree | baseline | this / baseline |\n|---|---|---|---|")
    for kind in kinds:
        this, base = per[kind]["this"], per[kind]["baseline"]
        print(f"| {kind} | {this:,.0f} | {base:,.0f} | {this / base:.3f}x |")
    return 0


def compare(
    baseline: Path, kinds: list[str], count: int, state: str = "memory"
) -> dict[str, dict[str, float]]:
    """Instructions per request of each kind, {"this": ..., "baseline": ...} (bench/run.py's
    `instructions` section calls this too); `state` "sqlite" runs the apps on a SQLite state."""
    trees = {"this": ROOT, "baseline": baseline.resolve()}
    jobs = [(t, k, n) for k in kinds for t in trees for n in (1, 1 + count)]
    setup = "" if state == "memory" else f"state={state}"
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        counts = dict(
            zip(
                jobs,
                pool.map(lambda j: _count(trees[j[0]], j[1], j[2], count + 1, setup), jobs),
                strict=True,
            )
        )
    return {
        kind: {t: (counts[(t, kind, 1 + count)] - counts[(t, kind, 1)]) / count for t in trees}
        for kind in kinds
    }


# the worker's set-ups (OBSERVE): "log=info" configures logging as `serve --log-level info` does,
# "log=warning" as with warning; "metrics=off" takes the metrics recorder out of the runtime
VARIANTS = {
    "request log at info vs warning": ("log=info", "log=warning"),
    "metrics vs none": ("log=warning", "log=warning,metrics=off"),
}


def observability(count: int) -> dict[str, tuple[float, float]]:
    """Instructions per verify of this tree, (on, off) for each of VARIANTS."""
    setups = sorted({v for pair in VARIANTS.values() for v in pair})
    jobs = [(v, n) for v in setups for n in (1, 1 + count)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        found = dict(zip(jobs, pool.map(
            lambda j: _count(ROOT, "verify", j[1], count + 1, observe=j[0]), jobs), strict=True))  # fmt: skip
    per = {v: (found[(v, 1 + count)] - found[(v, 1)]) / count for v in setups}
    return {what: (per[on], per[off]) for what, (on, off) in VARIANTS.items()}


TENANT_KINDS = ("verify", "create")
# (tenants made first, whose keys sign): a tenant's requests with 1 tenant and with many, and the
# default tenant's with none (its fast path) and with many
TENANT_SETUPS = {"a tenant's keys": ((1, "tenant"), ("many", "tenant")),
                 "the default's keys": ((0, "default"), ("many", "default"))}  # fmt: skip


def tenant_scaling(kinds: tuple[str, ...], count: int, many: int) -> dict[str, Any]:
    """Instructions per request of this tree for each kind and TENANT_SETUPS entry: (few, many)."""
    setups = sorted({(many if t == "many" else t, who) for pair in TENANT_SETUPS.values()
                     for t, who in pair})  # fmt: skip
    jobs = [(k, t, who, n) for k in kinds for t, who in setups for n in (1, 1 + count)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        found = dict(zip(jobs, pool.map(lambda j: _count(
            ROOT, j[0], j[3], count + 1, tenants=f"{j[1]}:{j[2]}"), jobs), strict=True))  # fmt: skip
    per = {(k, t, who): (found[(k, t, who, 1 + count)] - found[(k, t, who, 1)]) / count
           for k in kinds for t, who in setups}  # fmt: skip
    return {
        kind: {
            label: tuple(per[(kind, many if t == "many" else t, who)] for t, who in pair)
            for label, pair in TENANT_SETUPS.items()
        }
        for kind in kinds
    }


def _count(
    tree: Path, kind: str, n: int, prepared: int, observe: str = "", tenants: str = ""
) -> int:
    """Instructions of one worker process (valgrind's `Collected` total, every thread)."""
    cmd = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        kind,
        str(n),
        str(prepared),
    ]
    env = dict(os.environ, PYTHONPATH=str(tree), PYTHONHASHSEED="0", OBSERVE=observe,
               TENANTS=tenants)  # fmt: skip
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)
    found = re.search(r"Collected : (\d+)", out.stderr)
    if out.returncode != 0 or found is None or "answers: ok" not in out.stdout:
        raise RuntimeError(
            f"{tree} {kind} {n}: worker failed\n{out.stdout[-2000:]}{out.stderr[-2000:]}"
        )
    return int(found.group(1))


# -- the worker: runs inside the tree under test (PYTHONPATH), under valgrind --------------------


def worker(kind: str, n: int, prepared: int) -> int:
    sys.path.insert(0, str(HERE))
    import sign

    if kind in HTTP_KINDS:
        return _http_layer(_requests(sign, kind[len("http-") :], 1)[0], WARM_UP + n)

    from mocksrv.app import create_app
    from mocksrv.settings import Settings

    try:  # the registry's loader (after the redesign) or the scenario package's (before it)
        from mocksrv.registry import load_files
    except ImportError:
        from mocksrv.scenario.loader import load_files  # type: ignore[no-redef]

    app = create_app(
        Settings(), load_files([str(HERE / "scenario.yaml")]), _state(os.environ.get("OBSERVE", ""))
    )
    flush = _observe(app, os.environ.get("OBSERVE", ""))
    keys = _tenants(app, os.environ.get("TENANTS", ""))
    requests = _requests(sign, kind, WARM_UP + prepared, keys)
    statuses: list[str] = []

    def start_response(status: str, headers: Any) -> None:
        statuses.append(status)

    if kind == "s3-get":  # one upload, then GETs of its report (as bench/run.sh's S3 row)
        from s3_bench import BODY, BUCKET, PUT_KEY

        app(_environ(sign.s3_put(PORT, BUCKET, PUT_KEY, BODY)), start_response)
        _wait_idle(app)
    # every environ is built first, for as many requests whatever n is: only the app's work
    # differs between the runs with 1 and with 1 + COUNT requests
    environs = [_environ(raw) for raw in requests]
    for env in environs[:WARM_UP]:
        app(env, start_response)
    for env in environs[WARM_UP : WARM_UP + n]:
        b"".join(app(env, start_response))
    if kind == "s3-put":  # the uploads' processing runs on a worker thread: count all of it
        _wait_idle(app)
    flush()  # the request log's lines still waiting for the writer thread: counted too
    bad = [s for s in statuses if not s.startswith("200")]
    print("answers: ok" if not bad else f"answers: {len(bad)} not 200, first {bad[0]}")
    return 0


def _state(setup: str) -> Any:
    """The engine an OBSERVE set-up asks for ("state=sqlite": a new SQLite file), or None
    (memory)."""
    parts = dict(p.split("=", 1) for p in setup.split(",") if p)
    if parts.get("state") != "sqlite":
        return None
    import tempfile

    from mocksrv.state.open import open_engine

    return open_engine(str(Path(tempfile.mkdtemp(prefix="mocksrv-ins-")) / "state.db"))


def _observe(app: Any, setup: str) -> Callable[[], None]:
    """Apply an OBSERVE set-up (VARIANTS) to the app; returns what flushes the log at the end."""
    parts = dict(p.split("=", 1) for p in setup.split(",") if p)
    flush: Callable[[], None] = lambda: None  # noqa: E731
    if "log" in parts:
        from mocksrv import logs

        handler = logs.configure(parts["log"], "text", open(os.devnull, "w"))  # noqa: SIM115
        flush = handler.flush
    if parts.get("metrics") == "off":
        from mocksrv.toolkit.plugin import toolkit_of

        metrics = toolkit_of(app.runtime).metrics
        app.runtime.recorders.remove(metrics.record)
    return flush


def _tenants(app: Any, setup: str) -> dict[str, Any]:
    """TENANTS="N:who": N tenants made first on the bench scenario; the credentials (by
    identity name) of the last one when `who` is "tenant", else none (the default's sign)."""
    if not setup:
        return {}
    from botocore.credentials import Credentials

    count, who = setup.split(":")
    tenant = None
    for i in range(int(count)):
        tenant, _ = app.tenants.create(list(app.runtime.scenarios), f"bench-{i}", None, 1 << 20)
    if who != "tenant" or tenant is None:
        return {}
    return {name: Credentials(key, secret) for name, (key, secret) in tenant.keys.items()}


def _requests(sign: Any, kind: str, count: int, keys: dict[str, Any] | None = None) -> list[bytes]:
    from s3_bench import BODY, BUCKET, PUT_KEY, REPORT_KEY

    keys = keys or {}
    prime = keys.get("prime-partner")
    makers: dict[str, Callable[[], list[bytes]]] = {
        "verify": lambda: (
            [sign.raw("GET", sign.VERIFY_PATH, sign.prime_headers(PORT, creds=prime))] * count
        ),
        "create": lambda: sign.create_requests(
            PORT, count, "I", keys.get("agcod-sandbox", sign.AGCOD_SANDBOX)
        ),
        "s3-put": lambda: [sign.s3_put(PORT, BUCKET, f"{PUT_KEY}-{i}", BODY) for i in range(count)],
        "s3-get": lambda: [sign.s3_get(PORT, BUCKET, REPORT_KEY)] * count,
    }
    return makers[kind]()


def _environ(raw: bytes) -> dict[str, Any]:
    """The WSGI environ mocksrv's own HTTP layer builds for these bytes: its parser (llhttp)
    and `environ_of`, the same code in both trees."""
    from mocksrv.http1 import Parser
    from mocksrv.httpwsgi import environ_of

    parser = Parser(max_body=1 << 30, send=None, idle_timeout=60)
    parser.feed(raw)
    request = parser.ready.popleft()
    if not hasattr(request, "fields"):
        raise RuntimeError(f"the bench's own request does not parse: {request!r}")
    server = SimpleNamespace(server_name="127.0.0.1", effective_port=PORT)
    return environ_of(request, server, None, ("127.0.0.1", 40000))


def _http_layer(raw: bytes, n: int) -> int:
    """The HTTP layer's work for one keep-alive connection's `n` requests: parse, environ."""
    from mocksrv.http1 import Parser
    from mocksrv.httpwsgi import environ_of

    parser = Parser(max_body=1 << 30, send=None, idle_timeout=60)
    server = SimpleNamespace(server_name="127.0.0.1", effective_port=PORT)
    for _ in range(n):
        parser.feed(raw)
        environ_of(parser.ready.popleft(), server, None, ("127.0.0.1", 40000))
    print("answers: ok")
    return 0


def _wait_idle(app: Any) -> None:
    """Until the promotions worker has processed every upload (its store says idle)."""
    import time

    store = next(s for s in app.runtime.stores.values() if hasattr(s, "idle"))
    deadline = time.monotonic() + 600
    while not store.idle():
        if time.monotonic() > deadline:
            raise RuntimeError("the promotions worker did not go idle")
        time.sleep(0.01)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--worker":
        sys.exit(worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
    sys.exit(main())

"""`python -m mocksrv.healthcheck`: the Docker image's HEALTHCHECK, on the port the server uses.

It reads the server's command line and environment (process 1 in the container; `--pid` for
another), resolves the address as `mocksrv serve` does (a flag, then its MOCKSRV_* variable, then
the default) and asks `GET /__admin/health` there, which needs no token on any bind. Exit 0 when
the answer is 200, else 1 with one line saying why.
"""

from __future__ import annotations

import argparse
import http.client
import sys
from pathlib import Path

from mocksrv import options
from mocksrv.cli import build_parser


def _read(pid: int, name: str) -> list[str]:
    raw = Path(f"/proc/{pid}/{name}").read_bytes()
    return [part.decode("utf-8", "surrogateescape") for part in raw.split(b"\0") if part]


def target(pid: int) -> tuple[str, int]:
    """The (host, port) to probe: how process `pid`'s `mocksrv serve` or `run` resolved them."""
    argv = _read(pid, "cmdline")
    command = next((i for i, a in enumerate(argv) if a in ("serve", "run")), None)
    if command is None:
        raise ValueError(f"process {pid} is not `mocksrv serve` or `mocksrv run`: {argv}")
    args, _ = build_parser().parse_known_args(argv[command:])
    environ = dict(v.split("=", 1) for v in _read(pid, "environ") if "=" in v)
    run = args.command == "run"
    extra = options.RUN if run else []
    options.resolve(args, [*options.SERVER, *extra], environ, options.RUN_DEFAULTS if run else None)
    host = args.host.strip("[]")
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return host, int(args.port)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mocksrv.healthcheck", description=__doc__)
    ap.add_argument("--pid", type=int, default=1, help="the server's process (default 1)")
    ap.add_argument("--timeout", type=float, default=2.0, help="seconds to wait for the answer")
    args = ap.parse_args(argv)
    try:
        host, port = target(args.pid)
    except (OSError, ValueError, SystemExit) as exc:
        print(f"mocksrv healthcheck: cannot read the server's settings: {exc}", file=sys.stderr)
        return 1
    if port == 0:
        print("mocksrv healthcheck: the server picks a free port at start-up (--port 0); "
              "give it a fixed one", file=sys.stderr)  # fmt: skip
        return 1
    try:
        conn = http.client.HTTPConnection(host, port, timeout=args.timeout)
        conn.request("GET", "/__admin/health")
        status = conn.getresponse().status
    except OSError as exc:
        print(f"mocksrv healthcheck: {host}:{port}: {exc}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"mocksrv healthcheck: {host}:{port}: /__admin/health answered {status}",
              file=sys.stderr)  # fmt: skip
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

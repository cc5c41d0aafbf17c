"""The servers under test (mocksrv, optionally a baseline mocksrv, WireMock with and without its
request journal, bare moto): launch commands and readiness probes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import sign
from procs import BENCH, CACHE, HOST, Server, http_status, mocksrv_cmd

SCENARIO = BENCH / "scenario.yaml"
WIREMOCK_ROOT = BENCH / "wiremock"
WIREMOCK_PREFIX = CACHE / "wiremock"

Probe = Callable[[int], int]


def wiremock_jar() -> Path:
    """The standalone jar from the npm package `wiremock`, installed under bench/.cache/."""
    jars = sorted(WIREMOCK_PREFIX.glob("node_modules/wiremock/build/wiremock-standalone-*.jar"))
    if not jars:
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(WIREMOCK_PREFIX), "wiremock"],
            check=True, timeout=300,
        )  # fmt: skip
        jars = sorted(WIREMOCK_PREFIX.glob("node_modules/wiremock/build/wiremock-standalone-*.jar"))
    if not jars:
        raise RuntimeError("npm package wiremock installed no standalone jar")
    return jars[-1]


def start_mocksrv(port: int) -> Server:
    return Server("mocksrv", mocksrv_cmd(port, SCENARIO), port)


def start_mocksrv_default(port: int) -> Server:
    """`mocksrv serve --port P` on the embedded default scenario (the start-up measurement)."""
    return Server("mocksrv", mocksrv_cmd(port, None), port)


def baseline_dir() -> Path | None:
    """Another mocksrv source tree to measure beside this one (run.py --baseline DIR)."""
    text = os.environ.get("MOCKSRV_BENCH_BASELINE", "")
    return Path(text).resolve() if text else None


def start_mocksrv_baseline(port: int) -> Server:
    """The same interpreter and packages, mocksrv's code from the --baseline tree (e.g. main)."""
    src = baseline_dir()
    if src is None or not (src / "mocksrv" / "__init__.py").is_file():
        raise RuntimeError(f"--baseline {src}: not a mocksrv source tree")
    cmd = [
        sys.executable,
        "-m",
        "mocksrv",
        "serve",
        "--port",
        str(port),
        "--scenario",
        str(SCENARIO),
    ]
    return Server("mocksrv-baseline", cmd, port, cwd=src, env={"PYTHONPATH": str(src)})


def _wiremock_cmd(port: int) -> list[str]:
    return [
        "java", "-jar", str(wiremock_jar()), "--port", str(port), "--bind-address", HOST,
        "--root-dir", str(WIREMOCK_ROOT), "--disable-banner",
    ]  # fmt: skip


def start_wiremock(port: int) -> Server:
    """WireMock's defaults: an unbounded request journal (a capped one is far slower)."""
    return Server("wiremock", _wiremock_cmd(port), port)


def start_wiremock_nojournal(port: int) -> Server:
    """How users run WireMock for speed: no request journal at all."""
    return Server("wiremock-nojournal", [*_wiremock_cmd(port), "--no-request-journal"], port)


def start_moto(port: int) -> Server:
    return Server("moto", [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)], port)


def mocksrv_probe(port: int) -> Probe:
    """A signed verify request (signed now, valid for the 5 min Prime skew window)."""
    headers = sign.prime_headers(port)
    return lambda p: http_status(p, "GET", sign.VERIFY_PATH, headers)


def wiremock_probe(port: int) -> Probe:
    return lambda p: http_status(p, "GET", sign.VERIFY_PATH, {"x-amz-marketplace": "US"})


def moto_probe(port: int) -> Probe:
    return lambda p: http_status(p, "GET", "/", {})


STARTERS = {
    "mocksrv": start_mocksrv,
    "mocksrv-baseline": start_mocksrv_baseline,
    "mocksrv-default": start_mocksrv_default,
    "wiremock": start_wiremock,
    "wiremock-nojournal": start_wiremock_nojournal,
    "moto": start_moto,
}
PROBES = {
    "mocksrv": mocksrv_probe,
    "mocksrv-baseline": mocksrv_probe,
    "mocksrv-default": mocksrv_probe,
    "wiremock": wiremock_probe,
    "wiremock-nojournal": wiremock_probe,
    "moto": moto_probe,
}


def launch(name: str, port: int) -> tuple[Server, float]:
    """Start `name` on `port` and wait for its first 200; (server, seconds to that 200)."""
    probe = PROBES[name](port)  # signed before the launch: signing is not start-up time
    server = STARTERS[name](port)
    try:
        return server, server.wait_ready(probe)
    except BaseException:
        server.stop()
        raise

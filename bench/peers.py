"""The three servers under test (mocksrv, WireMock, bare moto): launch commands and readiness probes."""

from __future__ import annotations

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


def start_wiremock(port: int) -> Server:
    cmd = [
        "java", "-jar", str(wiremock_jar()), "--port", str(port), "--bind-address", HOST,
        "--root-dir", str(WIREMOCK_ROOT), "--disable-banner",
    ]  # fmt: skip  # defaults otherwise: a capped journal (--max-request-journal-entries) is far slower
    return Server("wiremock", cmd, port)


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
    "mocksrv-default": start_mocksrv_default,
    "wiremock": start_wiremock,
    "moto": start_moto,
}
PROBES = {
    "mocksrv": mocksrv_probe,
    "mocksrv-default": mocksrv_probe,
    "wiremock": wiremock_probe,
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

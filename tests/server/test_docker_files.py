"""The Dockerfile's health check and docker-compose.yml's command, run here as they would run in the
container (no Docker engine on the test machine): the same command lines, ports and paths swapped
for free ones."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import requests
import yaml

from tests.support.cli import Serve, free_port
from tests.support.paths import ROOT


def healthcheck_command() -> list[str]:
    text = (ROOT / "Dockerfile").read_text()
    match = re.search(r"HEALTHCHECK [^\n]*\\\n\s*CMD (\[.*\])", text)
    assert match, "the Dockerfile has a HEALTHCHECK with an exec-form CMD"
    cmd = list(json.loads(match.group(1)))
    assert cmd[0] == "python"
    return [sys.executable, *cmd[1:]]


def healthcheck(pid: int) -> subprocess.CompletedProcess[str]:
    """The image's health check, pointed at `pid` (in the container: process 1, the server)."""
    return subprocess.run([*healthcheck_command(), "--pid", str(pid)], capture_output=True,
                          text=True, timeout=30, cwd=ROOT)  # fmt: skip


def test_the_healthcheck_follows_the_configured_port_and_fails_without_a_server():
    # as in the image: every address, the token required (tests connect to 127.0.0.1 only)
    by_flag = Serve("--host", "0.0.0.0", port=str(free_port()))
    by_env = Serve(env={"MOCKSRV_HOST": "0.0.0.0", "MOCKSRV_PORT": str(free_port()),
                        "MOCKSRV_ADMIN_TOKEN": "docker"}, port=None)  # fmt: skip
    try:
        for srv in (by_flag, by_env):
            done = healthcheck(srv.proc.pid)
            assert done.returncode == 0, done.stderr
    finally:
        by_flag.stop()
        by_env.stop()
    stray = Serve(port="0")  # picks its port at start-up: nothing to probe
    try:
        assert "picks a free port" in healthcheck(stray.proc.pid).stderr
    finally:
        stray.stop()
    # a process configured as `serve --port P` with nothing listening there: unhealthy
    idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "serve",
                             "--port", str(free_port())])  # fmt: skip
    try:
        done = healthcheck(idle.pid)
        assert done.returncode == 1 and "Connection refused" in done.stderr, done.stderr
    finally:
        idle.kill()
        idle.wait()


def test_the_compose_command_starts_a_demo_server(tmp_path: Path):
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    service = compose["services"]["mocksrv"]
    port, tls = free_port(), free_port()
    args = [
        a.replace("4599", str(port))
        .replace("4443", str(tls))
        .replace("/state/", f"{tmp_path}/state/")
        .replace("=/ca", f"={tmp_path}/ca")
        for a in service["command"]
    ]
    assert "MOCKSRV_ADMIN_TOKEN" in service["environment"]
    token = "compose-test-token"
    env = {"PATH": "/usr/bin:/bin", "MOCKSRV_ADMIN_TOKEN": token, "HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "mocksrv", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines = []
        while not lines or " listening on " not in lines[-1]:
            lines.append(proc.stdout.readline())
            assert lines[-1], "".join(lines)
        assert f":{port}" in lines[-1], lines
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while True:
            try:
                r = requests.get(
                    base + "/", headers={"Accept": "text/html"}, allow_redirects=False, timeout=5
                )
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        assert r.status_code == 302 and r.headers["Location"] == "/__admin/dashboard"
        assert (tmp_path / "state" / "mocksrv.db").exists()
        assert (tmp_path / "ca" / "ca.pem").exists()
        https = requests.get(
            f"https://localhost:{tls}/", headers={"Accept": "text/html"},
            verify=str(tmp_path / "ca" / "ca.pem"), allow_redirects=False, timeout=10,
        )  # fmt: skip
        assert https.status_code == 302
    finally:
        proc.terminate()
        proc.wait(20)
        if proc.stdout is not None:
            proc.stdout.close()

"""The Dockerfile's health check and docker-compose.yml's command, run here as they would run in the
container (no Docker engine on the test machine): the same command lines, ports and paths swapped
for free ones."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
import yaml

from tests.support.paths import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def healthcheck_command() -> list[str]:
    text = (ROOT / "Dockerfile").read_text()
    match = re.search(r"HEALTHCHECK [^\n]*\\\n\s*CMD (\[.*\])", text)
    assert match, "the Dockerfile has a HEALTHCHECK with an exec-form CMD"
    return list(json.loads(match.group(1)))


def test_the_healthcheck_passes_on_a_running_server_and_fails_without_one(server_factory):
    # as in the image: bound to every address (tests connect to 127.0.0.1 only)
    srv = server_factory(host="0.0.0.0")
    _check_health(srv.port)


def _check_health(port: int) -> None:
    cmd = healthcheck_command()
    assert cmd[0] == "python"
    script = cmd[2].replace("4599", str(port))
    ok = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=30)
    assert ok.returncode == 0, ok.stderr
    down = cmd[2].replace("4599", str(free_port()))
    failed = subprocess.run([sys.executable, "-c", down], capture_output=True, timeout=30)
    assert failed.returncode != 0


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

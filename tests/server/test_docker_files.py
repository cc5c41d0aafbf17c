"""The Dockerfile's health check and docker-compose.yml's commands (the demo server, and the
`replicas` profile: PostgreSQL, three replicas, HAProxy with deploy/haproxy.cfg), run here as they
would run in their containers (no Docker engine on the test machine): the same command lines,
environment and configuration, ports, paths and host names swapped for local ones."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import requests
import yaml

from tests.support import haproxy
from tests.support.agcod import Client
from tests.support.cli import Serve, free_port
from tests.support.paths import ROOT
from tests.support.postgres import Postgres


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


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}` and `${VAR:?message}`, filled in as compose does."""

    def one(m: re.Match[str]) -> str:
        name, op, arg = m.group(1), m.group(2), m.group(3)
        value = env.get(name, "")
        if op == ":?":
            assert value, f"compose stops here: {arg}"
        return value or (arg if op == ":-" else "")

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, text)


def replicas_profile() -> dict:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert "profiles" not in compose["services"]["mocksrv"]  # `docker compose up`: the demo only
    found = {n: s for n, s in compose["services"].items() if "replicas" in s.get("profiles", [])}
    assert sorted(found) == ["lb", "postgres", "replica1", "replica2", "replica3"], found
    return found


def test_the_replicas_profile_haproxy_is_the_tested_config():
    lb = replicas_profile()["lb"]
    assert lb["image"] == "haproxy:2.6"  # the version Debian 12 installs for the tests
    mount = next(v for v in lb["volumes"] if v.endswith(":/usr/local/etc/haproxy/haproxy.cfg:ro"))
    assert (ROOT / mount.split(":")[0]).resolve() == haproxy.CONFIG
    text = haproxy.CONFIG.read_text()
    assert haproxy.config(3) == text  # tests/state/test_replicas.py runs this very file
    # its defaults are the profile's: the replicas' service names and port, the published ports
    defaults = re.findall(r'"\$\{MOCKSRV_REPLICA_(\d)-([\w-]+):(\d+)\}"', text)
    services = replicas_profile()
    assert [(n, host) for n, host, _ in defaults] == [("1", "replica1"), ("2", "replica2"),
                                                      ("3", "replica3")]  # fmt: skip
    for _, host, port in defaults:
        assert f"--port={port}" in services[host]["command"], services[host]
    assert '"${MOCKSRV_LB_BIND-:4599}"' in text and "4600:4599" in lb["ports"]
    assert '"${MOCKSRV_LB_STATS-:8404}"' in text and "127.0.0.1:8404:8404" in lb["ports"]
    # valid as the container reads it (the replicas' names do not resolve here: a warning)
    done = subprocess.run([haproxy.binary(), "-c", "-f", str(haproxy.CONFIG)],
                          capture_output=True, text=True, timeout=30, env={})  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_replicas_profile_runs_as_composed():
    services = replicas_profile()
    token = "compose-replicas-token"
    env = {"MOCKSRV_ADMIN_TOKEN": token}  # MOCKSRV_PG_PASSWORD: its default
    db = {k: interpolate(v, env) for k, v in services["postgres"]["environment"].items()}
    replica = services["replica1"]
    assert services["replica2"] == services["replica3"] == replica
    with Postgres() as pg:
        # the role and database the postgres image makes from its environment
        pg.sql(f"CREATE ROLE {db['POSTGRES_USER']} LOGIN PASSWORD '{db['POSTGRES_PASSWORD']}'")
        pg.sql(f"CREATE DATABASE {db['POSTGRES_DB']} OWNER {db['POSTGRES_USER']}")
        check = [*services["postgres"]["healthcheck"]["test"][1:], "-p", str(pg.port)]
        assert subprocess.run(check, capture_output=True, timeout=30).returncode == 0
        renv = {k: interpolate(v, env) for k, v in replica["environment"].items()}
        renv["MOCKSRV_STATE"] = renv["MOCKSRV_STATE"].replace("@postgres:5432/",
                                                              f"@127.0.0.1:{pg.port}/")  # fmt: skip
        assert renv["MOCKSRV_STATE"].startswith(f"postgresql://{db['POSTGRES_USER']}:")
        assert replica["command"][0] == "serve"
        replicas: list[Serve] = []
        lb = haproxy.HAProxy(3)
        try:
            for port in (str(free_port()) for _ in range(3)):
                args = [a.replace("4599", port) for a in replica["command"][1:]]
                replicas.append(Serve(*args, env=renv, port=None))
            lb.start([r.url for r in replicas])
            lb.wait_up()
            for r in replicas:  # the image's health check, on each replica
                done = healthcheck(r.proc.pid)
                assert done.returncode == 0, done.stderr
            assert_the_replica_set_answers(lb, replicas, token)
        finally:
            lb.stop()
            for r in replicas:
                r.stop()


def assert_the_replica_set_answers(lb: haproxy.HAProxy, replicas: list[Serve], token: str) -> None:
    assert requests.get(lb.url + "/__admin/health", timeout=10).json() == {"status": "ok"}
    assert requests.get(lb.url + "/__admin/state/agcod", timeout=10).status_code == 401
    card = Client(lb, "MocksProd").create("MocksProdCompose1", 5)
    assert card.status_code == 200, card.text
    bearer = {"Authorization": f"Bearer {token}"}
    for r in replicas:  # one state: the card on each replica, behind the shared token
        snap = requests.get(r.url + "/__admin/state/agcod", headers=bearer, timeout=10).json()
        assert [c["creationRequestId"] for c in snap["cards"]] == ["MocksProdCompose1"]

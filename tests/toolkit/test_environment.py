"""Issue 22: every `serve` and `run` option as an environment variable, beaten by its flag, through
the real command line (child processes, real sockets)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import requests

from mocksrv import options
from tests.support.cli import PY, Serve, free_port
from tests.support.paths import ROOT
from tests.support.signing import PRIME_KEY, Signer

TOKEN_ENV, TOKEN_FLAG = "token-from-the-environment", "token-from-the-flag"
VERIFY = "/v1/customer/benefit/PRIME_3P_PARTNER_BENEFIT/offer-code/123456789/verify"
WRONG = Signer(PRIME_KEY, "not-the-secret", "execute-api", "us-east-1")


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any MOCKSRV_ option variable, plus `extra`."""
    names = {o.env for o in [*options.SERVER, *options.RUN]}
    return {**{k: v for k, v in os.environ.items() if k not in names}, **extra}


def wrong_secret(url: str) -> requests.Response:
    return WRONG.send("GET", url + VERIFY, {"x-amz-marketplace": "US"},
                      unsigned={"x-amz-request-id": "env"})  # fmt: skip


def files(tmp: Path) -> dict[str, Path]:
    (tmp / "roots").mkdir()
    own = tmp / "own.yaml"
    own.write_text("version: 1\nextends: default\nname: from-the-environment\n")
    flagged = tmp / "flagged.yaml"
    flagged.write_text("version: 1\nextends: default\nname: from-the-flag\n")
    (tmp / "roots" / "other.yaml").write_text("version: 1\nextends: default\nname: other\n")
    return {"own": own, "flagged": flagged, "other": tmp / "roots" / "other.yaml"}


def load_other(srv: Serve, token: str, path: Path) -> int:
    r = requests.post(f"{srv.url}/__admin/scenarios", json={"paths": [str(path)]},
                      headers={"Authorization": f"Bearer {token}"}, timeout=10)  # fmt: skip
    return r.status_code


def test_every_serve_variable_is_honoured(tmp_path):
    f = files(tmp_path)
    port = free_port()
    env = clean_env(
        MOCKSRV_HOST="0.0.0.0", MOCKSRV_PORT=str(port), MOCKSRV_SCENARIO=str(f["own"]),
        MOCKSRV_SCENARIO_ROOT=str(tmp_path / "roots"), MOCKSRV_LOG_LEVEL="debug",
        MOCKSRV_LOG_FORMAT="json", MOCKSRV_SIGV4_DEBUG="1", MOCKSRV_TLS_PORT="0",
        MOCKSRV_CA_DIR=str(tmp_path / "ca-env"), MOCKSRV_ADMIN_TOKEN=TOKEN_ENV,
        MOCKSRV_ADMIN_HOST="sandbox.test", MOCKSRV_METRICS_OPEN="yes",
        MOCKSRV_STATE=str(tmp_path / "env.db"),
    )  # fmt: skip
    srv = Serve(env=env, port=None)
    try:
        assert srv.lines[0].startswith("mocksrv ") and f" 0.0.0.0:{port} " in srv.lines[0]
        assert srv.url == f"http://127.0.0.1:{port}"
        assert any(line.startswith("HTTPS on https://") for line in srv.lines)
        assert srv.lines[-1].endswith(f", {f['own']}")
        assert (tmp_path / "ca-env" / "ca.pem").is_file() and (tmp_path / "env.db").is_file()
        assert load_other(srv, TOKEN_ENV, f["other"]) == 200  # a --scenario-root directory
        assert requests.get(f"{srv.url}/__admin/metrics", timeout=10).status_code == 200
        mismatch = wrong_secret(srv.url)
        assert mismatch.status_code == 403 and "canonical" in mismatch.text.lower()
    finally:
        err = srv.stop()
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any(x["logger"] == "mocksrv.requests" and x.get("status") == 403 for x in lines), err
    assert any(x["level"] == "DEBUG" and "api=admin" in x["message"] for x in lines), err


def test_admin_host_variable_names_a_host_on_loopback():
    srv = Serve(env=clean_env(MOCKSRV_ADMIN_HOST="sandbox.test,other.test"))
    try:
        for host in ("sandbox.test", "other.test"):
            r = requests.get(f"{srv.url}/__admin/version", headers={"Host": host}, timeout=10)
            assert r.status_code == 200, host
    finally:
        srv.stop()
    flagged = Serve("--admin-host", "flag.test", env=clean_env(MOCKSRV_ADMIN_HOST="sandbox.test"))
    try:
        ok = requests.get(
            f"{flagged.url}/__admin/version", headers={"Host": "flag.test"}, timeout=10
        )
        assert ok.status_code == 200
        r = requests.get(
            f"{flagged.url}/__admin/version", headers={"Host": "sandbox.test"}, timeout=10
        )
        assert r.status_code == 403
    finally:
        flagged.stop()


def test_every_serve_flag_beats_its_variable(tmp_path):
    f = files(tmp_path)
    taken = free_port()
    env = clean_env(
        MOCKSRV_HOST="0.0.0.0", MOCKSRV_PORT=str(taken), MOCKSRV_SCENARIO=str(f["own"]),
        MOCKSRV_SCENARIO_ROOT=str(tmp_path / "roots"), MOCKSRV_LOG_LEVEL="warning",
        MOCKSRV_LOG_FORMAT="json", MOCKSRV_SIGV4_DEBUG="0", MOCKSRV_SERVER="waitress",
        MOCKSRV_TLS_PORT=str(taken), MOCKSRV_CA_DIR=str(tmp_path / "ca-env"),
        MOCKSRV_ADMIN_TOKEN=TOKEN_ENV, MOCKSRV_STATE=str(tmp_path / "env.db"),
    )  # fmt: skip
    flags = [
        "--host", "127.0.0.1", "--scenario", str(f["flagged"]), "--scenario-root", str(ROOT / "examples"),
        "--log-level", "info", "--log-format", "text", "--sigv4-debug", "--server", "builtin",
        "--tls-port", "0", "--ca-dir", str(tmp_path / "ca-flag"), "--admin-token", TOKEN_FLAG,
        "--state", str(tmp_path / "flag.db"),
    ]  # fmt: skip
    srv = Serve(*flags, env=env)  # and --port 0
    try:
        assert (
            srv.lines[0].startswith("mocksrv ")
            and " listening on http://127.0.0.1:" in srv.lines[0]
        )
        assert srv.port != taken
        assert srv.lines[-1].endswith(f", {f['flagged']}")
        assert not (tmp_path / "ca-env").exists() and (tmp_path / "ca-flag" / "ca.pem").is_file()
        assert not (tmp_path / "env.db").exists() and (tmp_path / "flag.db").is_file()
        assert load_other(srv, TOKEN_FLAG, f["other"]) == 403  # not the variable's directory
        assert load_other(srv, TOKEN_ENV, f["other"]) == 401  # the flag's token only
        health = requests.get(f"{srv.url}/__admin/health", timeout=10)
        assert "Server" not in health.headers  # the built-in server (waitress names itself)
        assert "canonical" in wrong_secret(srv.url).text.lower()
    finally:
        err = srv.stop()
    assert " INFO mocksrv.requests: api=prime operation=verify " in err, err
    assert not [line for line in err.splitlines() if line.startswith("{")]


def test_server_and_threads_variables(tmp_path):
    def tasks(*args: str, **env: str) -> tuple[int, str]:
        srv = Serve(*args, env=clean_env(**env))
        try:
            server = requests.get(f"{srv.url}/__admin/health", timeout=10).headers.get("Server")
            return len(os.listdir(f"/proc/{srv.proc.pid}/task")), str(server)
        finally:
            srv.stop()

    env_count, env_server = tasks(MOCKSRV_SERVER="waitress", MOCKSRV_THREADS="12")
    flag_count, _ = tasks("--threads", "3", MOCKSRV_SERVER="waitress", MOCKSRV_THREADS="12")
    assert env_server == "mocksrv"  # waitress, as configured, names itself
    assert env_count - flag_count == 12 - 3  # one thread per worker


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PY, "-m", "mocksrv", "run", *args], cwd=ROOT, env=clean_env(**env),
                          capture_output=True, text=True, timeout=120)  # fmt: skip


PRINT_URL = [sys.executable, "-c", "import os; print('URL', os.environ['MOCKSRV_URL'])"]


def test_run_variables_and_their_flags(tmp_path):
    port = free_port()
    done = run(
        "--", *PRINT_URL, MOCKSRV_PORT=str(port), MOCKSRV_JUNIT_XML=str(tmp_path / "env.xml")
    )
    assert done.returncode == 0, done.stderr
    assert f"URL http://127.0.0.1:{port}\n" in done.stdout
    assert (tmp_path / "env.xml").is_file()
    done = run("--port", "0", "--junit-xml", str(tmp_path / "flag.xml"), "--", *PRINT_URL,
               MOCKSRV_PORT=str(port), MOCKSRV_JUNIT_XML=str(tmp_path / "env2.xml"))  # fmt: skip
    assert done.returncode == 0 and f":{port}\n" not in done.stdout
    assert (tmp_path / "flag.xml").is_file() and not (tmp_path / "env2.xml").exists()
    sleep = [sys.executable, "-c", "import time; time.sleep(3)"]
    assert run("--", *sleep, MOCKSRV_TIMEOUT="0.5").returncode == 124
    assert run("--timeout", "60", "--", *sleep, MOCKSRV_TIMEOUT="0.5").returncode == 0


def test_run_is_quiet_unless_its_log_level_says_info():
    verify = [
        sys.executable, "-c",
        "import os, requests; requests.get(os.environ['MOCKSRV_URL'] + '/__admin/health')\n"
        f"requests.get(os.environ['MOCKSRV_URL'] + '{VERIFY}', headers={{'x-amz-marketplace': 'US'}})",
    ]  # fmt: skip
    quiet = run("--", *verify)
    assert quiet.returncode == 0 and "mocksrv.requests" not in quiet.stderr
    loud = run("--", *verify, MOCKSRV_LOG_LEVEL="info")
    assert "INFO mocksrv.requests: api=prime operation=verify " in loud.stderr, loud.stderr


def test_bad_values_are_one_clear_line():
    cases = {
        "MOCKSRV_PORT": ("http", "MOCKSRV_PORT='http': not a port number: 'http'"),
        "MOCKSRV_TLS_PORT": ("70000", "MOCKSRV_TLS_PORT='70000': port must be 0-65535, not 70000"),
        "MOCKSRV_LOG_LEVEL": ("loud", "MOCKSRV_LOG_LEVEL='loud': give one of debug, info, warning, error"),
        "MOCKSRV_SIGV4_DEBUG": ("maybe", "MOCKSRV_SIGV4_DEBUG='maybe': give one of 1, true, yes, on, 0, false, no, off"),
        "MOCKSRV_THREADS": ("many", "MOCKSRV_THREADS='many': not a whole number: 'many'"),
    }  # fmt: skip
    for name, (value, message) in cases.items():
        done = subprocess.run([PY, "-m", "mocksrv", "serve"], cwd=ROOT, env=clean_env(**{name: value}),
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert done.returncode == 2
        assert done.stderr == f"mocksrv: {message}\n", done.stderr


def test_help_lists_every_variable():
    for command, listed in (("serve", options.SERVER), ("run", [*options.SERVER, *options.RUN])):
        text = subprocess.run([PY, "-m", "mocksrv", command, "--help"], cwd=ROOT, env=clean_env(),
                              capture_output=True, text=True, timeout=60).stdout  # fmt: skip
        flat = " ".join(text.split())
        for o in listed:
            assert f"[{o.env}" in flat, (command, o.env)

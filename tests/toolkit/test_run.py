"""`mocksrv run` in a subprocess: the command's environment, expectations, exit status, JUnit XML."""

from __future__ import annotations

import json
import subprocess
import sys
from xml.etree import ElementTree as ET

import requests

from tests.support.cli import Serve
from tests.support.paths import ROOT

PY = sys.executable


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PY, "-m", "mocksrv", "run", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_expectations_met_exit_zero():
    done = run(
        "--scenario", "scenarios/prime-outcomes.yaml", "--", PY, "examples/prime_client.py"
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "mocksrv run: 8/8 expectations met" in done.stdout
    assert "100000001 {'message': 'SUCCESS'}" in done.stdout  # the command's own output


def test_unmet_expectation_exits_non_zero_and_is_named(tmp_path):
    report = tmp_path / "junit.xml"
    done = run(
        "--scenario", "scenarios/prime-outcomes.yaml", "--junit-xml", str(report),
        "--", PY, "examples/prime_client.py", "--skip-redeem",
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "mocksrv run: 7/8 expectations met" in done.stdout
    assert (
        "UNMET  daily code redeemed exactly twice: expected exactly 2 matching request(s), got 0"
        in done.stdout
    )
    suite = ET.parse(report).getroot()
    assert (suite.get("tests"), suite.get("failures")) == ("9", "1")
    (failed,) = [c for c in suite if c.find("failure") is not None]
    assert failed.get("name") == "daily code redeemed exactly twice"
    assert failed.find("failure").get("message") == (  # type: ignore[union-attr]
        "expected exactly 2 matching request(s), got 0"
    )


def test_failing_command_exit_status_is_passed_on(tmp_path):
    report = tmp_path / "junit.xml"
    done = run("--junit-xml", str(report), "--", PY, "-c", "import sys; sys.exit(3)")
    assert done.returncode == 3
    assert "mocksrv run: command exited with status 3" in done.stderr
    suite = ET.parse(report).getroot()
    command = suite.find("testcase[@classname='mocksrv.command']")
    assert command is not None and command.find("failure") is not None


def test_command_environment():
    script = (
        "import os\n"
        "for k in sorted(os.environ):\n"
        "    if k.startswith(('MOCKSRV_', 'AWS_')): print(f'{k}={os.environ[k]}')\n"
    )
    done = run("--", PY, "-c", script)
    assert done.returncode == 0, done.stderr
    env = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    url = env["MOCKSRV_URL"]
    assert url.startswith("http://127.0.0.1:") and not url.endswith(":4599")
    assert env["AWS_ENDPOINT_URL"] == url and env["MOCKSRV_ADMIN_URL"] == url + "/__admin"
    assert env["MOCKSRV_PRIME_ACCESS_KEY_ID"] == "AKIAMOCKSRVPRIME0001"
    assert env["MOCKSRV_PRIME_SECRET_ACCESS_KEY"] == "MockSrvPrimeDemoSecretKey000000000000001"
    assert env["MOCKSRV_AGCOD_ACCESS_KEY_ID"] == "AKIAMOCKSRVAGCOD0001"
    assert env["MOCKSRV_IDENTITY_AGCOD_PRODUCTION_ACCESS_KEY_ID"] == "AKIAMOCKSRVAGCOD0002"
    assert env["MOCKSRV_PROMOTIONS_ACCESS_KEY_ID"] == "AKIAMOCKSRVPROMO0001"
    assert env["AWS_ACCESS_KEY_ID"] == "AKIAMOCKSRVPROMO0001"
    assert env["AWS_DEFAULT_REGION"] == "us-east-1"


def test_missing_command():
    done = run("--scenario", "scenarios/prime-outcomes.yaml")
    assert done.returncode == 2
    assert "mocksrv run: give the command after --" in done.stderr


def test_command_not_found():
    done = run("--", "no-such-command-mocksrv")
    assert done.returncode == 127
    assert "mocksrv run: cannot start 'no-such-command-mocksrv'" in done.stderr


def test_invalid_scenario_is_reported_before_running(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nfaults:\n  - match: {api: prime}\n    error: Nope\n")
    done = run("--scenario", str(bad), "--", PY, "-c", "print('ran')")
    assert done.returncode == 2
    assert "ran" not in done.stdout
    assert f"{bad}:3: faults[0]: error: 'Nope' is not a prime wire error" in done.stderr


def test_sigterm_stops_command_and_server():
    proc = subprocess.Popen(
        [PY, "-m", "mocksrv", "run", "--", PY, "-c", "import time; print('started', flush=True); time.sleep(60)"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("mocksrv run: serving on http://127.0.0.1:")
        assert proc.stdout.readline() == "started\n"
        proc.terminate()
        assert proc.wait(timeout=15) == 130
    finally:
        proc.kill()
        proc.communicate(timeout=15)


def test_command_timeout():
    done = run("--timeout", "1", "--", PY, "-c", "import time; time.sleep(30)", timeout=60)
    assert done.returncode == 124
    assert "mocksrv run: command killed after 1.0 s" in done.stderr


def test_server_url_environment_is_the_runs_tenant_and_it_is_deleted_after(tmp_path):
    srv = Serve()
    try:
        script = (
            "import os, json; print(json.dumps({k: v for k, v in os.environ.items()"
            " if k.startswith(('MOCKSRV_', 'AWS_'))}))"
        )
        done = run("--server", srv.url, "--", PY, "-c", script)
        assert done.returncode == 0, done.stderr
        (line,) = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
        env = json.loads(line)
        tenant = env["MOCKSRV_TENANT"]
        assert done.stdout.startswith(f"mocksrv run: using {srv.url}, tenant {tenant}; running:")
        assert env["MOCKSRV_URL"] == env["AWS_ENDPOINT_URL"] == srv.url
        assert env["MOCKSRV_ADMIN_URL"] == f"{srv.url}/__admin/tenants/{tenant}"
        assert len(env["MOCKSRV_RUN"]) == 12
        assert env["MOCKSRV_PRIME_ACCESS_KEY_ID"] not in ("", "AKIAMOCKSRVPRIME0001")
        assert env["AWS_ACCESS_KEY_ID"] == env["MOCKSRV_PROMOTIONS_ACCESS_KEY_ID"]
        assert env["MOCKSRV_IDENTITY_AGCOD_PRODUCTION_ACCESS_KEY_ID"].startswith("AKIA")
        assert requests.get(srv.url + "/__admin/tenants", timeout=10).json()["count"] == 0
    finally:
        srv.stop()


def test_server_url_refusals_are_one_line_each(tmp_path):
    done = run("--server", "http://127.0.0.1:1", "--", PY, "-c", "print('ran')")
    assert done.returncode == 2 and "ran" not in done.stdout
    assert "mocksrv: cannot reach the server at http://127.0.0.1:1 (ConnectionError)" in done.stderr
    done = run("--server", "http://127.0.0.1:1", "--state", "x.db", "--", PY, "-c", "print('ran')")
    assert done.returncode == 2
    assert "--state shape(s) a server this run does not start" in done.stderr
    done = run("--server", "ftp://x", "--", PY, "-c", "print('ran')")
    assert done.returncode == 2
    assert "give builtin, waitress or the URL of a running mocksrv" in done.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nfaults:\n  - match: {api: prime}\n    error: Nope\n")
    done = run("--server", "http://127.0.0.1:1", "--scenario", str(bad), "--", PY, "-c", "1")
    assert done.returncode == 2  # checked here, before the server is asked
    assert f"{bad}:3: faults[0]: error: 'Nope' is not a prime wire error" in done.stderr

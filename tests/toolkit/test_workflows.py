"""Workflows end to end: the pytest plugin under `mocksrv run` and against a running server, the
JUnit report, scenario mistakes in one round, bundled scenarios by name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from xml.etree import ElementTree as ET

import requests

from tests.support.paths import ROOT

PY = sys.executable
OWN = """\
version: 1
name: partner-own
expectations:
  - name: every test verified the SUCCESS code
    match: {api: prime, operation: verify, fields: {offerCode: "123456789"}}
    count: {exactly: 3}
"""
TESTS = """\
import pytest

@pytest.mark.parametrize("i", range(3))
def test_verify(mocksrv, mocksrv_prime, mocksrv_journal, i):
    mocksrv.expect(name="this test verifies once", match={"api": "prime"}, count={"exactly": 1})
    assert mocksrv_prime.verify("123456789").json() == {"message": "SUCCESS"}
    assert len(mocksrv_journal(api="prime")) == 1  # only this test's requests
    mocksrv.assert_expectations_met()
"""


def env() -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MOCKSRV_", "AWS_"))}
    return {**clean, "PYTHONDONTWRITEBYTECODE": "1"}


def mocksrv(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PY, "-m", "mocksrv", *args], cwd=cwd, env=env(), capture_output=True, text=True,
        timeout=timeout,
    )  # fmt: skip


def project(tmp_path: Path, tests: str = TESTS) -> Path:
    (tmp_path / "its-own.yaml").write_text(OWN)
    (tmp_path / "test_partner.py").write_text(tests)
    return tmp_path


def run_pytest(tmp_path: Path, *run_args: str) -> subprocess.CompletedProcess[str]:
    return mocksrv(
        "run", "--scenario", "default", "--scenario", "its-own.yaml", *run_args,
        "--", PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=tmp_path,
    )  # fmt: skip


def test_plugin_under_run_counts_every_tests_requests(tmp_path):
    done = run_pytest(project(tmp_path), "--junit-xml", "reports/a/b.xml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout
    assert "mocksrv run: 1/1 expectations met" in done.stdout
    assert "met    every test verified the SUCCESS code (3)" in done.stdout
    suite = ET.parse(tmp_path / "reports/a/b.xml").getroot()
    assert suite.get("tests") == "2" and suite.get("failures") == "0"


def test_failing_test_exit_code_passes_through_and_junit_is_written(tmp_path):
    failing = TESTS + "\n\ndef test_broken(mocksrv_prime):\n    assert False\n"
    done = run_pytest(project(tmp_path, failing), "--junit-xml", "out/deep/report.xml")
    assert done.returncode == 1, done.stdout + done.stderr  # pytest's code for failed tests
    assert "1 failed, 3 passed" in done.stdout
    assert "Traceback" not in done.stderr
    suite = ET.parse(tmp_path / "out/deep/report.xml").getroot()
    command = suite.find("testcase[@classname='mocksrv.command']")
    assert command is not None
    failure = command.find("failure")
    assert failure is not None and failure.get("message") == "command exited with status 1"


def test_unwritable_junit_path_is_an_error_not_a_traceback(tmp_path):
    (tmp_path / "reports").write_text("a file where a folder should be")
    done = run_pytest(project(tmp_path), "--junit-xml", "reports/x.xml")
    assert done.returncode == 1
    assert "mocksrv run: cannot write reports/x.xml: " in done.stderr
    assert "Traceback" not in done.stderr


def test_plugin_pointed_at_a_server_works_in_a_tenant_and_leaves_the_server_alone(
    tmp_path, server_factory
):
    """Each test checks its own expectations and sees its own journal scope, in a tenant the
    session made; the server's own journal, expectations and tenants are as they were."""
    srv = server_factory(
        [str(ROOT / "scenarios/default.yaml"), str(project(tmp_path) / "its-own.yaml")]
    )
    done = subprocess.run(
        [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--mocksrv-url", srv.url],
        cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout
    every = requests.get(f"{srv.url}/__admin/journal?api=prime&scope=all", timeout=5).json()
    assert every["count"] == 0  # the tests' requests went to their tenant
    report = requests.get(f"{srv.url}/__admin/expectations/verify", timeout=5).json()
    assert report["expectations"][0]["actual"] == 0
    assert requests.get(f"{srv.url}/__admin/tenants", timeout=5).json()["tenants"] == []


def test_marker_scenario_under_run_then_back_to_the_runs_scenario(tmp_path):
    tests = TESTS + textwrap.dedent(
        """

        @pytest.mark.mocksrv_scenario("agcod-sandbox-realistic")
        def test_other_scenario(mocksrv):
            assert [i["api"] for i in mocksrv.identities()] == ["agcod", "agcod"]
        """
    )
    done = run_pytest(project(tmp_path, tests))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "met    every test verified the SUCCESS code (3)" in done.stdout


def test_broken_session_scenario_is_one_clear_error(tmp_path):
    (tmp_path / "broken.yaml").write_text("version: 1\nagcod:\n  partner: []\n")
    project(tmp_path)
    done = subprocess.run(
        [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--mocksrv-scenario", "broken.yaml"],
        cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode == 4, out
    assert "mocksrv: invalid scenario:" in out
    assert (
        f"{tmp_path / 'broken.yaml'}:3: agcod.partner: unknown key 'partner'; did you mean 'partners'?"
        in out
    )
    assert "Traceback" not in out and len(out.splitlines()) < 10


def test_schema_and_reference_problems_in_one_round(tmp_path):
    f = tmp_path / "own.yaml"
    f.write_text(
        "version: 1\nextends: default\nagcod:\n  partner: []\n  partners:\n"
        "    - {partner_id: Other, identity: nobody, marketplace: US}\n"
    )
    done = mocksrv("validate", str(f), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"{f}:4: agcod.partner: unknown key 'partner'; did you mean 'partners'?",
        f"{f}:6: agcod.partners[2].identity: no identity 'nobody' with api: agcod",
    ]


def test_bundled_scenarios_by_name_from_any_directory(tmp_path):
    done = mocksrv("validate", "agcod-sandbox-test-plan", "default", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout == "ok: 2 scenario(s) valid\n", done.stdout
    listing = mocksrv("scenarios", cwd=tmp_path).stdout
    assert (
        "agcod-sandbox-test-plan  Amazon's AGCOD sandbox test plan as a contract test.\n" in listing
    )
    assert "agcod-sandbox-realistic  AGCOD with the sandbox's documented rate limits" in listing


def test_unknown_name_lists_the_bundled_ones(tmp_path):
    done = mocksrv("validate", "agcod-sandbox-tset-plan", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout.startswith(
        "agcod-sandbox-tset-plan: no such file, and no bundled scenario of that name; did you "
        "mean 'agcod-sandbox-test-plan'? (bundled: agcod-regions, agcod-sandbox-realistic, "
        "agcod-sandbox-test-plan, "
    )


def test_own_file_extends_the_default(tmp_path, server_factory):
    (tmp_path / "own.yaml").write_text(
        "version: 1\nextends: default\nname: own\nprime:\n  benefits:\n"
        "    - id: OWN_BENEFIT\n      marketplace: US\n      offer_codes: [{code: '900000001'}]\n"
    )
    srv = server_factory([str(tmp_path / "own.yaml")])
    active = requests.get(f"{srv.url}/__admin/scenarios", timeout=5).json()["active"]
    assert [a["name"] for a in active] == ["default", "own"]
    names = [
        i["name"]
        for i in requests.get(f"{srv.url}/__admin/identities", timeout=5).json()["identities"]
    ]
    assert "agcod-sandbox" in names and "clientname" in names


def test_extends_cycle_is_a_problem(tmp_path):
    (tmp_path / "a.yaml").write_text("version: 1\nextends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("version: 1\nextends: a.yaml\n")
    done = mocksrv("validate", "a.yaml", cwd=tmp_path)
    assert done.returncode == 1
    assert "extends: a scenario cannot extend itself" in done.stdout


def test_admin_loads_bundled_names_on_a_plain_serve(server_factory):
    srv = server_factory()  # as `mocksrv serve` starts one: none of the plugin's scenario roots
    url = f"{srv.url}/__admin/scenarios"
    try:
        r = requests.post(url, json={"names": ["failure-drill"], "keepState": True}, timeout=10)
        assert r.status_code == 200, r.text
        active = [a["name"] for a in requests.get(url, timeout=5).json()["active"]]
        assert active == ["default", "failure-drill"]  # failure-drill extends the default
    finally:
        requests.post(url, json={"default": True}, timeout=10)


def test_run_help_names_the_real_default_port(tmp_path):
    done = mocksrv("run", "--help", cwd=tmp_path)
    assert "port; 0 = any free port [MOCKSRV_PORT; default 0]" in done.stdout
    assert "4599" not in done.stdout


def test_journal_scope_parameter_is_checked(mocksrv):
    r = requests.get(f"{mocksrv.url}/__admin/journal?scope=some", timeout=5)
    assert r.status_code == 400
    assert json.loads(r.text)["error"]["message"] == "scope must be current or all, not 'some'"


def test_unreachable_server_is_one_clear_error(tmp_path):
    project(tmp_path)
    done = subprocess.run(
        [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--mocksrv-url", "http://127.0.0.1:9"],
        cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    out = done.stdout + done.stderr
    assert done.returncode == 4, out
    assert "mocksrv: cannot reach the server at http://127.0.0.1:9 (ConnectionError)" in out
    assert "Traceback" not in out


def test_plugin_alone_takes_bundled_names(tmp_path):
    (tmp_path / "test_names.py").write_text(
        "def test_realistic(mocksrv):\n"
        "    assert [i['api'] for i in mocksrv.identities()] == ['agcod', 'agcod']\n"
    )
    done = subprocess.run(
        [PY, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--mocksrv-scenario", "agcod-sandbox-realistic"],
        cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_extends_an_unknown_name_points_at_the_line(tmp_path):
    (tmp_path / "own.yaml").write_text("version: 1\nname: own\nextends: defualt\n")
    done = mocksrv("validate", "own.yaml", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout.startswith(
        "own.yaml:3: extends: 'defualt' is neither a file next to this one nor a bundled "
        "scenario (bundled: agcod-regions, "
    )

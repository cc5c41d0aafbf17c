"""The command line as a user runs it: serve, validate, schema (subprocesses, real sockets)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import requests

from tests.support.cli import Serve
from tests.support.paths import ROOT, SCENARIOS
from tests.support.signing import PRIME_KEY, PRIME_SECRET, Signer

MOCKSRV = [sys.executable, "-m", "mocksrv"]


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MOCKSRV, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


def test_bundled_scenarios_validate():
    files = sorted(str(p) for p in SCENARIOS.glob("*.yaml"))
    assert len(files) >= 2
    r = run("validate", *files)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == f"ok: {len(files)} scenario(s) valid\n"


def test_validate_merge_checks_files_as_one_scenario(tmp_path):
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(
        "version: 1\nidentities:\n  - {name: p, api: prime, access_key: AKIAMERGE0000000001, secret_key: "
        + "s" * 40
        + "}\n"
    )
    b.write_text(
        "version: 1\nidentities:\n  - {name: p, api: prime, access_key: AKIAMERGE0000000002, secret_key: "
        + "s" * 40
        + "}\n"
    )
    assert run("validate", str(a), str(b)).returncode == 0
    r = run("validate", "--merge", str(a), str(b))
    assert r.returncode == 1
    assert f"{b}:3: identities[1].name: duplicate identity name (also identities[0])" in r.stdout


def test_embedded_default_is_the_bundled_default():
    from mocksrv.scenario.loader import default_text

    assert not (ROOT / "mocksrv" / "data").exists()  # one copy only
    assert default_text() == (SCENARIOS / "default.yaml").read_text("utf-8")


BROKEN = """\
version: 1
name: broken
identities:
  - name: p
    api: prime
    access_key: AKIABROKEN000000001
    secret_key: short
prime:
  benefits:
    - id: B
      marketplace: US
      offer_codes:
        - code: 12345
        - code: "X"
          days_of_week: [MON, FUNDAY]
          reply: SUCCES
clock:
  start: yesterday
"""


def test_validate_reports_every_problem_with_its_line(tmp_path):
    f = tmp_path / "broken.yaml"
    f.write_text(BROKEN)
    r = run("validate", str(f))
    assert r.returncode == 1
    lines = r.stdout.strip().splitlines()
    assert f"{f}:7: identities[0].secret_key: 'short' is too short" in lines
    assert (
        f"{f}:13: prime.benefits[0].offer_codes[0].code: 12345 is not a string (quote it in YAML)"
        in lines
    )
    assert any(
        line.startswith(f"{f}:15: prime.benefits[0].offer_codes[1].days_of_week[1]: 'FUNDAY'")
        for line in lines
    )
    assert "Traceback" not in r.stdout + r.stderr


def test_validate_semantic_problems_with_lines(tmp_path):
    f = tmp_path / "semantic.yaml"
    f.write_text(
        BROKEN.replace("secret_key: short", "secret_key: " + "s" * 40)
        .replace("code: 12345", 'code: "12345"')
        .replace("FUNDAY", "TUE")
    )
    r = run("validate", str(f))
    assert r.returncode == 1
    assert (
        f"{f}:16: prime.benefits[0].offer_codes[1].reply: 'SUCCES' is neither an outcome"
        in r.stdout
    )
    assert f"{f}:18: clock.start: 'yesterday' is not an ISO-8601 instant" in r.stdout


def test_validate_yaml_syntax_error(tmp_path):
    f = tmp_path / "syntax.yaml"
    f.write_text("version: 1\nprime:\n  benefits: [\n")
    r = run("validate", str(f))
    assert r.returncode == 1
    assert re.match(rf"{re.escape(str(f))}:4: \(yaml\): ", r.stdout)


def test_validate_duplicate_keys_and_unknown_keys(tmp_path):
    f = tmp_path / "dup.yaml"
    f.write_text("version: 1\nname: a\nname: b\nprimes: {}\n")
    r = run("validate", str(f))
    assert r.returncode == 1
    assert f"{f}:3: name: duplicate key" in r.stdout


def test_unknown_top_level_key(tmp_path):
    f = tmp_path / "unknown.yaml"
    f.write_text("version: 1\nprimes: {}\n")
    r = run("validate", str(f))
    assert r.returncode == 1
    assert f"{f}:2: primes: unknown key 'primes'; did you mean 'prime'?" in r.stdout


def test_serve_refuses_a_broken_scenario_without_traceback(tmp_path):
    f = tmp_path / "broken.yaml"
    f.write_text(BROKEN)
    r = run("serve", "--port", "0", "--scenario", str(f))
    assert r.returncode == 2
    assert r.stderr.startswith("mocksrv: invalid scenario:\n")
    assert f"{f}:7: identities[0].secret_key" in r.stderr
    assert "Traceback" not in r.stderr


def test_serve_missing_file():
    r = run("serve", "--port", "0", "--scenario", "does-not-exist.yaml")
    assert r.returncode == 2
    assert (
        "does-not-exist.yaml: no such file, and no bundled scenario of that name "
        "(bundled: agcod-regions, " in r.stderr
    )


def test_schema_is_json_schema():
    r = run("schema")
    schema = json.loads(r.stdout)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert {"identities", "prime", "clock", "settings"} <= set(schema["properties"])


def test_serve_on_free_port_prints_url_and_credentials():
    srv = Serve()
    try:
        first = srv.lines[0]
        m = re.match(r"mocksrv \S+ listening on (http://127\.0\.0\.1:(\d+))", first)
        assert m, first
        url = m.group(1)
        banner = srv.banner
        assert banner.splitlines()[-1].startswith("Scenario:"), banner
        assert "AKIAMOCKSRVPRIME0001" in banner and PRIME_SECRET in banner
        signer = Signer(PRIME_KEY, PRIME_SECRET, "execute-api", "us-east-1")
        r = signer.send(
            "GET",
            f"{url}/v1/customer/benefit/PRIME_3P_PARTNER_BENEFIT/offer-code/123456789/verify",
            {"x-amz-marketplace": "US"},
            unsigned={"x-amz-request-id": "1234"},
        )
        assert r.json() == {"message": "SUCCESS"}
    finally:
        srv.stop()
    assert srv.proc.returncode == 0


@pytest.mark.parametrize("port", ["-1", "70000"])
def test_serve_bad_port(port):
    r = run("serve", "--port", port)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr


def test_requests_unknown_path_is_json_404(mocksrv):
    r = requests.get(mocksrv.url + "/nothing-here", timeout=5)
    assert r.status_code in (403, 404)

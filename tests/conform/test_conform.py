"""`mocksrv conform`: the plans sent to a target and to mocksrv, every difference reported.

The "real" target is a second mocksrv serving HTTPS under the real host names with mocksrv's CA.
Five differences are planted in it: two by its scenario (F400 errors answered with status 503, a
fault that answers mock id F2005 with another errorType) and three by a stand-in in front of it
that rewrites answers (tests/support/standin.py: a renamed field, a number written as an integer,
a renamed header), since no scenario key renames fields or headers.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from xml.etree import ElementTree

import pytest
import requests

from tests.support.cli import mocksrv_cli
from tests.support.paths import SCENARIOS
from tests.support.standin import StandIn

AGCOD_HOST, PRIME_HOST, S3_HOST = (
    "agcod-v2-gamma.amazon.com",
    "prime-apis.amazon.com",
    "s3.amazonaws.com",
)
AGCOD_KEYS = "agcod-sandbox=AKIAMOCKSRVAGCOD0001:MockSrvAgcodDemoSecretKey000000000000001"
PRIME_KEYS = "prime-partner=AKIAMOCKSRVPRIME0001:MockSrvPrimeDemoSecretKey000000000000001"
PROMO_KEYS = "clientname=AKIAMOCKSRVPROMO0001:MockSrvPromoDemoSecretKey000000000000001"
SECRETS = ("MockSrvAgcodDemoSecretKey", "MockSrvPrimeDemoSecretKey", "MockSrvPromoDemoSecretKey")
FAST = ("--rate", "50", "--funds-rate", "20")
PLANTED = """\
version: 1
extends: default
agcod:
  decisions:
    error_status: {F400: 503}
faults:
  - match: {api: agcod, operation: CreateGiftCard, fields: {creationRequestId: F2005}}
    error: InvalidCurrencyInMarketplace
"""


def conform(ca_dir, port: int, *args: str):
    """`mocksrv conform` against the real host names, resolved to 127.0.0.1:port."""
    hosts = (AGCOD_HOST, PRIME_HOST, S3_HOST)
    common = [f"--target=https://{h}" for h in hosts]
    common += [f"--connect-to={h}=127.0.0.1:{port}" for h in hosts]
    return mocksrv_cli("conform", *common, "--ca-bundle", str(ca_dir / "ca.pem"), *args)


def rewrite(method, path, status, headers, body):
    """The stand-in's three planted differences."""
    if path == "/CreateGiftCard" and status == 200 and body.startswith(b"{"):
        body = body.replace(b'"gcExpirationDate":', b'"gcExpiryDate":')  # a field renamed
    if path == "/GetAvailableFunds" and body.startswith(b"{"):
        body = body.replace(b'"availableFunds":{"amount":0.0', b'"availableFunds":{"amount":0')
    if path.startswith("/v1/"):  # a header renamed
        headers = [("x-amzn-Error-Type" if k == "x-amzn-ErrorType" else k, v) for k, v in headers]
    return status, headers, body


def distinct(stdout: str) -> list[str]:
    block = stdout.split("distinct difference(s):\n", 1)[1].split("\nmocksrv conform:", 1)[0]
    return [re.sub(r"\s+\[\d+ step\(s\)\]$", "", line.strip()) for line in block.splitlines()]


def test_the_five_planted_differences_and_nothing_else(tmp_path, server_factory):
    planted = tmp_path / "planted.yaml"
    planted.write_text(PLANTED)
    target = server_factory([str(planted)], tls_port=0, ca_dir=tmp_path / "ca")
    standin = StandIn(target.port, tmp_path / "ca", rewrite)
    try:
        done = conform(tmp_path / "ca", standin.port, "--identity", AGCOD_KEYS,
                       "--identity", PRIME_KEYS, "--junit-xml", str(tmp_path / "r" / "c.xml"),
                       *FAST)  # fmt: skip
    finally:
        standin.stop()
    assert done.returncode == 1, done.stdout + done.stderr
    assert sorted(distinct(done.stdout)) == sorted([
        "status: CreateGiftCard: mocksrv 400, target 503",
        "code: CreateGiftCard $.errorType: mocksrv InvalidCurrencyCodeInput, "
        "target InvalidCurrencyInMarketplace",
        "fields: CreateGiftCard $: mocksrv has gcExpirationDate, target has gcExpiryDate",
        "format: GetAvailableFunds $.availableFunds.amount: mocksrv decimal(1), target integer",
        "headers: verify: mocksrv has x-amzn-ErrorType, target has x-amzn-Error-Type",
    ]), done.stdout  # fmt: skip
    assert "mocksrv conform: 5 difference(s) in 9 of 38 step(s)" in done.stdout
    # the steps each one showed in
    assert "DIFF  CreateGiftCard F4000: status" in done.stdout
    assert "DIFF  CreateGiftCard again (idempotent): fields" in done.stdout
    assert "DIFF  verify (bad time zone): headers" in done.stdout
    assert not any(s in done.stdout + done.stderr for s in SECRETS)
    suites = ElementTree.parse(tmp_path / "r" / "c.xml").getroot()
    counts = {s.get("name"): (s.get("tests"), s.get("failures"), s.get("errors")) for s in suites}
    assert counts == {
        "agcod (agcod-sandbox)": ("28", "6", "0"),
        "prime (prime-partner)": ("10", "3", "0"),
    }
    failure = suites.find(".//testcase[@name='CreateGiftCard F2005']/failure")
    assert failure is not None and "InvalidCurrencyInMarketplace" in (failure.text or "")


def test_an_identical_target_conforms(tmp_path, server_factory):
    target = server_factory(tls_port=0, ca_dir=tmp_path / "ca")
    port = int(target.tls_url.rsplit(":", 1)[1])
    xml = tmp_path / "c.xml"
    done = conform(tmp_path / "ca", port, "--identity", AGCOD_KEYS, "--identity", PRIME_KEYS,
                   "--identity", PROMO_KEYS, "--junit-xml", str(xml), *FAST)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "mocksrv conform: 0 difference(s) in 0 of 40 step(s)" in done.stdout, done.stdout
    suites = ElementTree.parse(xml).getroot()
    assert [(s.get("name"), s.get("tests"), s.get("failures")) for s in suites] == [
        ("agcod (agcod-sandbox)", "28", "0"),
        ("prime (prime-partner)", "10", "0"),
        ("promotions (clientname)", "2", "0"),
    ]
    # every request reached the target for its own host and was verified as signed
    entries = requests.get(target.url + "/__admin/journal?limit=100", timeout=5).json()["entries"]
    failed = [e for e in entries if e["signature_failed"]]
    assert [e["operation"] for e in failed] == ["verify", "verify", "CreateGiftCard"]  # on purpose
    report = [e for e in entries if e["operation"] == "GetObject"]
    assert report and report[0]["status"] == 200  # the Promotions report was compared


def test_paced_under_the_sandbox_limits(tmp_path, server_factory):
    """The target has the AGCOD sandbox's limits (10/s, GetAvailableFunds 1/s): at the default
    rate conform is never throttled, and the target saw its requests at least 1/5 s apart."""
    realistic = str(SCENARIOS / "agcod-sandbox-realistic.yaml")
    target = server_factory([realistic], tls_port=0, ca_dir=tmp_path / "ca")
    port = int(target.tls_url.rsplit(":", 1)[1])
    done = conform(tmp_path / "ca", port, "--identity", AGCOD_KEYS, "--scenario", realistic)
    assert done.returncode == 0, done.stdout + done.stderr
    entries = requests.get(target.url + "/__admin/journal?api=agcod", timeout=5).json()["entries"]
    assert len(entries) == 28 and "ThrottlingException" not in {e["outcome"] for e in entries}
    times = sorted(datetime.fromisoformat(e["time"].replace("Z", "+00:00")) for e in entries)
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 0.2 - 0.001, gaps  # --rate 5: an answer, then 1/5 s before the next
    funds = sorted(e["time"] for e in entries if e["operation"] == "GetAvailableFunds")
    first, second = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in funds)
    assert (second - first).total_seconds() >= 2.0 - 0.001  # --funds-rate 0.5


def test_a_running_mocksrv_as_the_reference(tmp_path, server_factory):
    target = server_factory(tls_port=0, ca_dir=tmp_path / "ca")
    reference = server_factory()
    port = int(target.tls_url.rsplit(":", 1)[1])
    done = conform(tmp_path / "ca", port, "--identity", PRIME_KEYS, "--mocksrv", reference.url,
                   *FAST)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"mocksrv conform: mocksrv {reference.url} (default)" in done.stdout
    verified = requests.get(reference.url + "/__admin/journal?api=prime", timeout=5).json()
    assert verified["count"] == 10


def test_keys_from_the_environment(tmp_path, server_factory, monkeypatch):
    target = server_factory(tls_port=0, ca_dir=tmp_path / "ca")
    monkeypatch.setenv("MOCKSRV_IDENTITY_PRIME_PARTNER_ACCESS_KEY_ID", "AKIAMOCKSRVPRIME0001")
    monkeypatch.setenv(
        "MOCKSRV_IDENTITY_PRIME_PARTNER_SECRET_ACCESS_KEY",
        "MockSrvPrimeDemoSecretKey000000000000001",
    )
    done = conform(tmp_path / "ca", int(target.tls_url.rsplit(":", 1)[1]),
                   "--identity", "prime-partner", "--prime-code", "333333333", *FAST)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "prime (prime-partner): 4 steps, 0 with differences" in done.stdout


@pytest.fixture(scope="module")
def ca_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("ca")
    assert mocksrv_cli("ca", "--ca-dir", str(path)).returncode == 0
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--identity", "nobody=A:B"], "--identity nobody: no such identity in the scenario"),
        (["--identity", "agcod-production=A:B"], "partner MocksProd is a production account"),
        (["--identity", "agcod-sandbox"], "set MOCKSRV_IDENTITY_AGCOD_SANDBOX_ACCESS_KEY_ID"),
        (["--identity", "agcod-sandbox=nokeys"], "expected agcod-sandbox=ACCESS_KEY:SECRET"),
        (["--identity", AGCOD_KEYS, "--target", "ftp://x"], "not an http(s) URL: 'ftp://x'"),
        (["--identity", AGCOD_KEYS, "--connect-to", "x"], "expected NAME=ADDRESS:PORT, not 'x'"),
        (["--identity", AGCOD_KEYS, "--rate", "-1"], "--rate: must be 0 or more, not -1"),
    ],
)
def test_bad_options_exit_2_with_a_message(ca_dir, args, message):
    done = conform(ca_dir, 9, *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr


def test_a_target_that_does_not_answer_exits_2(tmp_path, server_factory):
    target = server_factory(tls_port=0, ca_dir=tmp_path / "ca")
    port = target.port  # plain HTTP where HTTPS is expected: every step fails
    done = conform(tmp_path / "ca", port, "--identity", PRIME_KEYS, *FAST)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "ERROR verify 111111111: target:" in done.stdout
    assert "stopped after repeated failures" in done.stdout and "Traceback" not in done.stderr
    report = json.dumps(done.stdout)
    assert not any(s in report for s in SECRETS)

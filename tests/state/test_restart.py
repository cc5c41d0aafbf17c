"""Durable state (`serve --state FILE`): everything survives a restart and a SIGKILL.

Each test runs `mocksrv serve --state` as a child process (SIGKILL needs one: tests.support.cli
.Serve), talks to it with botocore-signed requests and boto3, kills or stops it, starts it again on
the same state and audits.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from tests.support.cli import Serve
from tests.support.paths import ROOT
from tests.support.promotions import DEVO, NEW, file_name, s3_client, wait_report
from tests.support.state import START_FUNDS, agcod_state, cancel, create, funds, prime


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "state.db"


def test_cards_funds_and_replays_survive_sigkill(state):
    srv = Serve("--state", str(state))
    first = create(srv.url, "MocksProdKeep1", "12.5")
    assert first.status_code == 200, first.text
    assert create(srv.url, "MocksProdKeep2", "7").status_code == 200
    assert cancel(srv.url, "MocksProdKeep2").json()["status"] == "SUCCESS"
    srv.kill()
    srv = Serve("--state", str(state))
    try:
        assert funds(srv.url) == START_FUNDS - Decimal("12.5")
        replay = create(srv.url, "MocksProdKeep1", "12.5")
        assert replay.content == first.content  # byte for byte: the same card, not a new one
        cards = {c["creationRequestId"]: c for c in agcod_state(srv.url)["cards"]}
        assert cards["MocksProdKeep2"]["cardStatus"] == "RefundedToPurchaser"
        assert cancel(srv.url, "MocksProdKeep1").json()["status"] == "SUCCESS"
        assert funds(srv.url) == START_FUNDS
    finally:
        srv.stop()


def test_prime_uses_auth_codes_clock_faults_and_expectations_survive(state):
    srv = Serve("--state", str(state))
    requests.put(srv.url + "/__admin/clock", json={"now": "2026-05-15T14:00:00Z", "frozen": True})
    assert prime(srv.url, "444444444", "redeem").json() == {"message": "SUCCESS"}
    token = prime(srv.url, "123456789", "auth-code").json()
    fault = {
        "id": "kept",
        "match": {"api": "prime", "operation": "verify"},
        "error": "InternalServerError",
        "times": 1,
    }
    assert requests.post(srv.url + "/__admin/faults", json=fault, timeout=5).ok
    expectation = {
        "name": "two-creates",
        "match": {"operation": "CreateGiftCard"},
        "count": {"exactly": 2},
    }
    assert requests.post(srv.url + "/__admin/expectations", json=expectation, timeout=5).ok
    srv.kill()
    srv = Serve("--state", str(state))
    try:
        # the use was counted (1 per day: exceeded now), the auth code is still live
        assert prime(srv.url, "444444444", "redeem").json() == {
            "message": "FAILURE:DENIED:EXCEEDED_USAGE_LIMIT"
        }
        snap = requests.get(srv.url + "/__admin/state/prime", timeout=5).json()
        assert [a["authCode"] for a in snap["authCodes"]] == [token["authCode"]]
        assert requests.get(srv.url + "/__admin/clock", timeout=5).json() == {
            "now": "2026-05-15T14:00:00.000Z",
            "frozen": True,
        }
        faults = requests.get(srv.url + "/__admin/faults", timeout=5).json()["faults"]
        assert [f["id"] for f in faults] == ["kept"]
        assert prime(srv.url, "123456789", "verify").status_code == 500  # the kept fault fires
        names = [
            e["name"]
            for e in requests.get(srv.url + "/__admin/expectations").json()["expectations"]
        ]
        assert names == ["two-creates"]
    finally:
        srv.stop()


def test_uploads_reports_inventory_and_assignments_survive(state):
    srv = Serve("--state", str(state))
    s3 = s3_client(srv.url)
    key = NEW + file_name()
    s3.put_object(Bucket=DEVO, Key=key, Body=b"KEEP-0001,new\nKEEP-0002,new\nKEEP-0003,new\n")
    report = wait_report(s3, key)
    assert report["rows"]["accepted"] == 3
    claim = requests.get(
        srv.url + "/promotions/PROMO-0001/landing", params={"member": "m-kept"}, timeout=10
    ).json()
    srv.kill()
    srv = Serve("--state", str(state))
    try:
        s3 = s3_client(srv.url)
        assert wait_report(s3, key) == report  # the report object, as written before the kill
        again = requests.get(
            srv.url + "/promotions/PROMO-0001/landing", params={"member": "m-kept"}, timeout=10
        ).json()
        assert again["code"] == claim["code"] and again["newlyAssigned"] is False
        other = requests.get(
            srv.url + "/promotions/PROMO-0001/landing", params={"member": "m-new"}, timeout=10
        ).json()
        # the queue kept its order: the default's five preloaded demo codes, then the upload
        assert (claim["code"], other["code"]) == ("DEMO-CODE-001", "DEMO-CODE-002")
        promo = requests.get(srv.url + "/__admin/state/promotions", timeout=5).json()
        devo = next(i for i in promo["inventory"] if i["environment"] == "devo")
        assert (devo["available"], devo["assigned"]) == (5 + 3 - 2, 2)
        assert [r["file"] for r in promo["reports"]] == [key.rsplit("/", 1)[1]]
        # the same file again is a duplicate: the processed-files record survived too
        s3.put_object(Bucket=DEVO, Key=key, Body=b"KEEP-0009,new\n")
        deadline = time.monotonic() + 20
        while (dup := wait_report(s3, key))["status"] == report["status"]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert dup["fileErrors"][0]["reason"] == "duplicate_file"
    finally:
        srv.stop()


def test_reset_forgets_the_state_and_a_changed_section_starts_that_api_fresh(state, tmp_path):
    srv = Serve("--state", str(state))
    assert create(srv.url, "MocksProdGone1").status_code == 200
    assert prime(srv.url, "444444444", "redeem").json() == {"message": "SUCCESS"}
    assert requests.post(srv.url + "/__admin/reset", json={}, timeout=10).ok
    srv.kill()
    srv = Serve("--state", str(state))
    assert agcod_state(srv.url)["cards"] == []
    assert create(srv.url, "MocksProdKept9").status_code == 200
    assert prime(srv.url, "444444444", "redeem").json() == {"message": "SUCCESS"}
    err = srv.stop()
    # the same scenario with another AGCOD section: AGCOD starts fresh, Prime keeps its use
    changed = tmp_path / "changed.yaml"
    text = (ROOT / "scenarios/default.yaml").read_text()
    assert "funds: 10000.00" in text
    changed.write_text(text.replace("funds: 10000.00", "funds: 500.00"))
    srv = Serve("--state", str(state), "--scenario", str(changed))
    try:
        assert agcod_state(srv.url)["cards"] == []
        assert funds(srv.url) == Decimal("500.00")
        assert prime(srv.url, "444444444", "redeem").json() == {
            "message": "FAILURE:DENIED:EXCEEDED_USAGE_LIMIT"
        }
    finally:
        err = srv.stop()
    assert "agcod fresh (its scenario section changed)" in err
    assert "prime kept" in err


def test_sts_sessions_survive_a_restart(state):
    from tests.support.sts import assume, session_client

    srv = Serve("--state", str(state))  # the embedded default gives clientname a role it may assume
    creds = assume(srv.url)["Credentials"]
    srv.kill()
    srv = Serve("--state", str(state))
    try:
        s3 = session_client("s3", srv.url, creds)
        key = NEW + file_name()
        s3.put_object(Bucket=DEVO, Key=key, Body=b"STS-KEPT-1,new\n")
        assert wait_report(s3, key)["rows"]["accepted"] == 1
        sessions = requests.get(srv.url + "/__admin/state/sts", timeout=5).json()["sessions"]
        assert [s["accessKeyId"] for s in sessions] == [creds["AccessKeyId"]]
    finally:
        srv.stop()

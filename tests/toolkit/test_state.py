"""Durable state (`serve --state PATH`): everything survives a restart, also a SIGKILL under load.

Each test runs `mocksrv serve --state` as a child process (SIGKILL needs one: tests.support.cli
.Serve), talks to it with botocore-signed requests and boto3, kills or stops it, starts it again on
the same state and audits.
"""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from tests.support.cli import Serve
from tests.support.paths import ROOT
from tests.support.promotions import DEVO, NEW, file_name, s3_client, wait_report
from tests.support.signing import Signer

PROD = Signer(
    "AKIAMOCKSRVAGCOD0002", "MockSrvAgcodDemoSecretKey000000000000002", "AGCODService", "us-east-1"
)
PRIME = Signer(
    "AKIAMOCKSRVPRIME0001", "MockSrvPrimeDemoSecretKey000000000000001", "execute-api", "us-east-1"
)
JSON = {"content-type": "application/json", "accept": "application/json"}
START_FUNDS = Decimal("10000.00")  # MocksProd in the embedded default
PRIME_URL = "{}/v1/customer/benefit/PRIME_3P_PARTNER_BENEFIT/offer-code/{}/{}"


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "state.db"


def create(url: str, rid: str, amount: str = "5", session: Any = requests) -> requests.Response:
    body = json.dumps(
        {
            "creationRequestId": rid,
            "partnerId": "MocksProd",
            "value": {"currencyCode": "USD", "amount": amount},
        }
    ).encode()
    headers = PROD.headers("POST", url + "/CreateGiftCard", JSON, body)
    return session.post(url + "/CreateGiftCard", data=body, headers=headers, timeout=30)


def cancel(url: str, rid: str, session: Any = requests) -> requests.Response:
    body = json.dumps({"creationRequestId": rid, "partnerId": "MocksProd"}).encode()
    headers = PROD.headers("POST", url + "/CancelGiftCard", JSON, body)
    return session.post(url + "/CancelGiftCard", data=body, headers=headers, timeout=30)


def prime(url: str, code: str, op: str, session: Any = requests) -> requests.Response:
    method = "GET" if op in ("verify", "auth-code") else "POST"
    full = PRIME_URL.format(url, code, op)
    headers = PRIME.headers(method, full, {"x-amz-marketplace": "US"}, b"")
    headers["x-amz-request-id"] = uuid.uuid4().hex
    return session.request(method, full, headers=headers, timeout=30)


def agcod_state(url: str) -> dict[str, Any]:
    return dict(requests.get(url + "/__admin/state/agcod", timeout=10).json())


def funds(url: str) -> Decimal:
    partners = agcod_state(url)["partners"]
    return Decimal(
        str(next(p for p in partners if p["partnerId"] == "MocksProd")["availableFunds"])
    )


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
    assert "prime restored" in err


def test_a_state_in_use_or_damaged_is_a_clear_error(state, tmp_path):
    srv = Serve("--state", str(state))
    try:
        second = subprocess.run(
            [sys.executable, "-m", "mocksrv", "serve", "--port", "0", "--state", str(state)],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=ROOT,
        )
        assert second.returncode == 2
        assert "is in use by another mocksrv process" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        srv.stop()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    bad = subprocess.run(
        [sys.executable, "-m", "mocksrv", "serve", "--port", "0", "--state", str(junk)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert bad.returncode == 2 and "is not a mocksrv state database" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_the_database_is_sqlite_in_wal_mode(state):
    Serve("--state", str(state)).stop()
    with sqlite3.connect(state) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()[0] == "1"


def _mixed_worker(url: str, n: int, stop: threading.Event, acked: dict[str, Any]) -> None:
    rnd = random.Random(n)
    session = requests.Session()
    s3 = s3_client(url)
    i = 0
    while not stop.is_set():
        i += 1
        op = rnd.random()
        try:
            if op < 0.55:
                rid = f"MocksProdT{n:02d}x{i:05d}"
                r = create(url, rid, rnd.choice(["1", "2.5", "10"]), session)
                if r.status_code == 200:
                    acked["cards"][rid] = r.json()["gcClaimCode"]
            elif op < 0.65 and acked["cards"]:
                rid = rnd.choice(list(acked["cards"]))
                if cancel(url, rid, session).status_code == 200:
                    acked["cancelled"].add(rid)
            elif op < 0.85:
                prime(url, "123456789", "verify", session)
            else:
                key = NEW + file_name()
                body = f"T{n:02d}X{i:05d},new\n".encode()
                s3.put_object(Bucket=DEVO, Key=key, Body=body)
                acked["uploads"][key] = body
        except (requests.RequestException, ClientError, OSError):
            return  # the server was killed under us
        except Exception:  # botocore's connection errors once the server is gone
            return


def test_sigkill_under_mixed_load_leaves_a_consistent_state(state):
    srv = Serve("--state", str(state))
    acked: dict[str, Any] = {"cards": {}, "cancelled": set(), "uploads": {}}
    stop = threading.Event()
    threads = [
        threading.Thread(target=_mixed_worker, args=(srv.url, n, stop, acked), daemon=True)
        for n in range(16)
    ]
    for t in threads:
        t.start()
    time.sleep(2.5)
    srv.kill()  # in the middle of it all
    stop.set()
    for t in threads:
        t.join(30)
    assert len(acked["cards"]) >= 16 and acked["uploads"], acked

    srv = Serve("--state", str(state))
    try:
        snap = agcod_state(srv.url)
        cards = {c["creationRequestId"]: c for c in snap["cards"]}
        # no acknowledged card lost, each with the claim code it was acknowledged with
        for rid, claim in acked["cards"].items():
            assert cards[rid]["gcClaimCode"] == claim, rid
        for rid in acked["cancelled"]:
            assert cards[rid]["cardStatus"] == "RefundedToPurchaser", rid
        # funds = start - issued + refunded, over every card the state holds (acknowledged or
        # in flight at the kill): no card without its debit, no debit without its card
        issued = sum(
            Decimal(str(c["amount"])) for c in cards.values() if c["partnerId"] == "MocksProd"
        )
        refunded = sum(
            Decimal(str(c["amount"]))
            for c in cards.values()
            if c["partnerId"] == "MocksProd" and c["cardStatus"] == "RefundedToPurchaser"
        )
        assert funds(srv.url) == START_FUNDS - issued + refunded
        # the same creationRequestId replays the same claim code
        rid, claim = next(iter(acked["cards"].items()))
        replay = create(srv.url, rid, str(cards[rid]["amount"]))
        assert replay.json()["gcClaimCode"] == claim
        # every acknowledged upload is there and gets its report (waiting ones are processed
        # now): its one code reached the inventory (the partner may not read uploads back)
        s3 = s3_client(srv.url)
        for key in acked["uploads"]:
            report = wait_report(s3, key)
            assert report["rows"] == {"total": 1, "accepted": 1, "rejected": 0}, report
        devo = next(
            i
            for i in requests.get(srv.url + "/__admin/state/promotions", timeout=5).json()[
                "inventory"
            ]
            if i["environment"] == "devo"
        )
        assert devo["available"] >= len(acked["uploads"])  # plus any upload in flight at the kill
    finally:
        srv.stop()


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

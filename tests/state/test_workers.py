"""`serve --workers 2`: two processes, one state. Every request here opens a fresh connection,
so the kernel spreads them over both workers (SO_REUSEPORT): each guarantee of one process must
hold across them."""

from __future__ import annotations

import os
import subprocess
import sys

import requests

from tests.support.cli import Serve
from tests.support.paths import ROOT
from tests.support.state import (
    START_FUNDS,
    agcod_state,
    create,
    fresh,
    funds,
    prime,
    replaced,
    together,
    worker_pids,
)


def test_races_across_workers_keep_every_rule(tmp_path):
    srv = Serve("--state", str(tmp_path / "state.db"), "--workers", "2")
    try:
        assert len(worker_pids(srv.proc.pid)) == 2
        # one creationRequestId, 16 callers at once: one card, one claim code, one debit
        codes = {
            r.json()["gcClaimCode"]
            for r in together(16, lambda _: create(srv.url, "MocksProdRace1", "10", requests))
        }
        assert len(codes) == 1, codes
        # distinct ids at once: the funds ledger is exact
        assert all(
            r.status_code == 200
            for r in together(20, lambda i: create(srv.url, f"MocksProdMany{i}", "2.5"))
        )
        assert funds(srv.url) == START_FUNDS - 10 - 50
        # a single-use Prime code redeemed by 8 callers at once: one success
        fresh(srv.url, "/__admin/clock", method="PUT",
               json={"now": "2026-05-15T14:00:00Z", "frozen": True})  # fmt: skip
        answers = [r.json()["message"] for r in together(8, lambda _: prime(
            srv.url, "444444444", "redeem", requests))]  # fmt: skip
        assert answers.count("SUCCESS") == 1, answers
        # landing claims at once: each member its own code, no code twice
        claims = together(5, lambda i: fresh(
            srv.url, "/promotions/PROMO-0001/landing", params={"member": f"m{i}"}).json())  # fmt: skip
        assert len({c["code"] for c in claims}) == 5
    finally:
        srv.stop()


def test_admin_changes_reach_every_worker_at_once(tmp_path):
    srv = Serve("--state", str(tmp_path / "state.db"), "--workers", "2")
    try:
        assert create(srv.url, "MocksProdGone1").status_code == 200
        assert fresh(srv.url, "/__admin/reset", method="POST", json={}).ok
        # the very next requests, whichever worker answers, see the reset
        for _ in range(12):
            assert fresh(srv.url, "/__admin/state/agcod").json()["cards"] == []
        moved = fresh(srv.url, "/__admin/clock", method="PUT",
                       json={"now": "2030-01-02T03:04:05Z", "frozen": True})  # fmt: skip
        assert moved.ok
        for _ in range(12):
            assert fresh(srv.url, "/__admin/clock").json()["now"] == "2030-01-02T03:04:05.000Z"
        fault = {"id": "three", "match": {"api": "prime", "operation": "verify"},
                 "error": "ServiceUnavailable", "times": 3}  # fmt: skip
        assert fresh(srv.url, "/__admin/faults", method="POST", json=fault).ok
        statuses = [prime(srv.url, "123456789", "verify", requests).status_code for _ in range(12)]
        assert statuses.count(503) == 3 and statuses[:3] == [503, 503, 503], statuses
    finally:
        srv.stop()


def test_the_journal_and_expectations_see_every_workers_requests(tmp_path):
    srv = Serve("--state", str(tmp_path / "state.db"), "--workers", "2")
    try:
        spec = {"name": "verifies", "match": {"api": "prime", "operation": "verify"},
                "count": {"exactly": 30}}  # fmt: skip
        assert fresh(srv.url, "/__admin/expectations", method="POST", json=spec).ok
        for _ in range(30):
            assert prime(srv.url, "123456789", "verify", requests).status_code == 200
        journal = fresh(srv.url, "/__admin/journal", params={"api": "prime"}).json()
        assert journal["count"] == 30
        report = fresh(srv.url, "/__admin/expectations/verify").json()
        assert report["met"] is True, report
    finally:
        srv.stop()


def test_a_worker_that_dies_is_started_again(tmp_path):
    srv = Serve("--state", str(tmp_path / "state.db"), "--workers", "2")
    try:
        first = worker_pids(srv.proc.pid)
        os.kill(first[0], 9)
        replaced(srv.proc.pid, srv.url, first[0])
        assert agcod_state(srv.url)["cards"] == []
    finally:
        err = srv.stop()
    assert "ended (signal 9); starting it again" in err


def test_without_state_the_workers_share_a_private_database_removed_at_exit(tmp_path):
    env = {"TMPDIR": str(tmp_path)}
    srv = Serve("--workers", "2", env=env)
    try:
        assert "State: 2 processes sharing " in srv.banner
        made = [p for p in tmp_path.iterdir() if p.name.startswith("mocksrv-state-")]
        assert len(made) == 1 and (made[0] / "state.db").exists()
        assert create(srv.url, "MocksProdPrivate1").status_code == 200
        ids = [c["creationRequestId"] for c in agcod_state(srv.url)["cards"]]
        assert ids == ["MocksProdPrivate1"]
    finally:
        srv.stop()
    assert not made[0].exists()


COMMAND = """
import os, sys, uuid, requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
url = os.environ["MOCKSRV_URL"] + "/v1/customer/benefit/PRIME_3P_PARTNER_BENEFIT/offer-code/123456789/verify"
creds = Credentials(os.environ["MOCKSRV_PRIME_ACCESS_KEY_ID"], os.environ["MOCKSRV_PRIME_SECRET_ACCESS_KEY"])
for _ in range(int(sys.argv[1])):
    req = AWSRequest(method="GET", url=url, headers={"x-amz-marketplace": "US"})
    SigV4Auth(creds, "execute-api", "us-east-1").add_auth(req)
    with requests.Session() as s:
        r = s.get(url, headers={**dict(req.headers.items()), "x-amz-request-id": uuid.uuid4().hex}, timeout=30)
    assert r.status_code == 200, r.text
"""


def test_run_with_two_workers_counts_every_request_of_its_command(tmp_path):
    scenario = tmp_path / "count.yaml"
    scenario.write_text(
        "version: 1\nextends: default\nexpectations:\n  - name: twenty verifies\n"
        "    match: {api: prime, operation: verify}\n    count: {exactly: 20}\n"
    )
    script = tmp_path / "calls.py"
    script.write_text(COMMAND)
    base = [sys.executable, "-m", "mocksrv", "run", "--workers", "2", "--scenario", str(scenario),
            "--", sys.executable, str(script)]  # fmt: skip
    ok = subprocess.run([*base, "20"], capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "1/1 expectations met" in ok.stdout
    more = subprocess.run([*base, "21"], capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert more.returncode == 1, more.stdout + more.stderr
    assert "expected exactly 20 matching request(s), got 21" in more.stdout

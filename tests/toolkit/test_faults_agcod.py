"""AGCOD faults seen by a botocore-signed client: commit-then-fail and retry, RESEND, throttling."""

from __future__ import annotations

import time

import pytest
import requests

from tests.support.agcod import create_card

DRILL = ["scenarios/default.yaml", "scenarios/failure-drill.yaml"]


def test_commit_then_fail_then_retry_returns_the_same_card(mocksrv):
    client = mocksrv.agcod("agcod-production")
    mocksrv.fault(
        match={"api": "agcod", "operation": "CreateGiftCard",
               "fields": {"creationRequestId": "MocksProd-order-77"}},
        commit_then_fail="connection_reset",
        times=1,
    )  # fmt: skip
    with pytest.raises(requests.exceptions.ConnectionError):
        create_card(client, "MocksProd-order-77")
    (issued,) = [
        c for c in mocksrv.state("agcod")["cards"] if c["creationRequestId"] == "MocksProd-order-77"
    ]

    retry = create_card(client, "MocksProd-order-77")
    assert retry.status_code == 200, retry.text
    card = retry.json()
    assert card["status"] == "SUCCESS"
    assert (card["gcId"], card["gcClaimCode"]) == (issued["gcId"], issued["gcClaimCode"])
    state = mocksrv.state("agcod")
    assert [c["gcId"] for c in state["cards"]] == [issued["gcId"]]
    funds = {p["partnerId"]: p["availableFunds"] for p in state["partners"]}
    assert funds["MocksProd"] == 9990.0  # debited once, not twice
    lost, retried = reversed(mocksrv.journal(api="agcod"))
    assert lost["fault"] is not None and lost["outcome"] == "SUCCESS"
    assert retried["fault"] is None


def test_resend_error_body(mocksrv):
    client = mocksrv.agcod("agcod-sandbox")
    mocksrv.fault(match={"api": "agcod"}, error="SystemTemporarilyUnavailable", times=1)
    r = create_card(client, "Mocks-resend-1", partner="Mocks")
    assert r.status_code == 400
    body = r.json()
    assert body["agcodResponse"]["status"] == "RESEND"
    assert (body["errorCode"], body["errorType"]) == ("F400", "SystemTemporarilyUnavailable")
    assert body["message"] == "System Temporarily Unavailable"
    assert create_card(client, "Mocks-resend-1", partner="Mocks").json()["status"] == "SUCCESS"


def test_throttle_is_a_throttling_exception(mocksrv):
    client = mocksrv.agcod("agcod-sandbox")
    mocksrv.fault(match={"api": "agcod", "operation": "CreateGiftCard"}, throttle=True)
    r = create_card(client, "Mocks-t-1", partner="Mocks")
    assert r.status_code == 400
    assert r.json() == {"__type": "ThrottlingException", "message": "Rate exceeded"}


def test_unknown_agcod_error_name_is_refused(mocksrv):
    with pytest.raises(AssertionError, match="'InsufficentFunds' is not a agcod wire error"):
        mocksrv.fault(match={"api": "agcod"}, error="InsufficentFunds")


@pytest.mark.mocksrv_scenario(*DRILL)
def test_failure_drill_throttle_then_resend_then_success(mocksrv):
    client = mocksrv.agcod("agcod-sandbox")
    answers = [create_card(client, "Mocks-throttle-1", partner="Mocks").json() for _ in range(3)]
    assert [a.get("__type") for a in answers[:2]] == ["ThrottlingException"] * 2
    assert answers[2]["status"] == "SUCCESS"
    first = create_card(client, "Mocks-resend-1", partner="Mocks").json()
    assert first["agcodResponse"]["status"] == "RESEND"
    assert create_card(client, "Mocks-resend-1", partner="Mocks").json()["status"] == "SUCCESS"


@pytest.mark.mocksrv_scenario(*DRILL)
def test_failure_drill_lost_response_retried(mocksrv):
    client = mocksrv.agcod("agcod-sandbox")
    with pytest.raises(requests.exceptions.ConnectionError):
        create_card(client, "Mocks-lost-1", partner="Mocks")
    retry = create_card(client, "Mocks-lost-1", partner="Mocks").json()
    (card,) = mocksrv.state("agcod")["cards"]
    assert retry["gcClaimCode"] == card["gcClaimCode"]


@pytest.mark.mocksrv_scenario(*DRILL)
def test_failure_drill_slow_create_straddles_6s_timeout(mocksrv):
    # the production partner (10,000 USD): its funds ledger shows every debit, a sandbox's has none
    client = mocksrv.agcod("agcod-production")
    with pytest.raises(requests.exceptions.ReadTimeout):
        create_card(client, "MocksProd-slow-1", timeout=6)
    # the fault holds the first call 6.5 s before AGCOD sees it; the client gave up at 6 s and
    # retries with the same creationRequestId, which is not delayed (times: 1)
    retry = create_card(client, "MocksProd-slow-1", timeout=6)
    card = retry.json()
    assert retry.status_code == 200 and card["status"] == "SUCCESS", retry.text
    # wait for the delayed first call to reach AGCOD too: only then is the count final
    deadline = time.monotonic() + 10
    while len(mocksrv.journal(api="agcod", operation="CreateGiftCard")) < 2:
        assert time.monotonic() < deadline, "the delayed CreateGiftCard never completed"
        time.sleep(0.05)
    calls = mocksrv.journal(api="agcod", operation="CreateGiftCard")
    assert [(c["fields"]["creationRequestId"], c["outcome"]) for c in calls] == [
        ("MocksProd-slow-1", "SUCCESS"),
        ("MocksProd-slow-1", "SUCCESS"),
    ]
    # exactly one card and one debit, as the admin API shows them (GET /__admin/state/agcod)
    state = requests.get(f"{mocksrv.admin_url}/state/agcod", timeout=5).json()
    (issued,) = state["cards"]
    assert issued["creationRequestId"] == "MocksProd-slow-1"
    assert (issued["gcId"], issued["gcClaimCode"]) == (card["gcId"], card["gcClaimCode"])
    (prod,) = [p for p in state["partners"] if p["partnerId"] == "MocksProd"]
    (debit,) = prod["ledger"]
    assert (debit["operation"], debit["gcId"], debit["amount"]) == (
        "CreateGiftCard", card["gcId"], -10.0
    )  # fmt: skip
    assert prod["availableFunds"] == prod["startingFunds"] - 10 == 9990.0
    mocksrv.assert_expectations_met()

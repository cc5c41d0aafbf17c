"""The inner suite of tests/toolkit/test_tenants_many.py: copied to a temporary folder as a test
file and run by `pytest -p mocksrv` against one running server, eight processes at once (two with
-n 2), each in the tenant the plugin makes for it. Every test checks that it sees its own cards,
codes, journal entries, faults and clock only, and that its funds are exact. TENANT_JOB names
the process; the repository root is on PYTHONPATH (Amazon's certification cases come from
tests/agcod/test_certification.py).
"""

from __future__ import annotations

import json
import os
import time
from decimal import Decimal
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from tests.agcod.test_certification import (  # noqa: F401  (collected here, on this tenant)
    test_cc_create_1000_usd_then_cancel,
    test_dlb_create_one_cent,
    test_idm_create_1000_twice_with_one_request_id,
    test_max_create_2000,
)

JOB = int(os.environ["TENANT_JOB"])
ME = f"J{JOB}{os.environ.get('PYTEST_XDIST_WORKER', 'solo')}"  # this process (or xdist worker)
FROZEN = f"2027-0{1 + JOB}-1{JOB}T0{JOB}:30:00.000Z"  # a clock no other job sets
DEVO = "partner-promotions-devo"
NEW = (
    "new-promo-codes/clientname=clientname/marketplace=US/offertype=student-promo-deal/"
    "promotionid=PROMO-0001/clientname_new_codes_20260601_0101.csv"  # the same name in every job
)


class Sandbox:
    """The certification cases' `sandbox` (tests.support.agcod.Client's create and cancel) on the
    plugin's AGCOD client: the tenant's sandbox partner, signed with the tenant's key."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def create(self, rid: str, amount: Any = 10, currency: str = "USD") -> requests.Response:
        value = {"currencyCode": currency, "amount": amount}
        body = {"creationRequestId": rid, "partnerId": "Mocks", "value": value}
        return self.client.call("CreateGiftCard", body)

    def cancel(self, rid: str, gc_id: str) -> requests.Response:
        body = {"creationRequestId": rid, "partnerId": "Mocks", "gcId": gc_id}
        return self.client.call("CancelGiftCard", body)


@pytest.fixture
def sandbox(mocksrv_agcod: Any) -> Sandbox:
    return Sandbox(mocksrv_agcod)


def test_the_sandbox_is_this_jobs_tenant(mocksrv: Any) -> None:
    assert mocksrv.tenant.startswith("t-")
    assert os.environ["MOCKSRV_TENANT"] == mocksrv.tenant
    assert mocksrv.state("agcod")["cards"] == [] and mocksrv.journal() == []


def test_a_single_use_prime_code_redeems_once_in_each_tenant(mocksrv: Any, mocksrv_prime: Any):
    mocksrv.clock.set(FROZEN, frozen=True)
    assert mocksrv_prime.redeem("444444444").json() == {"message": "SUCCESS"}
    assert mocksrv_prime.redeem("444444444").json() == {
        "message": "FAILURE:DENIED:EXCEEDED_USAGE_LIMIT"
    }
    (code,) = [c for c in mocksrv.state("prime")["offerCodes"] if c["code"] == "444444444"]
    assert len(code["redemptions"]) == 1  # this tenant's one use, no other job's
    assert mocksrv.clock.now() == FROZEN


def _report(s3: Any, key: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        try:
            body = s3.get_object(Bucket=DEVO, Key=f"processing-results/{key}.json")["Body"].read()
            return dict(json.loads(body))
        except ClientError as err:
            if err.response["Error"]["Code"] != "NoSuchKey" or time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def test_a_promo_upload_its_report_and_landing_claims(mocksrv: Any, mocksrv_s3: Any) -> None:
    codes = [f"{ME}C{i}" for i in range(3)]
    mocksrv_s3.put_object(Bucket=DEVO, Key=NEW, Body="".join(f"{c},new\n" for c in codes).encode())
    report = _report(mocksrv_s3, NEW)  # the same file name in every job: never a duplicate
    assert report["status"] == "ACCEPTED" and report["rows"]["accepted"] == 3, report
    landing = f"{mocksrv.url}/promotions/PROMO-0001/landing"
    claimed = [
        requests.get(landing, params={"member": f"{ME}-m{i}", "tenant": mocksrv.tenant}, timeout=30)
        for i in range(7)
    ]
    got = [r.json()["code"] for r in claimed]
    # the five preloaded codes first, then this job's own upload, in upload order
    assert got == [f"DEMO-CODE-00{i}" for i in range(1, 6)] + codes[:2], got
    inventories = mocksrv.state("promotions")["inventory"]
    (inventory,) = [i for i in inventories if i["environment"] == "devo"]
    assert (inventory["available"], inventory["assigned"]) == (1, 7)
    assert {a["member"] for a in inventory["assignments"]} == {f"{ME}-m{i}" for i in range(7)}


def test_clock_fault_and_called_n_times_stay_in_the_tenant(mocksrv: Any) -> None:
    mocksrv.clock.set(FROZEN, frozen=True)
    prod = mocksrv.agcod("agcod-production")
    rid = [f"MocksProd{ME}x{i}" for i in range(4)]
    amounts = [Decimal("10.25"), Decimal("3.5"), Decimal("7"), Decimal("1.25")]
    match = {"api": "agcod", "operation": "CreateGiftCard"}
    mocksrv.fault(match={**match, "fields": {"creationRequestId": rid[2]}},
                  error="ThrottlingException", times=1)  # fmt: skip
    mocksrv.expect(name="creates", match=match, count={"exactly": 5})
    mocksrv.expect(name="throttled once", match={**match, "outcome": "ThrottlingException"},
                   count={"exactly": 1})  # fmt: skip
    answers = []
    for r, amount in zip(rid, amounts, strict=True):
        body = {"creationRequestId": r, "partnerId": "MocksProd",
                "value": {"currencyCode": "USD", "amount": float(amount)}}  # fmt: skip
        answer = prod.call("CreateGiftCard", body)
        if answer.status_code != 200:  # the fault, once: the retry issues the card
            assert answer.json()["__type"] == "ThrottlingException", answer.text
            answer = prod.call("CreateGiftCard", body)
        answers.append(answer)
    assert [a.status_code for a in answers] == [200] * 4
    mocksrv.assert_expectations_met()
    journal = mocksrv.journal()
    assert [e["fields"]["creationRequestId"] for e in reversed(journal)] == [
        rid[0], rid[1], rid[2], rid[2], rid[3]
    ]  # fmt: skip
    (fault,) = mocksrv.admin("GET", "/faults")["faults"]
    assert (fault["match"]["fields"], fault["fired"]) == ({"creationRequestId": rid[2]}, 1)
    assert mocksrv.clock.now() == FROZEN
    cards = mocksrv.state("agcod")["cards"]
    assert sorted(c["creationRequestId"] for c in cards) == sorted(rid)
    assert {c["createdAt"] for c in cards} == {FROZEN}
    funds = prod.call("GetAvailableFunds", {"partnerId": "MocksProd"}).json()
    assert Decimal(str(funds["availableFunds"]["amount"])) == Decimal("10000") - sum(amounts)
    cancel = {
        "creationRequestId": rid[1],
        "partnerId": "MocksProd",
        "gcId": answers[1].json()["gcId"],
    }
    assert prod.call("CancelGiftCard", cancel).json()["status"] == "SUCCESS"
    funds = prod.call("GetAvailableFunds", {"partnerId": "MocksProd"}).json()
    assert (
        Decimal(str(funds["availableFunds"]["amount"]))
        == Decimal("10000") - sum(amounts) + amounts[1]
    )

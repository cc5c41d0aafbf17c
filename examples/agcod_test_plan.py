"""Example partner client for scenarios/agcod-sandbox-test-plan.yaml: runs the AGCOD test plan.

Signs with botocore's SigV4Auth using the credentials `mocksrv run` puts in the environment, and
moves the scenario clock through the admin API for the cancel-window case.

    mocksrv run --scenario scenarios/agcod-sandbox-test-plan.yaml -- python examples/agcod_test_plan.py
    python examples/agcod_test_plan.py --skip F3010   # leaves that mock id's expectation unmet
    python examples/agcod_test_plan.py --skip DLB     # same for a certification case (CC DLB MAX IDM)
"""

from __future__ import annotations

import json
import os
import sys
import time

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

URL = os.environ["MOCKSRV_URL"]
ADMIN = os.environ["MOCKSRV_ADMIN_URL"]
CREDS = Credentials(
    os.environ["MOCKSRV_AGCOD_ACCESS_KEY_ID"], os.environ["MOCKSRV_AGCOD_SECRET_ACCESS_KEY"]
)
PARTNER = "Mocks"
MOCK_IDS = ["F0000", "F1000", "F2000", "F2001", "F2002", "F2003", "F2004", "F2005", "F2010", "F2015",
            "F2016", "F2017", "F2047", "F3003", "F3005", "F3010", "F4000", "F5000"]  # fmt: skip


def call(operation: str, payload: dict) -> dict:
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json", "Accept": "application/json",
               "x-amz-target": f"com.amazonaws.agcod.AGCODService.{operation}"}  # fmt: skip
    for attempt in range(6):  # AGCOD allows 10 requests/s: back off on ThrottlingException
        req = AWSRequest(method="POST", url=f"{URL}/{operation}", data=body, headers=headers)
        SigV4Auth(CREDS, "AGCODService", "us-east-1").add_auth(req)
        answer = requests.post(req.url, data=body, headers=dict(req.headers.items()), timeout=6)
        if answer.json().get("__type") != "ThrottlingException":
            break
        time.sleep(0.1 * 2**attempt)
    return dict(answer.json())


def create(request_id: str, amount: float = 10) -> dict:
    value = {"currencyCode": "USD", "amount": amount}
    return call(
        "CreateGiftCard", {"creationRequestId": request_id, "partnerId": PARTNER, "value": value}
    )


def main(argv: list[str]) -> int:
    skip = set(argv[argv.index("--skip") + 1 :]) if "--skip" in argv else set()
    for i, mock in enumerate(m for m in MOCK_IDS if m not in skip):
        answer = create(mock if i % 2 else PARTNER + mock)
        print(
            mock, answer.get("status") or answer["agcodResponse"]["status"], answer.get("errorType")
        )
    first, again = create("Mocks-plan-idem-1"), create("Mocks-plan-idem-1")
    assert first["gcClaimCode"] == again["gcClaimCode"], "idempotent retry returned another card"
    card = create("Mocks-plan-cancel-1")
    ok = call("CancelGiftCard", {"creationRequestId": "Mocks-plan-cancel-1", "partnerId": PARTNER,
                                 "gcId": card["gcId"]})  # fmt: skip
    print("cancel in window", ok["status"])
    late = create("Mocks-plan-late-1")
    requests.post(f"{ADMIN}/clock/advance", json={"minutes": 16}, timeout=5).raise_for_status()
    refused = call("CancelGiftCard", {"creationRequestId": "Mocks-plan-late-1", "partnerId": PARTNER,
                                      "gcId": late["gcId"]})  # fmt: skip
    print("cancel after window", refused["errorType"])
    certification(skip)
    print("funds", call("GetAvailableFunds", {"partnerId": PARTNER})["availableFunds"])
    return 0


def certification(skip: set[str]) -> None:
    """Amazon's certification cases for the NA sandbox: CC, DLB, MAX, IDM."""
    if "CC" not in skip:
        card = create("Mocks-cert-CC", 1000)
        done = call("CancelGiftCard", {"creationRequestId": "Mocks-cert-CC", "partnerId": PARTNER,
                                       "gcId": card["gcId"]})  # fmt: skip
        print("CC", card["status"], done["status"])
    if "DLB" not in skip:
        print("DLB", create("Mocks-cert-DLB", 0.01)["status"])
    if "MAX" not in skip:
        print("MAX", create("Mocks-cert-MAX", 2000.00)["status"])
    if "IDM" not in skip:
        first, again = create("Mocks-cert-IDM", 1000), create("Mocks-cert-IDM", 1000)
        assert first["gcId"] == again["gcId"], "IDM: the retry returned another card"
        print("IDM", first["status"], again["status"])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Faults from the scenario reach AGCOD callers in AGCOD's own error shape."""

from __future__ import annotations

import pytest

from tests.support.agcod import DEFAULT, UNTHROTTLED, Client, assert_error

FAULTS = """version: 1
faults:
  - match: {api: agcod, operation: CreateGiftCard, fields: {creationRequestId: MocksFault1}}
    error: InsufficientFunds
  - match: {api: agcod, operation: CreateGiftCard, fields: {value.amount: 13}}
    error: SystemTemporarilyUnavailable
  - match: {api: agcod, operation: CancelGiftCard}
    error: CardNotFound
    times: 1
  - match: {api: agcod, operation: GetAvailableFunds, identity: agcod-production}
    throttle: true
    times: 1
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory, module_server_factory):
    faults = tmp_path_factory.mktemp("agcod") / "faults.yaml"
    faults.write_text(FAULTS)
    return module_server_factory.in_process([DEFAULT, str(faults), UNTHROTTLED])


def test_error_fault_by_request_id(server):
    r = Client(server, "Mocks").create("MocksFault1", 5)
    assert_error(r, "CreateGiftCard", "F300", "InsufficientFunds", "Insufficient Funds")
    assert Client(server, "Mocks").create("MocksFault2", 5).status_code == 200


def test_error_fault_by_amount_resend_in_xml(server):
    r = Client(server, "Mocks").create("MocksFault3", 13, xml=True)
    assert r.status_code == 400
    assert r.text == (
        "<ErrorResponse><agcodResponse><status>RESEND</status></agcodResponse>"
        "<errorCode>F400</errorCode><errorType>SystemTemporarilyUnavailable</errorType>"
        "<Message>System Temporarily Unavailable</Message></ErrorResponse>"
    )


def test_error_fault_uses_the_operations_response_type(server):
    r = Client(server, "Mocks").cancel("MocksAny")
    assert_error(r, "CancelGiftCard", "F200", "CardNotFound", "Card not found")


def test_throttle_fault(server):
    prod = Client(server, "MocksProd")
    r = prod.funds()
    assert r.status_code == 400
    assert r.json() == {"__type": "ThrottlingException", "message": "Rate exceeded"}
    assert prod.funds().status_code == 200

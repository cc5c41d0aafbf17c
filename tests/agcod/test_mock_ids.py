"""The documented sandbox test plan: every mock request id, in JSON and in XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.support.agcod import DEFAULT, UNTHROTTLED, Client, assert_error

# The spec's table, written out here independently of mocksrv's own copy.
TABLE = [
    ("F1000", "FAILURE", "F100", "GeneralError", "General Error"),
    ("F2000", "FAILURE", "F200", "InvalidRequestInput", "Request body is null"),
    ("F2001", "FAILURE", "F200", "InvalidCardNumberInput", "Card number can't be null or empty"),
    ("F2002", "FAILURE", "F200", "InvalidPartnerIdInput", "Partner Id can't be null or empty"),
    ("F2003", "FAILURE", "F200", "InvalidAmountInput", "Amount can't be null"),
    ("F2004", "FAILURE", "F200", "InvalidAmountValue", "Amount must be larger than 0"),
    (
        "F2005",
        "FAILURE",
        "F200",
        "InvalidCurrencyCodeInput",
        "Currency Code can't be null or empty",
    ),
    (
        "F2010",
        "FAILURE",
        "F200",
        "CardAlreadyActivatedWithDifferentRequestId",
        "The card was already activated with a different request id",
    ),
    ("F2015", "FAILURE", "F200", "MaxAmountExceeded", "Max Amount Exceeded"),
    ("F2016", "FAILURE", "F200", "CurrencyCodeMismatch", "Currency Code Mismatch"),
    ("F2017", "FAILURE", "F200", "FractionalAmountNotAllowed", "Fractional Amount Not Allowed"),
    (
        "F2047",
        "FAILURE",
        "F200",
        "CancelRequestArrivedAfterTimeLimit",
        "Cancellation cannot be processed as too much time has elapsed since creation",
    ),
    ("F3003", "FAILURE", "F300", "InsufficientFunds", "Insufficient Funds"),
    ("F3005", "FAILURE", "F300", "GeneralError", "General Error"),
    (
        "F3010",
        "FAILURE",
        "F300",
        "CustomerSurpassedDailyVelocityLimit",
        "Customer has exceeded daily velocity limit",
    ),
    ("F4000", "RESEND", "F400", "SystemTemporarilyUnavailable", "System Temporarily Unavailable"),
    ("F5000", "FAILURE", "F500", "GeneralError", "General Error"),
]
IDS = [row[0] for row in TABLE]


@pytest.fixture(scope="module")
def server(module_server_factory):
    return module_server_factory.in_process([DEFAULT, UNTHROTTLED])


@pytest.fixture
def sandbox(server):
    return Client(server, "Mocks")


def cards(server) -> int:
    return len(server.app.runtime.stores["agcod"].snapshot(server.app.runtime.clock.now())["cards"])


@pytest.mark.parametrize("prefix", ["", "Mocks"], ids=["bare", "prefixed"])
@pytest.mark.parametrize("row", TABLE, ids=IDS)
def test_create_mock_error_json(server, sandbox, row, prefix):
    mock_id, _status, code, error_type, message = row
    before = cards(server)
    r = sandbox.create(prefix + mock_id, 10)
    assert_error(r, "CreateGiftCard", code, error_type, message)  # creationRequestId is null
    assert cards(server) == before


@pytest.mark.parametrize("prefix", ["", "Mocks"], ids=["bare", "prefixed"])
@pytest.mark.parametrize("row", TABLE, ids=IDS)
def test_create_mock_error_xml(server, sandbox, row, prefix):
    mock_id, status, code, error_type, message = row
    r = sandbox.create(prefix + mock_id, "10.00", xml=True)
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/xml")
    assert r.text == (
        f"<ErrorResponse><agcodResponse><status>{status}</status></agcodResponse>"
        f"<errorCode>{code}</errorCode><errorType>{error_type}</errorType>"
        f"<Message>{message}</Message></ErrorResponse>"
    )


@pytest.mark.parametrize("row", TABLE, ids=IDS)
def test_cancel_mock_error_json(sandbox, row):
    mock_id, _status, code, error_type, message = row
    r = sandbox.cancel(mock_id)
    assert_error(r, "CancelGiftCard", code, error_type, message)


@pytest.mark.parametrize("request_id", ["F0000", "MocksF0000"])
def test_create_mock_success_json(server, sandbox, request_id):
    before = cards(server)
    r = sandbox.create(request_id, 25)
    assert r.status_code == 200
    assert r.text == (
        '{"cardInfo":{"cardNumber":null,"cardStatus":"Fulfilled","expirationDate":null,'
        '"value":{"amount":25.0,"currencyCode":"USD"}},'
        f'"creationRequestId":"{request_id}","gcClaimCode":"ZYXW-VUTS-RQPO",'
        '"gcExpirationDate":null,"gcId":"ABC123ZYX987","status":"SUCCESS"}'
    )
    assert cards(server) == before


def test_create_mock_success_xml(sandbox):
    r = sandbox.create("F0000", "12.50", xml=True)
    assert r.status_code == 200
    assert r.text == (
        "<CreateGiftCardResponse><gcClaimCode>ZYXW-VUTS-RQPO</gcClaimCode>"
        "<cardInfo><value><currencyCode>USD</currencyCode><amount>12.5</amount></value>"
        "<cardStatus>Fulfilled</cardStatus></cardInfo><gcId>ABC123ZYX987</gcId>"
        "<creationRequestId>F0000</creationRequestId><status>SUCCESS</status>"
        "</CreateGiftCardResponse>"
    )


def test_mock_success_echoes_whatever_amount_was_sent(sandbox):
    # the canned success answers before amount validation: a currency the account lacks echoes
    r = sandbox.create("F0000", 3, currency="EUR")
    assert r.status_code == 200
    assert r.json()["cardInfo"]["value"] == {"amount": 3.0, "currencyCode": "EUR"}


def test_cancel_mock_success(sandbox):
    r = sandbox.cancel("F0000")
    assert r.status_code == 200
    assert r.text == '{"creationRequestId":"F0000","gcId":"ABC123ZYX987","status":"SUCCESS"}'
    x = sandbox.cancel("MocksF0000", xml=True)
    assert x.text == (
        "<CancelGiftCardResponse><creationRequestId>MocksF0000</creationRequestId>"
        "<status>SUCCESS</status></CancelGiftCardResponse>"
    )


def test_unknown_f_number_is_an_ordinary_id(sandbox):
    # MocksF9999 is not in the test plan: it is issued as a normal card
    r = sandbox.create("MocksF9999", 5)
    assert r.status_code == 200
    assert r.json()["gcClaimCode"] != "ZYXW-VUTS-RQPO"


def test_production_partner_ignores_mock_ids(server):
    prod = Client(server, "MocksProd")
    r = prod.create("F3003", 10)
    assert_error(
        r,
        "CreateGiftCard",
        "F200",
        "RequestIdMustStartWithPartnerName",
        "Request Id must start with the Partner Id",
        "F3003",
    )
    ok = prod.create("MocksProdF3003", 10)
    assert ok.status_code == 200
    assert ok.json()["gcClaimCode"] != "ZYXW-VUTS-RQPO"


def test_mock_id_needs_the_callers_partner_id(sandbox):
    r = sandbox.post(
        "CreateGiftCard",
        {"creationRequestId": "F3003", "partnerId": "Someone", "value": {"amount": 1}},
    )
    assert_error(
        r,
        "CreateGiftCard",
        "F300",
        "AccessDenied",
        "Partner Id does not belong to the signing credentials",
        "F3003",
    )


@pytest.mark.parametrize("op", ["ActivateGiftCard", "DeactivateGiftCard", "ActivationStatusCheck"])
def test_physical_card_mock_ids(sandbox, op):
    id_name = "statusCheckRequestId" if op == "ActivationStatusCheck" else "activationRequestId"
    body = {id_name: "F2001", "partnerId": "Mocks", "cardNumber": "1"}
    r = sandbox.post(op, body)
    assert_error(r, op, "F200", "InvalidCardNumberInput", "Card number can't be null or empty")
    ok = sandbox.post(op, {**body, id_name: "MocksF0000", "cardNumber": "1234567890123456789"})
    assert ok.status_code == 200, ok.text
    assert ok.json()[id_name] == "MocksF0000"
    assert ok.json()["cardInfo"]["cardNumber"] == "1234567890123456789"


def test_xml_mock_error_parses_as_xml(sandbox):
    r = sandbox.create("F4000", 1, xml=True)
    root = ET.fromstring(r.content)
    assert root.tag == "ErrorResponse"
    assert root.findtext("agcodResponse/status") == "RESEND"
    assert root.findtext("errorType") == "SystemTemporarilyUnavailable"
    assert root.findtext("Message") == "System Temporarily Unavailable"

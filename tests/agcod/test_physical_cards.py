"""Physical cards declared in the scenario: activate, deactivate, status check, their errors."""

from __future__ import annotations

import pytest

from tests.support.agcod import DEFAULT, REGIONS, UNTHROTTLED, Client, assert_error

CARD = "4000000000000001789"  # Amzna, AwaitingActivation
ACTIVE = "4000000000000002789"  # Amzna, Activated by AmznaPreActivated1 for 50 USD


@pytest.fixture
def server(server_factory):
    return server_factory.in_process([REGIONS, UNTHROTTLED])


@pytest.fixture(scope="module")
def shared(module_server_factory):
    """For tests that only provoke errors, which leave the state unchanged."""
    return module_server_factory.in_process([REGIONS, UNTHROTTLED])


def activate(client: Client, rid: str, number: str, amount: object = 25, **kw):
    body = {
        "activationRequestId": rid,
        "partnerId": client.partner_id,
        "cardNumber": number,
        "value": {"currencyCode": "USD", "amount": amount},
    }
    return client.post("ActivateGiftCard", body, **kw)


def deactivate(client: Client, rid: str, number: str, **kw):
    body = {"activationRequestId": rid, "partnerId": client.partner_id, "cardNumber": number}
    return client.post("DeactivateGiftCard", body, **kw)


def status(client: Client, number: str, rid: str = "AmznaS1", **kw):
    body = {"statusCheckRequestId": rid, "partnerId": client.partner_id, "cardNumber": number}
    return client.post("ActivationStatusCheck", body, **kw)


def test_activate_deactivate_cycle(server):
    na = Client(server, "Amzna")
    r = activate(na, "AmznaA1", CARD)
    assert r.status_code == 200
    assert r.text == (
        '{"activationRequestId":"AmznaA1","cardInfo":{"cardNumber":"4000000000000001789",'
        '"cardStatus":"Activated","expirationDate":null,'
        '"value":{"amount":25.0,"currencyCode":"USD"}},"status":"SUCCESS"}'
    )
    assert activate(na, "AmznaA1", CARD).content == r.content  # idempotent replay
    s = status(na, CARD)
    assert s.json()["cardInfo"]["cardStatus"] == "Activated"
    assert s.json()["statusCheckRequestId"] == "AmznaS1"
    d = deactivate(na, "AmznaA1", CARD)
    assert d.status_code == 200
    assert d.json()["cardInfo"]["cardStatus"] == "AwaitingActivation"
    assert status(na, CARD).json()["cardInfo"]["cardStatus"] == "AwaitingActivation"


def test_activate_xml(server):
    r = activate(Client(server, "Amzna"), "AmznaAx", CARD, "10.00", xml=True)
    assert r.text == (
        "<ActivateGiftCardResponse><activationRequestId>AmznaAx</activationRequestId>"
        "<cardInfo><cardNumber>4000000000000001789</cardNumber><value>"
        "<currencyCode>USD</currencyCode><amount>10.0</amount></value>"
        "<cardStatus>Activated</cardStatus></cardInfo><status>SUCCESS</status>"
        "</ActivateGiftCardResponse>"
    )


@pytest.mark.parametrize(
    "rid,number,amount,error_type,message",
    [
        ("AmznaE1", ACTIVE, 50, "CardAlreadyActivatedWithDifferentRequestId",
         "The card was already activated with a different request id"),
        ("AmznaPreActivated1", ACTIVE, 60, "CardActivatedWithDifferentDenomination",
         "Card Activated With Different Denomination"),
        ("AmznaPreActivated1", CARD, 50, "ActivationRequestIdAlreadyBeenUsed",
         "Activation Request Id Already Been Used"),
        ("AmznaE2", "9999999999999999999", 5, "CardNumberNotFound", "Card Number Not Found"),
        ("AmznaE3", "4000000000000001000", 5, "CardNumberCheckSumError",
         "Card Number CheckSum Error"),
        ("AmznaE4", "400000000000", 5, "CardNumberTooShort", "Card Number Too Short"),
        ("AmznaE5", "40000000000000017890", 5, "InvalidCardNumberInput",
         "Card number must be 19 digits"),
        ("AmznaE6", "", 5, "InvalidCardNumberInput", "Card number can't be null or empty"),
        ("AmznaE8", CARD, 0, "InvalidAmountValue", "Amount must be larger than 0"),
        ("Other1", CARD, 5, "RequestIdMustStartWithPartnerName",
         "Request Id must start with the Partner Id"),
    ],
)  # fmt: skip
def test_activate_errors(shared, rid, number, amount, error_type, message):
    r = activate(Client(shared, "Amzna"), rid, number, amount)
    assert_error(r, "ActivateGiftCard", "F200", error_type, message, rid)


def test_deactivate_errors(server):
    na = Client(server, "Amzna")
    assert_error(
        deactivate(na, "AmznaNever", CARD), "DeactivateGiftCard", "F200",
        "NonExistingActivationRequestId", "Non Existing Activation Request Id", "AmznaNever",
    )  # fmt: skip
    assert_error(
        deactivate(na, "AmznaPreActivated1", CARD), "DeactivateGiftCard", "F200",
        "WrongActivationRequestId", "Wrong Activation Request Id", "AmznaPreActivated1",
    )  # fmt: skip
    assert deactivate(na, "AmznaPreActivated1", ACTIVE).status_code == 200
    assert_error(
        deactivate(na, "AmznaPreActivated1", ACTIVE), "DeactivateGiftCard", "F200",
        "DeactivationNotAllowed", "Deactivation Not Allowed", "AmznaPreActivated1",
    )  # fmt: skip


def test_production_activation_moves_funds(server_factory):
    prod = Client(server_factory.in_process([DEFAULT, UNTHROTTLED]), "MocksProd")
    number = "1000000000000002456"
    assert prod.funds().json()["availableFunds"]["amount"] == 10000.0
    assert activate(prod, "MocksProdA1", number, 100).status_code == 200
    assert prod.funds().json()["availableFunds"]["amount"] == 9900.0
    assert deactivate(prod, "MocksProdA1", number).status_code == 200
    assert prod.funds().json()["availableFunds"]["amount"] == 10000.0


def test_status_check_of_unknown_card(shared):
    r = status(Client(shared, "Amzna"), "1234567890123456789", "AmznaS9")
    assert_error(
        r, "ActivationStatusCheck", "F200", "CardNumberNotFound", "Card Number Not Found", "AmznaS9"
    )

"""CancelGiftCard and GetAvailableFunds: the 15-minute window on the scenario clock, funds."""

from __future__ import annotations

import pytest

from tests.support.agcod import DEFAULT, REGIONS, UNTHROTTLED, Client, assert_error

CANCEL_LATE = "Cancellation cannot be processed as too much time has elapsed since creation"


@pytest.fixture
def server(server_factory):
    return server_factory.in_process([REGIONS, UNTHROTTLED])  # clock frozen at 2026-06-10T05:00Z


def advance(server, seconds: float) -> None:
    server.app.runtime.clock.advance(seconds)


def test_cancel_at_14_59_succeeds(server):
    na = Client(server, "Amzna")
    card = na.create("AmznaC1", 10).json()
    advance(server, 14 * 60 + 59)
    r = na.cancel("AmznaC1", card["gcId"])
    assert r.status_code == 200
    assert r.text == f'{{"creationRequestId":"AmznaC1","gcId":"{card["gcId"]}","status":"SUCCESS"}}'


def test_cancel_at_exactly_15_00_succeeds(server):
    na = Client(server, "Amzna")
    na.create("AmznaC0", 10)
    advance(server, 15 * 60)
    assert na.cancel("AmznaC0").status_code == 200


def test_cancel_at_15_01_fails(server):
    na = Client(server, "Amzna")
    assert na.create("AmznaC2", 10).status_code == 200
    advance(server, 15 * 60 + 1)
    r = na.cancel("AmznaC2")
    assert_error(
        r, "CancelGiftCard", "F200", "CancelRequestArrivedAfterTimeLimit", CANCEL_LATE, "AmznaC2"
    )
    again = na.create("AmznaC2", 10)
    assert again.json()["cardInfo"]["cardStatus"] == "Fulfilled"


def test_cancel_late_in_xml(server):
    na = Client(server, "Amzna")
    na.create("AmznaC3", 10)
    advance(server, 3600)
    r = na.cancel("AmznaC3", xml=True)
    assert r.status_code == 400
    assert r.text == (
        "<ErrorResponse><agcodResponse><status>FAILURE</status></agcodResponse>"
        "<errorCode>F200</errorCode><errorType>CancelRequestArrivedAfterTimeLimit</errorType>"
        f"<Message>{CANCEL_LATE}</Message></ErrorResponse>"
    )


def test_create_after_cancel_returns_refunded_card(server):
    na = Client(server, "Amzna")
    first = na.create("AmznaC4", 10).json()
    assert na.cancel("AmznaC4").status_code == 200
    after = na.create("AmznaC4", 10)
    assert after.status_code == 200
    replay = after.json()
    assert replay["cardInfo"]["cardStatus"] == "RefundedToPurchaser"
    for key in ("gcClaimCode", "gcId", "gcExpirationDate", "creationRequestId"):
        assert replay[key] == first[key]
    xml = na.create("AmznaC4", 10, xml=True).text
    assert "<cardStatus>RefundedToPurchaser</cardStatus>" in xml


def test_cancel_twice_succeeds_again(server):
    na = Client(server, "Amzna")
    na.create("AmznaC5", 10)
    assert na.cancel("AmznaC5").status_code == 200
    advance(server, 7200)
    assert na.cancel("AmznaC5").json()["status"] == "SUCCESS"


def test_cancel_xml_success(server):
    na = Client(server, "Amzna")
    na.create("AmznaC6", 10)
    r = na.cancel("AmznaC6", xml=True)
    assert r.text == (
        "<CancelGiftCardResponse><creationRequestId>AmznaC6</creationRequestId>"
        "<status>SUCCESS</status></CancelGiftCardResponse>"
    )


def test_cancel_unknown_card(server):
    r = Client(server, "Amzna").cancel("AmznaNope")
    assert_error(r, "CancelGiftCard", "F200", "CardNotFound", "Card not found", "AmznaNope")


def test_cancel_with_wrong_gc_id(server):
    na = Client(server, "Amzna")
    na.create("AmznaC7", 10)
    r = na.cancel("AmznaC7", "AWRONGWRONG123")
    assert_error(r, "CancelGiftCard", "F200", "InvalidGCIdInput", "Invalid GC Id", "AmznaC7")


def test_cancel_claimed_card(server):
    na = Client(server, "Amzna")
    na.create("AmznaC8", 10)
    assert server.app.runtime.stores["agcod"].mark_claimed("Amzna", "AmznaC8")
    r = na.cancel("AmznaC8")
    assert_error(
        r, "CancelGiftCard", "F200", "GcNotReadyForRefund", "Gift card is not ready for refund",
        "AmznaC8",
    )  # fmt: skip


def test_cancel_other_partners_card_is_not_found(server):
    Client(server, "Amzna").create("AmznaC9", 10)
    r = Client(server, "AmznaProd").cancel("AmznaC9")
    assert_error(r, "CancelGiftCard", "F200", "CardNotFound", "Card not found", "AmznaC9")


def test_sandbox_funds_always_zero(server):
    na = Client(server, "Amzna")
    na.create("AmznaF1", 100)
    r = na.funds()
    assert r.text == (
        '{"availableFunds":{"amount":0.0,"currencyCode":"USD"},"status":"SUCCESS",'
        '"timestamp":"20260610T050000Z"}'
    )


def test_production_funds_debit_and_credit(server):
    uk = Client(server, "Amzuk")  # production, 250.50 GBP
    assert uk.funds().json()["availableFunds"] == {"amount": 250.5, "currencyCode": "GBP"}
    assert uk.create("AmzukP1", 200, "GBP").status_code == 200
    assert uk.funds().json()["availableFunds"]["amount"] == 50.5
    r = uk.create("AmzukP2", 100, "GBP")
    assert_error(r, "CreateGiftCard", "F300", "InsufficientFunds", "Insufficient Funds", "AmzukP2")
    assert uk.funds().json()["availableFunds"]["amount"] == 50.5
    assert uk.create("AmzukP1", 200, "GBP").status_code == 200  # replay: no second debit
    assert uk.funds().json()["availableFunds"]["amount"] == 50.5
    assert uk.cancel("AmzukP1").status_code == 200
    assert uk.funds().json()["availableFunds"]["amount"] == 250.5
    assert uk.cancel("AmzukP1").status_code == 200  # no second credit
    assert uk.funds().json()["availableFunds"]["amount"] == 250.5


def test_funds_xml(server):
    r = Client(server, "AmzjpProd").funds(xml=True)
    assert r.text == (
        "<GetAvailableFundsResponse><availableFunds><amount>100000.0</amount>"
        "<currencyCode>JPY</currencyCode></availableFunds><timestamp>20260610T050000Z</timestamp>"
        "<status>SUCCESS</status></GetAvailableFundsResponse>"
    )


def test_funds_wrong_partner(server):
    r = Client(server, "Amzna", partner_id="Amzuk").funds()
    assert_error(
        r,
        "GetAvailableFunds",
        "F300",
        "AccessDenied",
        "Partner Id does not belong to the signing credentials",
    )


def test_concurrent_identical_creates_debit_once(server_factory):
    from concurrent.futures import ThreadPoolExecutor

    srv = server_factory.in_process([DEFAULT, UNTHROTTLED])
    prod = Client(srv, "MocksProd")  # production, 10000.00 USD

    def create(_: int) -> tuple[int, bytes]:
        r = Client(srv, "MocksProd").create("MocksProdRace1", 25)
        return r.status_code, r.content

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(create, range(50)))
    assert {status for status, _ in results} == {200}
    assert len({body for _, body in results}) == 1
    assert prod.funds().json()["availableFunds"] == {"amount": 9975.0, "currencyCode": "USD"}
    snapshot = srv.app.runtime.stores["agcod"].snapshot(srv.app.runtime.clock.now())
    assert [c["creationRequestId"] for c in snapshot["cards"]] == ["MocksProdRace1"]

"""CancelGiftCard: the 15-minute window on the scenario clock, refunds, errors."""

from __future__ import annotations

import pytest

from tests.support.agcod import REGIONS, UNTHROTTLED, Client, assert_error

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

"""GetAvailableFunds: zero in sandbox, debits and credits in production (once per card), XML."""

from __future__ import annotations

import pytest

from tests.support.agcod import DEFAULT, REGIONS, UNTHROTTLED, Client, assert_error


@pytest.fixture
def server(server_factory):
    return server_factory.in_process([REGIONS, UNTHROTTLED])  # clock frozen at 2026-06-10T05:00Z


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

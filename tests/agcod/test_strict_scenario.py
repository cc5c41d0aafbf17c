"""Decisions overridden in a scenario (agcod-strict.yaml), and scenario validation problems."""

from __future__ import annotations

import pytest

from mocksrv.registry import validate_paths
from tests.support.agcod import STRICT, UNTHROTTLED, Client, assert_error


@pytest.fixture(scope="module")
def server(module_server_factory):
    return module_server_factory.in_process([STRICT, UNTHROTTLED])


def test_denomination_mismatch_is_an_error(server):
    client = Client(server, "Strict")
    assert client.create("StrictD1", 5).status_code == 200
    r = client.create("StrictD1", 6)
    assert_error(
        r, "CreateGiftCard", "F200", "RequestedDenominationMismatch",
        "Requested Denomination Mismatch", "StrictD1",
    )  # fmt: skip
    assert client.create("StrictD1", 5).status_code == 200


def test_strict_ids_refuse_underscore(server):
    r = Client(server, "Strict").create("Strict_1", 5)
    assert_error(
        r, "CreateGiftCard", "F200", "InvalidRequestIdInput",
        "creationRequestId contains characters that are not allowed", "Strict_1",
    )  # fmt: skip


def test_status_per_error_class(server):
    client = Client(server, "Strict")
    assert_error(
        client.create("F3003", 5), "CreateGiftCard", "F300", "InsufficientFunds",
        "Insufficient Funds", status=403,
    )  # fmt: skip
    assert_error(
        client.create("F4000", 5), "CreateGiftCard", "F400", "SystemTemporarilyUnavailable",
        "System Temporarily Unavailable", status=503,
    )  # fmt: skip
    assert_error(
        client.create("F1000", 5), "CreateGiftCard", "F100", "GeneralError", "General Error",
        status=500,
    )  # fmt: skip


def test_amount_limits_from_scenario(server):
    prod = Client(server, "StrictProd")
    assert_error(
        prod.create("StrictProdL1", 101), "CreateGiftCard", "F200", "MaxAmountExceeded",
        "Max Amount Exceeded", "StrictProdL1",
    )  # fmt: skip
    assert_error(
        prod.create("StrictProdL2", 0.5), "CreateGiftCard", "F200", "AmountBelowMinThreshold",
        "Amount Below Min Threshold", "StrictProdL2",
    )  # fmt: skip


def test_cancel_window_from_scenario(server):
    prod = Client(server, "StrictProd")
    assert prod.create("StrictProdW1", 1).status_code == 200
    server.app.runtime.clock.advance(601)
    r = prod.cancel("StrictProdW1")
    assert r.json()["errorType"] == "CancelRequestArrivedAfterTimeLimit"


def test_funds_xml_root_option(server):
    r = Client(server, "StrictProd").funds(xml=True)
    assert r.text.startswith("<GetAvailableFunds><availableFunds>")
    assert r.text.endswith("</GetAvailableFunds>")


def test_body_cap_from_scenario(server):
    client = Client(server, "StrictProd")
    body = {"creationRequestId": "StrictProdBig", "partnerId": "StrictProd",
            "value": {"amount": 1, "currencyCode": "USD"}, "externalReference": "x" * 5000}  # fmt: skip
    r = client.post("CreateGiftCard", body)
    assert_error(r, "CreateGiftCard", "F200", "BadInput", "Request body exceeds 4096 bytes")


def test_scenario_problems_are_reported_with_lines(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "version: 1\n"
        "identities:\n"
        "  - {name: p, api: prime, access_key: AKIAMOCKSRVTEST0001, secret_key: abcdefghijklmnop1}\n"
        "agcod:\n"
        "  partners:\n"
        "    - {partner_id: Abc, identity: p, marketplace: US}\n"
        "    - {partner_id: Abc, identity: nobody, marketplace: XX}\n"
        "  physical_cards:\n"
        "    - {card_number: '123', partner_id: Zed}\n"
    )
    problems = validate_paths([str(bad)])
    text = "\n".join(problems)
    assert "agcod.partners[1].marketplace" in text
    assert "agcod.physical_cards[0].card_number" in text
    bad.write_text(
        "version: 1\n"
        "identities:\n"
        "  - {name: p, api: prime, access_key: AKIAMOCKSRVTEST0001, secret_key: abcdefghijklmnop1}\n"
        "agcod:\n"
        "  partners:\n"
        "    - {partner_id: Abc, identity: p, marketplace: US, funds: 5}\n"
        "  physical_cards:\n"
        "    - {card_number: '1234567890123456789', partner_id: Zed}\n"
    )
    problems = validate_paths([str(bad)])
    assert any(
        "bad.yaml:6: agcod.partners[0].identity: no identity 'p' with api: agcod" in p
        for p in problems
    ), problems
    assert any("agcod.physical_cards[0].partner_id: unknown partner 'Zed'" in p for p in problems)

"""CreateGiftCard: wire format, formats per marketplace, validation order, negotiation, routing."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.support.agcod import DEFAULT, REGIONS, UNTHROTTLED, Client, assert_error, new_id

CLAIM = re.compile(r"[A-Z0-9]{4}-[A-Z0-9]{6}-[A-Z0-9]{4}")
NA_GC_ID = re.compile(r"A[A-Z0-9]{13}")
FE_GC_ID = re.compile(r"[0-9]{16}")


@pytest.fixture(scope="module")
def server(module_server_factory):
    return module_server_factory.in_process([DEFAULT, UNTHROTTLED])


@pytest.fixture(scope="module")
def regions(module_server_factory):
    return module_server_factory.in_process([REGIONS, UNTHROTTLED])


@pytest.fixture
def sandbox(server):
    return Client(server, "Mocks")


def test_create_gift_card_json(sandbox):
    rid = new_id()
    r = sandbox.create(rid, 10)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    uuid.UUID(r.headers["x-amzn-RequestId"])
    body = r.json()
    assert list(body) == sorted(body)
    assert list(body["cardInfo"]) == sorted(body["cardInfo"])
    assert CLAIM.fullmatch(body["gcClaimCode"])
    assert NA_GC_ID.fullmatch(body["gcId"])
    expected = (
        '{"cardInfo":{"cardNumber":null,"cardStatus":"Fulfilled","expirationDate":null,'
        '"value":{"amount":10.0,"currencyCode":"USD"}},'
        f'"creationRequestId":"{rid}","gcClaimCode":"{body["gcClaimCode"]}",'
        f'"gcExpirationDate":null,"gcId":"{body["gcId"]}","status":"SUCCESS"}}'
    )
    assert r.text == expected


def test_create_gift_card_xml(sandbox):
    rid = new_id()
    r = sandbox.create(rid, "1.00", xml=True)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/xml")
    m = re.fullmatch(
        r"<CreateGiftCardResponse><gcClaimCode>(?P<claim>[^<]+)</gcClaimCode>"
        r"<cardInfo><value><currencyCode>USD</currencyCode><amount>1\.0</amount></value>"
        r"<cardStatus>Fulfilled</cardStatus></cardInfo><gcId>(?P<gc>[^<]+)</gcId>"
        rf"<creationRequestId>{rid}</creationRequestId><status>SUCCESS</status>"
        r"</CreateGiftCardResponse>",
        r.text,
    )
    assert m, r.text
    assert CLAIM.fullmatch(m["claim"]) and NA_GC_ID.fullmatch(m["gc"])


def test_same_request_id_returns_byte_identical_card(sandbox):
    rid = new_id()
    first = sandbox.create(rid, 42)
    second = sandbox.create(rid, 42)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    assert first.headers["x-amzn-RequestId"] != second.headers["x-amzn-RequestId"]
    xml_a, xml_b = sandbox.create(rid, 42, xml=True), sandbox.create(rid, 42, xml=True)
    assert xml_a.content == xml_b.content
    assert first.json()["gcClaimCode"] in xml_a.text


def test_reused_id_with_other_amount_returns_original_card(sandbox):
    rid = new_id()
    first = sandbox.create(rid, 20)
    again = sandbox.create(rid, 30)
    assert again.status_code == 200
    assert again.content == first.content
    assert again.json()["cardInfo"]["value"]["amount"] == 20.0


def test_idempotency_is_per_partner(server):
    a, b = Client(server, "Mocks"), Client(server, "MocksProd")
    suffix = uuid.uuid4().hex[:10]
    ra, rb = a.create("Mocks" + suffix, 5), b.create("MocksProd" + suffix, 5)
    assert ra.status_code == rb.status_code == 200
    assert ra.json()["gcId"] != rb.json()["gcId"]


@pytest.mark.parametrize(
    "accept,expect_json",
    [
        ("application/json", True),
        ("text/plain, application/json;q=0.9", True),
        ("application/xml", False),
        ("*/*", False),
        (None, False),
    ],
)
def test_content_negotiation_by_accept(sandbox, accept, expect_json):
    r = sandbox.create(new_id(), 1, headers={"accept": accept})
    assert r.status_code == 200
    assert r.text.startswith("{" if expect_json else "<CreateGiftCardResponse>")


@pytest.mark.parametrize("xml", [False, True])
def test_body_without_content_type_is_sniffed(sandbox, xml):
    r = sandbox.create(new_id(), 1, xml=xml, headers={"content-type": None})
    assert r.status_code == 200, r.text


def test_json_body_under_text_plain_content_type(sandbox):
    r = sandbox.create(new_id(), 1, headers={"content-type": "text/plain"})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "target",
    [
        None,
        "com.amazonaws.agcod.AGCODService.CreateGiftCard",
        "com.amazonaws.agcod.AGCODService./CreateGiftCard",
        "garbage",
    ],
)
def test_x_amz_target_missing_or_malformed_is_tolerated(sandbox, target):
    r = sandbox.create(new_id(), 1, headers={"x-amz-target": target})
    assert r.status_code == 200, r.text


def test_x_amz_target_naming_another_operation(sandbox):
    rid = new_id()
    r = sandbox.create(
        rid, 1, headers={"x-amz-target": "com.amazonaws.agcod.AGCODService.CancelGiftCard"}
    )
    assert_error(
        r,
        "CreateGiftCard",
        "F200",
        "InvalidRequest",
        "x-amz-target names CancelGiftCard, not CreateGiftCard",
    )


@pytest.mark.parametrize(
    "rid,amount,currency,code,error_type,message",
    [
        ("Other1", 1, "USD", "F200", "RequestIdMustStartWithPartnerName",
         "Request Id must start with the Partner Id"),
        ("Mocks" + "x" * 36, 1, "USD", "F200", "RequestIdTooLong", "Request Id is too long"),
        ("Mocks.bad", 1, "USD", "F200", "InvalidRequestIdInput",
         "creationRequestId contains characters that are not allowed"),
        ("MocksV1", None, "USD", "F200", "InvalidAmountInput", "Amount can't be null"),
        ("MocksV2", 0, "USD", "F200", "InvalidAmountValue", "Amount must be larger than 0"),
        ("MocksV3", -5, "USD", "F200", "InvalidAmountValue", "Amount must be larger than 0"),
        ("MocksV4", 1, None, "F200", "InvalidCurrencyCodeInput",
         "Currency Code can't be null or empty"),
        ("MocksV5", 1, "EUR", "F200", "CurrencyCodeMismatch", "Currency Code Mismatch"),
        ("MocksV6", 10.001, "USD", "F200", "FractionalAmountNotAllowed",
         "Fractional Amount Not Allowed"),
        ("MocksV7", 2000.01, "USD", "F200", "MaxAmountExceeded", "Max Amount Exceeded"),
    ],
)  # fmt: skip
def test_create_validation(server, sandbox, rid, amount, currency, code, error_type, message):
    r = sandbox.create(rid, amount, currency)
    assert_error(r, "CreateGiftCard", code, error_type, message, rid)
    assert sandbox.create(rid, amount, currency).json()["errorType"] == error_type  # nothing stored


def test_documented_limits_are_accepted(sandbox):
    assert sandbox.create(new_id(), 0.01).status_code == 200  # sandbox minimum: one cent
    top = sandbox.create(new_id(), 2000)
    assert top.status_code == 200
    assert '"amount":2000.0' in top.text


def test_underscore_and_dash_are_accepted_in_ids(sandbox):
    assert sandbox.create("Mocks_62a309167e7a4-1", 1).status_code == 200


def test_missing_partner_id(sandbox):
    r = sandbox.post("CreateGiftCard", {"creationRequestId": "Mocks1", "value": {"amount": 1}})
    assert_error(
        r,
        "CreateGiftCard",
        "F200",
        "InvalidPartnerIdInput",
        "Partner Id can't be null or empty",
        "Mocks1",
    )


def test_missing_request_id(sandbox):
    r = sandbox.post("CreateGiftCard", {"partnerId": "Mocks", "value": {"amount": 1}})
    assert_error(
        r,
        "CreateGiftCard",
        "F200",
        "InvalidRequestIdInput",
        "creationRequestId can't be null or empty",
    )


def test_partner_id_of_another_account(sandbox):
    body = {"creationRequestId": "MocksProd1", "partnerId": "MocksProd", "value": {"amount": 1}}
    r = sandbox.post("CreateGiftCard", body)
    assert_error(
        r,
        "CreateGiftCard",
        "F300",
        "AccessDenied",
        "Partner Id does not belong to the signing credentials",
        "MocksProd1",
    )


def test_external_reference_limit(sandbox):
    rid = new_id()
    body = {
        "creationRequestId": rid,
        "partnerId": "Mocks",
        "value": {"amount": 1, "currencyCode": "USD"},
        "externalReference": "r" * 101,
    }
    r = sandbox.post("CreateGiftCard", body)
    assert_error(
        r, "CreateGiftCard", "F200", "ExternalReferenceTooLong", "External Reference Too Long", rid
    )
    body["externalReference"] = "r" * 100
    body["programId"] = "p1"
    body["productType"] = "Digital"
    assert sandbox.post("CreateGiftCard", body).status_code == 200


def test_amount_as_numeric_string_is_accepted(sandbox):
    r = sandbox.create(new_id(), "7.50")
    assert r.status_code == 200
    assert '"amount":7.5' in r.text


def test_jp_card_formats(regions):
    jp = Client(regions, "Amzjp")
    r = jp.create("Amzjp0001", 1000, "JPY")
    assert r.status_code == 200, r.text
    body = r.json()
    assert FE_GC_ID.fullmatch(body["gcId"])
    # frozen clock 2026-06-10T05:00Z is 14:00 in Tokyo: expiry 10 years on, 23:59:59 JST
    assert body["gcExpirationDate"] == "Tue Jun 10 14:59:59 UTC 2036"
    assert body["cardInfo"]["value"] == {"amount": 1000.0, "currencyCode": "JPY"}
    frac = jp.create("Amzjp0002", 1000.5, "JPY")
    assert_error(
        frac,
        "CreateGiftCard",
        "F200",
        "FractionalAmountNotAllowed",
        "Fractional Amount Not Allowed",
        "Amzjp0002",
    )


@pytest.mark.parametrize(
    "partner,currency,expiry",
    [
        ("Amzde", "EUR", "Tue Jun 10 21:59:59 UTC 2036"),  # CEST
        ("Amzuk", "GBP", "Tue Jun 10 22:59:59 UTC 2036"),  # BST
    ],
)
def test_eu_card_formats(regions, partner, currency, expiry):
    client = Client(regions, partner)
    r = client.create(f"{client.partner_id}Exp1", 10, currency, xml=True)
    assert r.status_code == 200, r.text
    assert f"<gcExpirationDate>{expiry}</gcExpirationDate>" in r.text
    gc_id = re.search(r"<gcId>([^<]+)</gcId>", r.text)
    assert gc_id and NA_GC_ID.fullmatch(gc_id[1])


def test_winter_expiry_follows_standard_time(regions):
    regions.app.runtime.clock.advance(180 * 86400)  # 2026-12-07: CET and GMT
    try:
        de = Client(regions, "Amzde").create("AmzdeWinter1", 5, "EUR").json()
        uk = Client(regions, "Amzuk").create("AmzukWinter1", 5, "GBP").json()
    finally:
        regions.app.runtime.clock.advance(-180 * 86400)
    assert de["gcExpirationDate"] == "Sun Dec 07 22:59:59 UTC 2036"
    assert uk["gcExpirationDate"] == "Sun Dec 07 23:59:59 UTC 2036"


def test_other_methods_and_paths_are_not_agcod(server, sandbox):
    r = sandbox.session.get(f"{server.url}/CreateGiftCard", timeout=5)
    assert "agcodResponse" not in r.text
    signed = sandbox.post("NoSuchOperation", {"partnerId": "Mocks"})
    assert signed.status_code == 404
    assert signed.json() == {"__type": "UnknownOperationException", "message": "Unknown operation"}

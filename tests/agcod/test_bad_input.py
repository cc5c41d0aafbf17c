"""Bad input never yields a 500: malformed, mistyped, huge, non-UTF-8 and hostile XML bodies."""

from __future__ import annotations

import pytest

from tests.support.agcod import DEFAULT, UNTHROTTLED, Client, assert_error

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<CreateGiftCardRequest><creationRequestId>&lol4;</creationRequestId>
<partnerId>Mocks</partnerId></CreateGiftCardRequest>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<CreateGiftCardRequest><creationRequestId>&xxe;</creationRequestId></CreateGiftCardRequest>"""
LOWERCASE_DOCTYPE = b'<!doctype x [<!entity e "x">]><CreateGiftCardRequest/>'


@pytest.fixture(scope="module")
def server(module_server_factory):
    return module_server_factory.in_process([DEFAULT, UNTHROTTLED])


@pytest.fixture
def prod(server):
    return Client(server, "MocksProd")


def state(server) -> dict:
    return server.app.runtime.stores["agcod"].snapshot(server.app.runtime.clock.now())


def bad(r, message: str) -> None:
    assert_error(r, "CreateGiftCard", "F200", "BadInput", message)


@pytest.mark.parametrize(
    "body,content_type,message",
    [
        pytest.param(b"{not json", "application/json", "Request body is not well-formed JSON",
                     id="json-syntax"),
        pytest.param(b'{"partnerId": "MocksProd",}', "application/json",
                     "Request body is not well-formed JSON", id="json-trailing-comma"),
        pytest.param(b"[1, 2]", "application/json", "Request body must be a JSON object",
                     id="json-array"),
        pytest.param(b'"text"', "application/json", "Request body must be a JSON object",
                     id="json-string"),
        pytest.param(b"[" * 30000 + b"]" * 30000, "application/json",
                     "Request body is not well-formed JSON", id="json-deep-nesting"),
        pytest.param(b'{"value": {"amount": NaN}}', "application/json",
                     "Request body is not well-formed JSON", id="json-nan"),
        pytest.param(b"<CreateGiftCardRequest><partnerId>x", "application/xml",
                     "Request body is not well-formed XML", id="xml-truncated"),
        pytest.param(b"<Other><partnerId>MocksProd</partnerId></Other>", "application/xml",
                     "Expected root element <CreateGiftCardRequest>", id="xml-wrong-root"),
        pytest.param(b'{"partnerId": "\xff\xfe"}', "application/json",
                     "Request body is not valid UTF-8", id="non-utf8-json"),
        pytest.param("<CreateGiftCardRequest>\u00e9</CreateGiftCardRequest>".encode("latin-1"),
                     "application/xml", "Request body is not valid UTF-8", id="latin1-xml"),
        pytest.param(b"\x00\x01\x02binary", None, "Request body is neither JSON nor XML",
                     id="binary"),
        pytest.param(b"partnerId=MocksProd", None, "Request body is neither JSON nor XML",
                     id="form-encoded"),
        pytest.param(BILLION_LAUGHS, "application/xml",
                     "DOCTYPE and ENTITY declarations are not allowed", id="billion-laughs"),
        pytest.param(EXTERNAL_ENTITY, None, "DOCTYPE and ENTITY declarations are not allowed",
                     id="external-entity"),
        pytest.param(LOWERCASE_DOCTYPE, "text/xml",
                     "DOCTYPE and ENTITY declarations are not allowed", id="lowercase-doctype"),
    ],
)  # fmt: skip
def test_malformed_bodies(server, prod, body, content_type, message):
    before = state(server)
    r = prod.post("CreateGiftCard", body, headers={"content-type": content_type})
    bad(r, message)
    assert state(server) == before


@pytest.mark.parametrize(
    "value,message",
    [
        ({"amount": "ten", "currencyCode": "USD"}, "amount must be a number"),
        ({"amount": True, "currencyCode": "USD"}, "amount must be a number"),
        ({"amount": [1], "currencyCode": "USD"}, "amount must be a number"),
        ({"amount": {"v": 1}, "currencyCode": "USD"}, "amount must be a number"),
        ({"amount": 1, "currencyCode": 840}, "currencyCode must be a string"),
        ({"amount": 1, "currencyCode": "USD", "extra": 1}, "Unknown field 'value.extra'"),
        ("10 USD", "value must be an object with amount and currencyCode"),
    ],
)
def test_wrong_value_types(server, prod, value, message):
    before = state(server)
    body = {"creationRequestId": "MocksProdT1", "partnerId": "MocksProd", "value": value}
    bad(prod.post("CreateGiftCard", body), message)
    assert state(server) == before


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("partnerId", 123, "partnerId must be a string"),
        ("creationRequestId", ["MocksProd1"], "creationRequestId must be a string"),
        ("creationRequestId", {"id": 1}, "creationRequestId must be a string"),
        ("unexpected", "x", "Unknown field 'unexpected'"),
    ],
)
def test_wrong_field_types_and_unknown_fields(prod, field, value, message):
    body = {"creationRequestId": "MocksProdT2", "partnerId": "MocksProd", field: value}
    bad(prod.post("CreateGiftCard", body), message)


def test_huge_body(server, prod):
    before = state(server)
    body = b'{"partnerId":"MocksProd","externalReference":"' + b"x" * 200_000 + b'"}'
    bad(prod.post("CreateGiftCard", body), "Request body exceeds 65536 bytes")
    assert state(server) == before


@pytest.mark.parametrize("body", [b"", b"   \n"])
def test_empty_body(prod, body):
    r = prod.post("CreateGiftCard", body)
    assert_error(r, "CreateGiftCard", "F200", "InvalidRequestInput", "Request body is null")


def test_xml_repeated_element_is_a_type_error(prod):
    body = (
        b"<CreateGiftCardRequest><partnerId>MocksProd</partnerId><partnerId>MocksProd</partnerId>"
        b"</CreateGiftCardRequest>"
    )
    r = prod.post("CreateGiftCard", body, xml=True, headers={"accept": "application/json"})
    bad(r, "partnerId must be a string")


def test_bad_input_in_xml_shape(prod):
    r = prod.post("CreateGiftCard", b"<CreateGiftCardRequest>", xml=True)
    assert r.status_code == 400
    assert r.text == (
        "<ErrorResponse><agcodResponse><status>FAILURE</status></agcodResponse>"
        "<errorCode>F200</errorCode><errorType>BadInput</errorType>"
        "<Message>Request body is not well-formed XML</Message></ErrorResponse>"
    )


def test_funds_unchanged_after_bad_input(server, prod):
    before = prod.funds().json()["availableFunds"]
    for body in (b"{", BILLION_LAUGHS, b'{"value":{"amount":"1e999999"}}', b"\xc3\x28"):
        assert prod.post("CreateGiftCard", body).status_code == 400
    assert prod.funds().json()["availableFunds"] == before


def test_huge_exponent_amount_is_rejected_cleanly(prod):
    body = {"creationRequestId": "MocksProdE1", "partnerId": "MocksProd",
            "value": {"amount": 1e300, "currencyCode": "USD"}}  # fmt: skip
    r = prod.post("CreateGiftCard", body)
    assert_error(
        r, "CreateGiftCard", "F200", "MaxAmountExceeded", "Max Amount Exceeded", "MocksProdE1"
    )


@pytest.mark.parametrize(
    "body",
    [
        b"{}",
        b"null",
        b"{" * 1000,
        b'{"value": null, "partnerId": null}',
        "<CreateGiftCardRequest><partnerId>\u00e9</partnerId></CreateGiftCardRequest>".encode(),
        b"<CreateGiftCardRequest xmlns='urn:x'><value>5</value></CreateGiftCardRequest>",
        b'{"creationRequestId":"MocksProd\\u0000","partnerId":"MocksProd","value":{"amount":1}}',
    ],
)
def test_no_500_for_odd_bodies(prod, body):
    r = prod.post("CreateGiftCard", body, headers={"content-type": None})
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["agcodResponse"]["status"] == "FAILURE"


@pytest.mark.parametrize(
    "amount,error_type,message",
    [
        (b"1e999999", "MaxAmountExceeded", "Max Amount Exceeded"),
        (b"-0", "InvalidAmountValue", "Amount must be larger than 0"),
        (b"1e-999999", "FractionalAmountNotAllowed", "Fractional Amount Not Allowed"),
        (b"123456789012345678901234567890123456789", "MaxAmountExceeded", "Max Amount Exceeded"),
    ],
)
def test_extreme_json_numbers(prod, amount, error_type, message):
    body = (
        b'{"creationRequestId":"MocksProdX1","partnerId":"MocksProd",'
        b'"value":{"currencyCode":"USD","amount":' + amount + b"}}"
    )
    r = prod.post("CreateGiftCard", body)
    assert_error(r, "CreateGiftCard", "F200", error_type, message, "MocksProdX1")

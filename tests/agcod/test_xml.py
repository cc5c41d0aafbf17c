"""XML requests as real AGCOD clients write them: pretty-printed, any order, with a declaration."""

from __future__ import annotations

import pytest

from tests.support.agcod import DEFAULT, UNTHROTTLED, Client

ARTICLE_REQUEST = b"""<CreateGiftCardRequest>
<creationRequestId>MocksTSpecTest001</creationRequestId>
<partnerId>Mocks</partnerId>
<value>
<currencyCode>USD</currencyCode>
<amount>10.00</amount>
</value>
</CreateGiftCardRequest>"""


@pytest.fixture(scope="module")
def server(module_server_factory):
    return module_server_factory.in_process([DEFAULT, UNTHROTTLED])


@pytest.fixture
def sandbox(server):
    return Client(server, "Mocks")


def test_article_request(sandbox):
    r = sandbox.post("CreateGiftCard", ARTICLE_REQUEST, xml=True)
    assert r.status_code == 200, r.text
    assert r.text.startswith("<CreateGiftCardResponse><gcClaimCode>")
    assert "<value><currencyCode>USD</currencyCode><amount>10.0</amount></value>" in r.text


def test_declaration_namespace_and_any_order(sandbox):
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<CreateGiftCardRequest xmlns="http://internal.amazon.com/coral/com.amazonaws.agcod/">'
        b"  <value><amount>5</amount><currencyCode>USD</currencyCode></value>\n"
        b"  <partnerId>Mocks</partnerId>\n"
        b"  <creationRequestId>MocksXmlOrder1</creationRequestId>\n"
        b"</CreateGiftCardRequest>"
    )
    r = sandbox.post("CreateGiftCard", body, xml=True)
    assert r.status_code == 200, r.text
    assert "<amount>5.0</amount>" in r.text


def test_xml_request_json_response(sandbox):
    r = sandbox.post(
        "CreateGiftCard", ARTICLE_REQUEST, xml=True, headers={"accept": "application/json"}
    )
    assert r.status_code == 200
    assert r.json()["creationRequestId"] == "MocksTSpecTest001"


def test_json_request_xml_response(sandbox):
    r = sandbox.create("MocksJsonToXml", 2, headers={"accept": "application/xml"})
    assert r.text.startswith("<CreateGiftCardResponse>")


def test_xml_cancel_and_funds(sandbox):
    sandbox.post(
        "CreateGiftCard",
        {"creationRequestId": "MocksXmlC1", "partnerId": "Mocks",
         "value": {"currencyCode": "USD", "amount": "1.00"}},
        xml=True,
    )  # fmt: skip
    r = sandbox.post(
        "CancelGiftCard", {"creationRequestId": "MocksXmlC1", "partnerId": "Mocks"}, xml=True
    )
    assert r.text == (
        "<CancelGiftCardResponse><creationRequestId>MocksXmlC1</creationRequestId>"
        "<status>SUCCESS</status></CancelGiftCardResponse>"
    )
    f = sandbox.post("GetAvailableFunds", {"partnerId": "Mocks"}, xml=True)
    assert f.status_code == 200
    assert f.text.startswith(
        "<GetAvailableFundsResponse><availableFunds><amount>0.0</amount>"
        "<currencyCode>USD</currencyCode></availableFunds><timestamp>"
    )
    assert f.text.endswith("</timestamp><status>SUCCESS</status></GetAvailableFundsResponse>")


def test_empty_xml_elements_count_as_missing(sandbox):
    body = (
        b"<CreateGiftCardRequest><creationRequestId>MocksXmlE1</creationRequestId>"
        b"<partnerId>Mocks</partnerId><value><currencyCode>USD</currencyCode><amount/></value>"
        b"</CreateGiftCardRequest>"
    )
    r = sandbox.post("CreateGiftCard", body, xml=True)
    assert r.status_code == 400
    assert (
        "<errorType>InvalidAmountInput</errorType><Message>Amount can't be null</Message>" in r.text
    )


def test_xml_error_messages_are_escaped(sandbox):
    body = b'{"creationRequestId": "Mocks1", "partnerId": "Mocks", "<x>&": 1}'
    r = sandbox.post("CreateGiftCard", body, headers={"accept": "application/xml"})
    assert r.status_code == 400
    assert "<Message>Unknown field '&lt;x&gt;&amp;'</Message>" in r.text


def test_xml_amount_must_be_numeric(sandbox):
    body = (
        b"<CreateGiftCardRequest><creationRequestId>MocksXmlN1</creationRequestId>"
        b"<partnerId>Mocks</partnerId><value><currencyCode>USD</currencyCode>"
        b"<amount>1,00</amount></value></CreateGiftCardRequest>"
    )
    r = sandbox.post("CreateGiftCard", body, xml=True)
    assert r.status_code == 400
    assert "<errorType>BadInput</errorType><Message>amount must be a number</Message>" in r.text

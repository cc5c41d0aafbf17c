"""SigV4 failures in AGCOD's own shape, and signing regions per partner account."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import requests

from tests.support.agcod import DEFAULT, REGIONS, UNTHROTTLED, Client
from tests.support.server import session_to
from tests.support.signing import Signer

MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)
BODY = {"creationRequestId": "MocksSig1", "partnerId": "Mocks", "value": {"amount": 1}}


@pytest.fixture(scope="module")
def server(module_server_factory):
    return module_server_factory.in_process([DEFAULT, REGIONS, UNTHROTTLED])


@pytest.fixture
def session(server):
    return session_to(server)


def expect(r: requests.Response, name: str, message: str) -> None:
    assert r.status_code == 403, r.text
    assert r.json() == {"__type": name, "message": message}


def test_missing_authorization(server, session):
    r = session.post(
        f"{server.url}/CreateGiftCard",
        data=json.dumps(BODY),
        headers={"accept": "application/json"},
        timeout=5,
    )
    expect(r, "MissingAuthenticationTokenException", "Missing Authentication Token")


def test_missing_authorization_xml(server, session):
    r = session.post(f"{server.url}/GetAvailableFunds", data=b"{}", timeout=5)
    assert r.status_code == 403
    assert r.text == (
        "<MissingAuthenticationTokenException><Message>Missing Authentication Token</Message>"
        "</MissingAuthenticationTokenException>"
    )


def test_wrong_secret(server):
    r = Client(server, "Mocks").post("CreateGiftCard", BODY, secret="x" * 40)
    expect(r, "InvalidSignatureException", MISMATCH)


def test_wrong_service_still_gets_agcod_shape(server):
    r = Client(server, "Mocks").post("CreateGiftCard", BODY, service="execute-api")
    expect(
        r,
        "InvalidSignatureException",
        "Credential should be scoped to correct service: 'AGCODService'.",
    )


def test_wrong_region_for_the_account(server):
    r = Client(server, "Mocks").post("CreateGiftCard", BODY, region="eu-west-1")
    expect(
        r,
        "InvalidSignatureException",
        "Credential should be scoped to a valid region, not 'eu-west-1'.",
    )


def test_fe_account_signs_for_us_west_2(server):
    jp = Client(server, "Amzjp")
    assert jp.funds().status_code == 200
    r = jp.funds(region="ap-northeast-1")
    expect(
        r,
        "InvalidSignatureException",
        "Credential should be scoped to a valid region, not 'ap-northeast-1'.",
    )


def test_eu_account_signs_for_eu_west_1(server):
    de = Client(server, "Amzde")
    assert de.create("AmzdeSig1", 5, "EUR").status_code == 200
    r = de.create("AmzdeSig2", 5, "EUR", region="us-east-1")
    expect(
        r,
        "InvalidSignatureException",
        "Credential should be scoped to a valid region, not 'us-east-1'.",
    )


def test_unknown_access_key(server, session):
    signer = Signer("AKIANOTAREALKEY00001", "x" * 40, "AGCODService", "us-east-1")
    url = f"{server.url}/CreateGiftCard"
    body = json.dumps(BODY).encode()
    r = signer.send("POST", url, {"accept": "application/json"}, body, session=session)
    expect(
        r, "UnrecognizedClientException", "The security token included in the request is invalid."
    )


def test_prime_key_cannot_call_agcod(server, session):
    signer = Signer(
        "AKIAMOCKSRVPRIME0001",
        "MockSrvPrimeDemoSecretKey000000000000001",
        "AGCODService",
        "us-east-1",
    )
    r = signer.send(
        "POST",
        f"{server.url}/GetAvailableFunds",
        {"accept": "application/json"},
        b"{}",
        session=session,
    )
    expect(
        r, "UnrecognizedClientException", "The security token included in the request is invalid."
    )


def test_signature_expired(server):
    at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20)
    r = Client(server, "Mocks").post("CreateGiftCard", BODY, at=at)
    assert r.status_code == 403
    assert r.json()["__type"] == "InvalidSignatureException"
    assert r.json()["message"].startswith(f"Signature expired: {at:%Y%m%dT%H%M%SZ} is now earlier")


def test_signed_ten_minutes_ago_is_within_agcod_window(server):
    at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    assert Client(server, "Mocks").create("MocksSkew10", 1, at=at).status_code == 200


def test_tampered_body(server, session):
    client = Client(server, "Mocks")
    raw = json.dumps(BODY).encode()
    signed = client.signer.headers(
        "POST", f"{server.url}/CreateGiftCard", {"accept": "application/json"}, raw
    )
    tampered = raw.replace(b'"amount": 1', b'"amount": 9')
    r = session.post(f"{server.url}/CreateGiftCard", data=tampered, headers=signed, timeout=5)
    expect(r, "InvalidSignatureException", MISMATCH)


def test_auth_runs_before_body_parsing(server, session):
    r = session.post(
        f"{server.url}/CreateGiftCard",
        data=b"{not json",
        headers={"accept": "application/json"},
        timeout=5,
    )
    expect(r, "MissingAuthenticationTokenException", "Missing Authentication Token")


def test_xml_body_signed_and_verified(server):
    r = Client(server, "Mocks").create("MocksSigXml", "3.00", xml=True)
    assert r.status_code == 200
    assert "<creationRequestId>MocksSigXml</creationRequestId>" in r.text


def test_malformed_authorization_header(server, session):
    r = session.post(
        f"{server.url}/CreateGiftCard",
        data=json.dumps(BODY),
        headers={
            "accept": "application/json",
            "authorization": "AWS4-HMAC-SHA256 Credential=AKIAMOCKSRVAGCOD0001/20260101/us-east-1/AGCODService/aws4_request",
            "x-amz-date": "20260101T000000Z",
        },
        timeout=5,
    )
    assert r.status_code == 403
    assert r.json()["__type"] == "IncompleteSignatureException"
    assert r.json()["message"].startswith(
        "Authorization header requires 'Signature' parameter. "
        "Authorization header requires 'SignedHeaders' parameter."
    )


def test_sigv4_debug_returns_canonical_request(server_factory):
    srv = server_factory.in_process([DEFAULT, UNTHROTTLED], sigv4_debug=True)
    r = Client(srv, "Mocks").post("CreateGiftCard", BODY, secret="y" * 40)
    assert r.status_code == 403
    message = r.json()["message"]
    assert r.json()["__type"] == "InvalidSignatureException"
    assert message.startswith(MISMATCH)
    assert (
        "The Canonical String for this request should have been\n'POST\n/CreateGiftCard\n"
        in message
    )
    assert "AWS4-HMAC-SHA256\n" in message and "/us-east-1/AGCODService/aws4_request" in message

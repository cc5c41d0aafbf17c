"""SigV4 verification through the Prime API: every failure gives the documented error."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import requests

from tests.support.signing import PRIME_KEY, PRIME_SECRET, Signer

VERIFY = "/v1/customer/benefit/PRIME_3P_PARTNER_BENEFIT/offer-code/123456789/verify"
HEADERS = {"x-amz-marketplace": "US"}
UNSIGNED = {"x-amz-request-id": "req-1"}
MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)


def error(r: requests.Response) -> tuple[int, str, str]:
    body = r.json()["error"]
    return r.status_code, body["code"], body["message"]


@pytest.fixture
def url(mocksrv):
    return mocksrv.url + VERIFY


def test_signed_request_succeeds(url, prime_signer):
    r = prime_signer.send("GET", url, HEADERS, unsigned=UNSIGNED)
    assert (r.status_code, r.content) == (200, b'{"message":"SUCCESS"}')
    assert r.headers["x-amz-request-id"] == "req-1"
    assert re.fullmatch(r"[0-9a-f-]{36}", r.headers["x-amzn-RequestId"])


def test_missing_authorization(url):
    r = requests.get(url, headers={**HEADERS, **UNSIGNED}, timeout=5)
    assert error(r) == (403, "MissingAuthenticationToken", "Missing Authentication Token")
    assert r.headers["x-amzn-ErrorType"] == "MissingAuthenticationToken"


def test_wrong_secret(url, prime_signer):
    r = prime_signer.send("GET", url, HEADERS, unsigned=UNSIGNED, secret="x" * 40)
    assert error(r) == (403, "InvalidSignature", MISMATCH)


def test_unknown_access_key(url):
    signer = Signer("AKIAUNKNOWN000000000", PRIME_SECRET, "execute-api", "us-east-1")
    r = signer.send("GET", url, HEADERS, unsigned=UNSIGNED)
    assert error(r) == (
        403,
        "InvalidSignature",
        "The security token included in the request is invalid.",
    )


def test_tampered_header(url, prime_signer):
    signed = prime_signer.headers("GET", url, HEADERS)
    signed["x-amz-marketplace"] = "IN"  # signed as US
    r = requests.get(url, headers={**signed, **UNSIGNED}, timeout=5)
    assert error(r) == (403, "InvalidSignature", MISMATCH)


def test_tampered_body(mocksrv, prime_signer):
    url = mocksrv.url + VERIFY.replace("verify", "redeem")
    signed = prime_signer.headers("POST", url, HEADERS, b'{"a":1}')
    r = requests.post(url, headers={**signed, **UNSIGNED}, data=b'{"a":2}', timeout=5)
    assert error(r) == (403, "InvalidSignature", MISMATCH)


def test_tampered_path(mocksrv, prime_signer):
    signed = prime_signer.headers("GET", mocksrv.url + VERIFY, HEADERS)
    other = mocksrv.url + VERIFY.replace("123456789", "111111111")
    r = requests.get(other, headers={**signed, **UNSIGNED}, timeout=5)
    assert error(r) == (403, "InvalidSignature", MISMATCH)


def test_wrong_region(url, prime_signer):
    r = prime_signer.send("GET", url, HEADERS, unsigned=UNSIGNED, region="eu-west-1")
    assert error(r) == (
        403,
        "InvalidSignature",
        "Credential should be scoped to a valid region, not 'eu-west-1'.",
    )


def test_wrong_service(url, prime_signer):
    r = prime_signer.send("GET", url, HEADERS, unsigned=UNSIGNED, service="AGCODService")
    assert error(r) == (
        403,
        "InvalidSignature",
        "Credential should be scoped to correct service: 'execute-api'.",
    )


def test_skew_past(url, prime_signer):
    at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=6)
    r = prime_signer.send("GET", url, HEADERS, unsigned=UNSIGNED, at=at)
    status, code, message = error(r)
    assert (status, code) == (403, "InvalidSignature")
    assert re.fullmatch(
        r"Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 5 min\.\)",
        message,
    )
    assert message.startswith(f"Signature expired: {at.strftime('%Y%m%dT%H%M%SZ')} ")


def test_skew_future(url, prime_signer):
    at = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=6)
    r = prime_signer.send("GET", url, HEADERS, unsigned=UNSIGNED, at=at)
    status, code, message = error(r)
    assert (status, code) == (403, "InvalidSignature")
    assert re.fullmatch(
        r"Signature not yet current: \d{8}T\d{6}Z is still later than \d{8}T\d{6}Z "
        r"\(\d{8}T\d{6}Z \+ 5 min\.\)",
        message,
    )


def test_skew_inside_window_is_accepted(url, prime_signer):
    at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=4)
    r = prime_signer.send("GET", url, HEADERS, unsigned=UNSIGNED, at=at)
    assert r.status_code == 200


def test_unsorted_signed_headers_as_in_the_docs(url, prime_signer):
    signed = prime_signer.headers("GET", url, HEADERS)
    auth = signed["Authorization"]
    assert "SignedHeaders=host;x-amz-date;x-amz-marketplace," in auth
    signed["Authorization"] = auth.replace(
        "SignedHeaders=host;x-amz-date;x-amz-marketplace,",
        "SignedHeaders=x-amz-marketplace;host;x-amz-date,  ",
    )
    r = requests.get(url, headers={**signed, **UNSIGNED}, timeout=5)
    assert (r.status_code, r.content) == (200, b'{"message":"SUCCESS"}')


def test_identical_replay_is_legal(url, prime_signer):
    signed = prime_signer.headers("GET", url, HEADERS)
    for _ in range(2):
        r = requests.get(url, headers={**signed, **UNSIGNED}, timeout=5)
        assert r.status_code == 200


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda a: a.replace("Credential=", "Cred="),
            "Authorization header requires 'Credential' parameter.",
        ),
        (
            lambda a: re.sub(r", ?Signature=[0-9a-f]+", "", a),
            "Authorization header requires 'Signature' parameter.",
        ),
        (
            lambda a: a.replace("SignedHeaders=host;", "SignedHeaders=").replace(
                "SignedHeaders", "SignedHeaders"
            ),
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        ),
    ],
)
def test_malformed_authorization(url, prime_signer, mutate, message):
    signed = prime_signer.headers("GET", url, HEADERS)
    signed["Authorization"] = mutate(signed["Authorization"])
    r = requests.get(url, headers={**signed, **UNSIGNED}, timeout=5)
    status, code, text = error(r)
    assert (status, code) == (403, "InvalidSignature")
    assert text.startswith(message)


def test_missing_x_amz_date(url, prime_signer):
    signed = prime_signer.headers("GET", url, HEADERS)
    del signed["X-Amz-Date"]
    r = requests.get(url, headers={**signed, **UNSIGNED}, timeout=5)
    status, code, text = error(r)
    assert (status, code) == (403, "InvalidSignature")
    assert text.startswith(
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
    )


def test_unsigned_extra_headers_are_ignored(url, prime_signer):
    r = prime_signer.send(
        "GET", url, HEADERS, unsigned={**UNSIGNED, "X-Extra": "spaced   value ", "Accept": "*/*"}
    )
    assert r.status_code == 200


def test_header_values_with_inner_whitespace(mocksrv, prime_signer):
    url = mocksrv.url + VERIFY
    r = prime_signer.send(
        "GET",
        url,
        {**HEADERS, "x-amz-time-zone": "America/Los_Angeles", "x-custom": "a   b  c"},
        unsigned=UNSIGNED,
    )
    assert r.status_code == 200, r.text


def test_debug_mode_returns_canonical_request(server_factory):
    srv = server_factory(sigv4_debug=True)
    url = srv.url + VERIFY
    signer = Signer(PRIME_KEY, PRIME_SECRET, "execute-api", "us-east-1")
    r = signer.send("GET", url, HEADERS, unsigned=UNSIGNED, secret="y" * 40)
    status, code, message = error(r)
    assert (status, code) == (403, "InvalidSignature")
    assert message.startswith(MISMATCH)
    assert "The Canonical String for this request should have been" in message
    assert f"GET\n{VERIFY}\n\nhost:127.0.0.1:{srv.port}\n" in message
    assert "AWS4-HMAC-SHA256\n" in message  # the string-to-sign


def test_signed_forwarding_headers_are_kept(url, prime_signer):
    # waitress would drop X-Forwarded-* from untrusted peers; a client may sign them, so mocksrv
    # must see them as sent
    headers = {**HEADERS, "X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    r = prime_signer.send("GET", url, headers, unsigned=UNSIGNED)
    assert (r.status_code, r.content) == (200, b'{"message":"SUCCESS"}')


def test_explain_is_the_message_and_with_debug_what_the_server_computed():
    from mocksrv import sigv4

    plain = sigv4.SigV4Failure("skew", "Signature expired: ...")
    assert sigv4.explain(plain) == "Signature expired: ..."
    computed_only = sigv4.SigV4Failure("mismatch", MISMATCH, {}, {"canonicalRequest": "x"})
    assert sigv4.explain(computed_only) == MISMATCH  # debug off: the dashboard sees `computed`
    debug = {"canonicalRequest": "GET\n/\n\nhost:h\n\nhost\nabc", "stringToSign": "AWS4\nx"}
    assert sigv4.explain(sigv4.SigV4Failure("mismatch", MISMATCH, debug)) == (
        f"{MISMATCH}\n\nThe Canonical String for this request should have been\n"
        "'GET\n/\n\nhost:h\n\nhost\nabc'\n\nThe String-to-Sign should have been\n'AWS4\nx'\n"
    )

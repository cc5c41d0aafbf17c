"""Issue 10, D2-D6 and D13: hostile input gets the API's own 4xx error shape, never a 500.

Every request is signed by botocore (tests.signing) and sent over a real socket.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import time
from urllib.parse import urlsplit

import pytest
import requests

from tests.support.agcod import DEFAULT, UNTHROTTLED, Client, assert_error
from tests.support.signing import PRIME_KEY, PRIME_SECRET, Signer

PRIME_PATH = "/v1/customer/benefit/PRIME_3P_PARTNER_BENEFIT/offer-code/123456789"
PRIME_HEADERS = {"x-amz-marketplace": "US", "x-amz-request-id": "req-1"}
S3_KEY, S3_SECRET = "AKIAMOCKSRVPROMO0001", "MockSrvPromoDemoSecretKey000000000000001"
LONG_TTL = """version: 1
prime: {auth_code_ttl_seconds: 315360000}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory, module_server_factory):
    long_ttl = tmp_path_factory.mktemp("hardening") / "long-ttl.yaml"
    long_ttl.write_text(LONG_TTL)
    return module_server_factory([DEFAULT, UNTHROTTLED, str(long_ttl)])


def raw_send(url: str, method: str, path: str, headers: dict[str, str], body: bytes = b""):
    """Header values written as Latin-1 bytes, CR and NUL included, as a hostile client may; the
    answer is read by http.client (which takes a bare CR in a header for a line end)."""
    parts = urlsplit(url)
    if not any(k.lower() == "host" for k in headers):  # HTTP/1.1 needs one (RFC 9112)
        headers = {"Host": parts.netloc, **headers}
    lines = [f"{method} {path} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    lines += [f"Content-Length: {len(body)}", "Connection: close"]
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall("\r\n".join(lines).encode("latin-1") + b"\r\n\r\n" + body)
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()


def signed(api: str, url: str, method: str, path: str, headers: dict, body: bytes = b"") -> dict:
    if api == "prime":
        signer = Signer(PRIME_KEY, PRIME_SECRET, "execute-api", "us-east-1")
    elif api == "agcod":
        signer = Signer(
            "AKIAMOCKSRVAGCOD0001",
            "MockSrvAgcodDemoSecretKey000000000000001",
            "AGCODService",
            "us-east-1",
        )
    else:
        signer = Signer(S3_KEY, S3_SECRET, "s3", "us-east-1")
    return signer.headers(method, url + path, headers, body)


REQUESTS = {
    "prime": ("GET", PRIME_PATH + "/verify", PRIME_HEADERS, b""),
    "agcod": (
        "POST",
        "/GetAvailableFunds",
        {
            "content-type": "application/json",
            "accept": "application/json",
            "x-amz-target": "com.amazonaws.agcod.AGCODService.GetAvailableFunds",
        },
        b'{"partnerId": "Mocks"}',
    ),
    "s3": ("GET", "/", {"x-amz-content-sha256": "UNSIGNED-PAYLOAD"}, b""),
}


def assert_shape(api: str, status: int, body: bytes) -> None:
    assert 400 <= status < 500, (status, body)
    if api == "prime":
        assert set(json.loads(body)["error"]) == {"code", "message"}
    elif api == "agcod":
        data = json.loads(body)
        assert data.get("errorCode") or data.get("message"), body
    else:
        assert re.search(rb"<Error><Code>\w+</Code>", body), body


@pytest.mark.parametrize("api", ["prime", "agcod", "s3"])
def test_non_ascii_signature_is_a_signature_error_not_a_500(server, api):
    method, path, headers, body = REQUESTS[api]
    hdrs = signed(api, server.url, method, path, headers, body)
    hdrs["Authorization"] = re.sub(
        r"Signature=\w+", "Signature=" + "\xe9" * 64, hdrs["Authorization"]
    )
    status, _, answer = raw_send(server.url, method, path, hdrs, body)
    assert_shape(api, status, answer)
    assert status == 403


@pytest.mark.parametrize("api", ["prime", "agcod", "s3"])
def test_non_ascii_content_sha256_is_refused_in_the_apis_shape(server, api):
    method, path, headers, body = REQUESTS[api]
    hdrs = signed(
        api, server.url, method, path, {**headers, "x-amz-content-sha256": "\xb2" * 64}, body
    )
    status, _, answer = raw_send(server.url, method, path, hdrs, body)
    assert_shape(api, status, answer)


def test_deeply_nested_agcod_xml_is_bad_input(server):
    depth = 1000
    body = (
        b"<CreateGiftCardRequest><partnerId>Mocks</partnerId><value>"
        + b"<a>" * depth + b"1" + b"</a>" * depth
        + b"</value></CreateGiftCardRequest>"
    )  # fmt: skip
    r = Client(server, "Mocks").post("CreateGiftCard", body, xml=True)
    assert r.status_code == 400, r.text
    assert b"<errorType>BadInput</errorType>" in r.content
    assert b"nests elements too deeply" in r.content


def test_overflowing_amount_is_max_amount_exceeded(server):
    body = (
        b'{"creationRequestId":"MocksE1","partnerId":"Mocks",'
        b'"value":{"currencyCode":"USD","amount":1e999999999}}'
    )
    r = Client(server, "Mocks").post("CreateGiftCard", body)
    assert_error(r, "CreateGiftCard", "F200", "MaxAmountExceeded", "Max Amount Exceeded", "MocksE1")


@pytest.mark.parametrize("operation", ["CreateGiftCard", "ActivateGiftCard"])
def test_mock_success_id_with_an_amount_past_a_double_is_refused(server, operation):
    ids = '"creationRequestId":"F0000"'
    if operation == "ActivateGiftCard":
        ids = '"activationRequestId":"F0000","cardNumber":"1234"'
    body = f'{{{ids},"partnerId":"Mocks","value":{{"currencyCode":"USD","amount":1e400}}}}'.encode()
    r = Client(server, "Mocks").post(operation, body)
    assert r.status_code == 400, r.text
    assert r.json()["errorType"] == "MaxAmountExceeded"


def admin_put_clock(server, now: str) -> requests.Response:
    return requests.put(f"{server.url}/__admin/clock", json={"now": now, "frozen": True}, timeout=5)


def test_prime_auth_code_with_the_clock_at_its_last_day(server):
    try:
        assert admin_put_clock(server, "9999-12-30T00:00:00Z").status_code == 200
        path = PRIME_PATH + "/auth-code"
        hdrs = signed("prime", server.url, "GET", path, PRIME_HEADERS)
        r = requests.get(server.url + path, headers=hdrs, timeout=10)
        assert r.status_code == 200, r.text
        assert r.json()["message"] == "SUCCESS" and r.json()["authCode"]
        state = requests.get(f"{server.url}/__admin/state/prime", timeout=5).json()
        # a 10-year TTL from the last day is held at the clock's last instant
        assert {a["expiresAt"] for a in state["authCodes"]} == {"9999-12-31T00:00:00.000Z"}
    finally:
        requests.post(f"{server.url}/__admin/reset", json={}, timeout=5)


def test_a_running_clock_stops_at_its_last_instant(server):
    try:
        r = requests.put(f"{server.url}/__admin/clock",
                         json={"now": "9999-12-30T23:59:59.800Z", "frozen": False}, timeout=5)  # fmt: skip
        assert r.status_code == 200, r.text
        time.sleep(0.4)  # past the clock's last instant, 9999-12-31T00:00:00Z: held there
        for _ in range(2):
            now = requests.get(f"{server.url}/__admin/clock", timeout=5).json()["now"]
            assert now == "9999-12-31T00:00:00.000Z"
    finally:
        requests.post(f"{server.url}/__admin/reset", json={}, timeout=5)


@pytest.mark.parametrize(
    "now", ["9999-12-31T23:59:00Z", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00"]
)
def test_clock_instants_out_of_range_are_refused(server, now):
    r = admin_put_clock(server, now)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "BadRequest"


def signed_with(api: str, url: str, path: str, headers: dict, name: str, value: str) -> dict:
    """Signed headers, then one header replaced by a value botocore would not send."""
    hdrs = signed(api, url, "GET", path, {**headers, name: "placeholder"})
    hdrs[name] = value
    return hdrs


@pytest.mark.parametrize("value", ["a\rinjected: yes", "a\x00b", "a\x1bb"])
def test_prime_refuses_control_characters_in_the_request_id(server, value):
    path = PRIME_PATH + "/verify"
    hdrs = signed_with("prime", server.url, path, PRIME_HEADERS, "x-amz-request-id", value)
    status, answer_headers, body = raw_send(server.url, "GET", path, hdrs)
    assert "injected" not in answer_headers and "x-amz-request-id" not in answer_headers
    assert 400 <= status < 500, body
    if not answer_headers.get("content-type", "").startswith("application/json"):
        return  # refused by the HTTP layer before the app (a strict parser may do so)
    if "error" not in json.loads(body):  # the HTTP layer's own 400 (llhttp's message)
        assert status == 400
        assert json.loads(body)["message"] in (
            "Invalid header value char",
            "Missing expected LF after header value",
        )
        return
    assert json.loads(body)["error"] == {
        "code": "BadRequest",
        "message": "Invalid x-amz-request-id: control characters are not allowed",
    }


def test_s3_refuses_control_characters_in_header_values(server):
    path = "/"
    sha = {"x-amz-content-sha256": "UNSIGNED-PAYLOAD"}
    hdrs = signed_with("s3", server.url, path, sha, "x-amz-meta-x", "a\rinjected: yes")
    status, answer_headers, body = raw_send(server.url, "GET", path, hdrs)
    assert "injected" not in answer_headers
    assert status == 400, body
    if answer_headers.get("content-type") == "application/xml":
        assert b"<Code>InvalidArgument</Code>" in body


@pytest.mark.parametrize("expires", ["9999999999999999999999", "-5"])
def test_s3_presigned_expiry_out_of_range(server, expires):
    query = (
        "X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Credential={S3_KEY}%2F99991231%2Fus-east-1%2Fs3%2Faws4_request"
        f"&X-Amz-Date=99991231T235959Z&X-Amz-Expires={expires}"
        "&X-Amz-SignedHeaders=host&X-Amz-Signature=" + "0" * 64
    )
    r = requests.get(f"{server.url}/?{query}", timeout=10)
    assert r.status_code == 400, r.text
    assert b"<Code>AuthorizationQueryParametersError</Code>" in r.content

"""mocksrv's own HTTP/1.1 server on the wire: raw sockets for framing, real clients for the rest."""

from __future__ import annotations

import json
import socket

import pytest
import requests

from tests.support.signing import PRIME_KEY, PRIME_SECRET, Signer
from tests.support.wire import VERIFY, exchange, port_of, raw_request, signed_verify

AGCOD = Signer(
    "AKIAMOCKSRVAGCOD0001", "MockSrvAgcodDemoSecretKey000000000000001", "AGCODService", "us-east-1"
)


@pytest.fixture
def port(mocksrv) -> int:
    """The port of the plugin's session server (reset before each test), for raw sockets."""
    return port_of(mocksrv.url)


def test_pipelined_keep_alive_requests_then_close(mocksrv, port):
    h = signed_verify(mocksrv.url)
    first = raw_request("GET", VERIFY, h)
    last = raw_request("GET", VERIFY, {**h, "Connection": "close"})
    out = exchange(port, first + first + last)
    assert out.count(b"HTTP/1.1 200 OK\r\n") == 3
    assert out.count(b'{"message":"SUCCESS"}') == 3
    assert out.endswith(b'{"message":"SUCCESS"}')  # the server closed after the third


def test_response_header_names_keep_their_case(mocksrv, port):
    out = exchange(
        port,
        raw_request("GET", VERIFY, {**signed_verify(mocksrv.url), "Connection": "close"}),
    )
    head = out.split(b"\r\n\r\n", 1)[0].decode()
    assert "\r\nx-amzn-RequestId: " in head
    assert "\r\nx-amz-request-id: raw" in head
    assert "\r\nContent-Length: 21" in head


def test_http10_closes_by_default(mocksrv, port):
    h = signed_verify(mocksrv.url)
    data = raw_request("GET", VERIFY, h).replace(b"HTTP/1.1\r\n", b"HTTP/1.0\r\n", 1)
    out = exchange(port, data)
    assert out.startswith(b"HTTP/1.1 200 OK") and b"Connection: close" in out


def test_chunked_request_body_is_reassembled_before_signature_check(mocksrv, port):
    body = json.dumps(
        {
            "creationRequestId": "MocksChunked001",
            "partnerId": "Mocks",
            "value": {"currencyCode": "USD", "amount": 5},
        }
    ).encode()
    url = mocksrv.url + "/CreateGiftCard"
    h = AGCOD.headers(
        "POST", url, {"accept": "application/json", "content-type": "application/json"}, body
    )
    h.pop("Content-Length", None)
    h["host"] = f"127.0.0.1:{port}"
    chunked = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + 10]), body[i : i + 10]) for i in range(0, len(body), 10)
    )
    data = raw_request(
        "POST",
        "/CreateGiftCard",
        {**h, "Transfer-Encoding": "chunked", "Connection": "close"},
        chunked + b"0\r\n\r\n",
    )
    out = exchange(port, data)
    assert out.startswith(b"HTTP/1.1 200 OK"), out[:300]
    assert b'"creationRequestId":"MocksChunked001"' in out


def test_expect_100_continue(mocksrv, port):
    body = json.dumps({"partnerId": "Mocks"}).encode()
    url = mocksrv.url + "/GetAvailableFunds"
    h = AGCOD.headers("POST", url, {"accept": "application/json"}, body)
    h = {"host": f"127.0.0.1:{port}", **h, "Content-Length": str(len(body))}
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(
            raw_request(
                "POST", "/GetAvailableFunds", {**h, "Expect": "100-continue", "Connection": "close"}
            )
        )
        assert s.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        s.sendall(body)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    assert out.startswith(b"HTTP/1.1 200 OK") and b'"availableFunds"' in out


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GARBAGE\r\n\r\n", b"400"),
        (b"GET / HTTP/2.0\r\n\r\n", b"505"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", b"400"),
        (
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"400",
        ),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", b"400"),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", b"501"),
        # the head's total cap (256 KiB); one field over 64 KiB is the API's to answer
        (
            b"GET / HTTP/1.1\r\nHost: x\r\n" + (b"X-Big: " + b"a" * 60000 + b"\r\n") * 5 + b"\r\n",
            b"431",
        ),
    ],
)
def test_malformed_requests_get_a_clear_error_and_close(port, data, status):
    out = exchange(port, data)
    assert out.startswith(b"HTTP/1.1 " + status), out[:200]
    assert b"Connection: close" in out


def test_head_request_sends_no_body(port):
    out = exchange(
        port,
        b"HEAD /__admin/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    )
    head, _, rest = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and rest == b""


def test_waitress_remains_available(server_factory):
    srv = server_factory(server="waitress")
    r = requests.get(srv.url + "/__admin/health", timeout=5)
    assert r.status_code == 200 and r.json()["status"] == "ok"
    signer = Signer(PRIME_KEY, PRIME_SECRET, "execute-api", "us-east-1")
    r = signer.send(
        "GET", srv.url + VERIFY, {"x-amz-marketplace": "US"}, unsigned={"x-amz-request-id": "w"}
    )
    assert (r.status_code, r.content) == (200, b'{"message":"SUCCESS"}')


def test_body_over_the_cap_is_answered_by_the_api_without_reading_it(server_factory):
    """Over the server's S3 cap the request still reaches S3, which answers in its own shape
    (EntityTooLarge) before the body was sent; then the connection closes."""
    srv = server_factory(max_s3_body_bytes=1024)
    head = b"PUT /bucket/key HTTP/1.1\r\nHost: x\r\nAuthorization: AWS4-HMAC-SHA256 x\r\n"
    out = exchange(srv.port, head + b"Content-Length: 2048\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400 Bad Request\r\n"), out[:200]
    assert b"<Code>EntityTooLarge</Code>" in out and b"Connection: close\r\n" in out
    # unsigned, it is refused as S3 refuses any anonymous request, still without its body
    out = exchange(srv.port, b"PUT /bucket/key HTTP/1.1\r\nHost: x\r\nContent-Length: 2048\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 403 Forbidden\r\n") and b"<Code>AccessDenied</Code>" in out

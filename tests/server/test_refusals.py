"""Issue 19: a body over its API's cap, or a header field over 64 KiB, is not held by the server; the
request still reaches its API, which answers in its own shape (journaled as any request). Bodies
are refused from Content-Length or as they arrive (chunked), without being read; a large S3 body
is spooled to a file and still hashed and stored whole."""

from __future__ import annotations

import hashlib
import json
import re
import socket
from urllib.parse import quote

import boto3
import pytest
import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.support.promotions import DEVO, KEY, NEW, SECRET, file_name, s3_client, wait_report
from tests.support.sts import KEYS
from tests.support.wire import VERIFY, raw_request, signed_verify

PAD = "a" * 70_000  # one header field over the server's 64 KiB field cap
HEALTH = b"GET /__admin/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
LANDING = "/promotions/PROMO-0001/landing?member=amzn1.member.1"
REDEEM = "/v1/customer/benefit/PRIME_3P_PARTNER_BENEFIT/offer-code/123456789/redeem"


@pytest.fixture(scope="module")
def server(module_server_factory):
    return module_server_factory()


def read_answer(s: socket.socket) -> tuple[bytes, bytes]:
    """One response on a keep-alive connection: (head, body by its Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        assert chunk, f"the connection closed: {data[:200]!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)[1])  # type: ignore[index]
    while len(body) < length:
        chunk = s.recv(65536)
        assert chunk, "the connection closed inside a body"
        body += chunk
    return head, body


def closed_after(s: socket.socket) -> bool:
    """True if the server closes the connection (rather than waiting for more of a body)."""
    s.settimeout(5)
    try:
        return s.recv(65536) == b""
    except ConnectionResetError:
        return True


# -- a header field over 64 KiB ---------------------------------------------------------------


def test_sts_with_a_100_kb_session_token_answers_in_stss_own_shape(server):
    """botocore parses the answer (it raised ResponseParserError on the HTTP layer's 431 JSON)."""
    key, secret = KEYS["clientname"]
    sts = boto3.client(
        "sts", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id=key,
        aws_secret_access_key=secret, aws_session_token="T" * 100_000,
        config=Config(retries={"total_max_attempts": 1}),
    )  # fmt: skip
    with pytest.raises(ClientError) as info:
        sts.get_caller_identity()
    error, meta = info.value.response["Error"], info.value.response["ResponseMetadata"]
    assert (error["Code"], meta["HTTPStatusCode"]) == ("ValidationError", 400)
    assert error["Message"] == (
        "Request header field x-amz-security-token exceeds the 65536-byte limit"
    )
    journal = requests.get(f"{server.url}/__admin/journal", params={"limit": 1}, timeout=5).json()
    entry = journal["entries"][0]
    assert (entry["api"], entry["operation"], entry["status"]) == ("sts", "GetCallerIdentity", 400)


def _prime(url: str) -> bytes:
    return raw_request("GET", VERIFY, {**signed_verify(url), "X-Padding": PAD})


def _agcod(url: str) -> bytes:
    headers = {"Host": "127.0.0.1", "Content-Type": "application/json", "Accept":
               "application/json", "Content-Length": "2", "X-Padding": PAD}  # fmt: skip
    return raw_request("POST", "/CreateGiftCard", headers, b"{}")


def _s3(url: str) -> bytes:
    return raw_request("GET", f"/{DEVO}?list-type=2", {"Host": "127.0.0.1", "X-Padding": PAD})


def _landing(url: str) -> bytes:
    return raw_request("GET", LANDING, {"Host": "127.0.0.1", "X-Padding": PAD})


def _admin(url: str) -> bytes:
    return raw_request("GET", "/__admin/health", {"Host": "127.0.0.1", "X-Padding": PAD})


MESSAGE = "Request header field x-padding exceeds the 65536-byte limit"


@pytest.mark.parametrize(
    ("request_of", "status", "expected"),
    [
        (
            _prime,
            400,
            json.dumps(
                {"error": {"code": "BadRequest", "message": MESSAGE}}, separators=(",", ":")
            ).encode(),
        ),
        (_agcod, 400, b'"errorType":"BadInput","message":"' + MESSAGE.encode() + b'"'),
        (
            _s3,
            400,
            b"<Code>RequestHeaderSectionTooLarge</Code><Message>Your request header "
            b"section exceeds the maximum allowed size.</Message>",
        ),  # fmt: skip
        (_landing, 400, b'{"error": {"code": "BadRequest", "message": "' + MESSAGE.encode()),
        (_admin, 431, b'"code": "RequestHeaderFieldsTooLarge"'),
    ],
    ids=["prime", "agcod", "s3", "landing", "admin"],
)
def test_a_header_field_over_64_kib_is_answered_by_its_api(server, request_of, status, expected):
    """The field is dropped and the API answers; the connection stays open (framing is fine)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(request_of(server.url))
        head, body = read_answer(s)
        assert head.startswith(b"HTTP/1.1 %d " % status), head
        assert expected in body, body
        s.sendall(HEALTH)
        assert read_answer(s)[0].startswith(b"HTTP/1.1 200 ")


def test_a_framing_field_over_64_kib_stays_the_servers_431(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"GET /__admin/health HTTP/1.1\r\nHost: " + b"h" * 70_000 + b"\r\n\r\n")
        head, body = read_answer(s)
        assert head.startswith(b"HTTP/1.1 431 ") and body == (
            b'{"message":"Request header fields too large"}'
        )
        assert closed_after(s)


# -- a body over its API's cap ------------------------------------------------------------------


def _head(method: str, path: str, framing: str, *extra: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *extra, framing]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


CHUNK = b"%x\r\n" % 100_000 + b"x" * 100_000 + b"\r\n"  # one chunk over the 64 KiB caps


@pytest.mark.parametrize(
    ("sent", "status", "expected"),
    [
        (_head("POST", REDEEM, "Content-Length: 2097152"), 400,
         b'"message":"Request body of 2097152 bytes exceeds the 1048576-byte limit"'),
        (_head("POST", "/CreateGiftCard", "Content-Length: 100000", "Accept: application/json"),
         400, b'"errorType":"BadInput","message":"Request body exceeds 65536 bytes"'),
        (_head("POST", "/CreateGiftCard", "Transfer-Encoding: chunked", "Accept: application/json")
         + CHUNK, 400, b'"errorType":"BadInput","message":"Request body exceeds 65536 bytes"'),
        (_head("POST", "/", "Content-Length: 100000",
               "Content-Type: application/x-www-form-urlencoded"), 400,
         b"<Code>ValidationError</Code>\n    <Message>Request body exceeds 65536 bytes</Message>"),
        (_head("POST", "/__admin/reset", "Transfer-Encoding: chunked",
               "Content-Type: application/json") + CHUNK * 11, 413,
         b'"code": "PayloadTooLarge"'),
        (_head("PUT", f"/{DEVO}/k", "Content-Length: 100000"), 403, b"<Code>AccessDenied</Code>"),
    ],
    ids=["prime", "agcod", "agcod-chunked", "sts", "admin-chunked", "s3-anonymous"],
)  # fmt: skip
def test_a_body_over_its_apis_cap_is_answered_without_being_read(server, sent, status, expected):
    """Only the head (or the part of a chunked body past the cap) is sent: the answer comes
    without the rest, in the API's shape, and the connection then closes."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(sent)
        head, body = read_answer(s)
        assert head.startswith(b"HTTP/1.1 %d " % status), head
        assert b"\r\nConnection: close" in head and expected in body, body
        assert closed_after(s)


# -- a large S3 body: spooled, hashed and stored whole -------------------------------------------


def test_a_spooled_body_with_a_wrong_payload_hash_names_the_hash_of_what_arrived(server):
    """3 MiB (over the 1 MiB the server holds in memory): the hash S3 reports is computed over
    the spooled file, chunk by chunk."""
    key = NEW + file_name()
    url = f"{server.url}/{DEVO}/{quote(key, safe='/~')}"
    sent = bytes(range(256)) * (3 * 4096)
    req = AWSRequest(method="PUT", url=url, data=b"signed")
    req.headers["x-amz-content-sha256"] = hashlib.sha256(b"signed").hexdigest()
    S3SigV4Auth(Credentials(KEY, SECRET), "s3", "us-east-1").add_auth(req)
    r = requests.put(url, data=sent, headers=dict(req.headers.items()), timeout=30)
    assert r.status_code == 400 and b"<Code>XAmzContentSHA256Mismatch</Code>" in r.content
    computed = hashlib.sha256(sent).hexdigest().encode()
    assert b"<S3ComputedContentSHA256>" + computed + b"</S3ComputedContentSHA256>" in r.content


def test_a_spooled_upload_of_promo_codes_is_processed_whole(server):
    """A 3 MiB file of codes goes through the server's file to moto and the pipeline."""
    s3 = s3_client(server.url)
    codes = [f"SPOOL-{n:07d}" for n in range(200_000)]
    data = "".join(f"{c},new\n" for c in codes).encode()
    assert len(data) > 3 * 1024 * 1024
    key = NEW + file_name()
    put = s3.put_object(Bucket=DEVO, Key=key, Body=data)
    assert put["ETag"] == '"' + hashlib.md5(data).hexdigest() + '"'
    report = wait_report(s3, key)
    assert report["status"] == "ACCEPTED", report["fileErrors"]
    assert report["rows"] == {"total": 200_000, "accepted": 200_000, "rejected": 0}

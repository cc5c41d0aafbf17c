"""Requests signed with botocore's SigV4Auth (an independent signer), as raw HTTP/1.1 for wrk."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

HOST = "127.0.0.1"
REGION = "us-east-1"
PRIME = Credentials("AKIAMOCKSRVPRIME0001", "MockSrvPrimeDemoSecretKey000000000000001")
AGCOD_SANDBOX = Credentials("AKIAMOCKSRVAGCOD0001", "MockSrvAgcodDemoSecretKey000000000000001")
AGCOD_PROD = Credentials("AKIAMOCKSRVAGCOD0002", "MockSrvAgcodDemoSecretKey000000000000002")
PROMO = Credentials("AKIAMOCKSRVPROMO0001", "MockSrvPromoDemoSecretKey000000000000001")
BENEFIT = "PRIME_3P_PARTNER_BENEFIT"
VERIFY_PATH = f"/v1/customer/benefit/{BENEFIT}/offer-code/123456789/verify"
AGCOD_TARGET = "com.amazonaws.agcod.AGCODService."


def signed(
    creds: Credentials,
    service: str,
    method: str,
    port: int,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    *,
    s3: bool = False,
) -> dict[str, str]:
    """The headers of a request signed now (host `127.0.0.1:port`)."""
    url = f"http://{HOST}:{port}{path}"
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    (S3SigV4Auth if s3 else SigV4Auth)(creds, service, REGION).add_auth(req)
    out = {"Host": f"{HOST}:{port}"}
    out.update(req.headers.items())
    return out


def raw(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    """The request as bytes on the wire (keep-alive, explicit Content-Length)."""
    lines = [f"{method} {path} HTTP/1.1"]
    lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() != "content-length"]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def prime_headers(
    port: int, path: str = VERIFY_PATH, method: str = "GET", creds: Credentials | None = None
) -> dict[str, str]:
    headers = signed(creds or PRIME, "execute-api", method, port, path, {"x-amz-marketplace": "US"})
    headers["x-amz-request-id"] = "bench-0001"  # unsigned, as the Prime docs send it
    return headers


def agcod_body(partner: str, request_id: str, amount: int | float = 10) -> bytes:
    value = {"currencyCode": "USD", "amount": amount}
    body = {"creationRequestId": request_id, "partnerId": partner, "value": value}
    return json.dumps(body, separators=(",", ":")).encode()


def agcod_headers(
    port: int, operation: str, body: bytes, creds: Credentials = AGCOD_SANDBOX
) -> dict[str, str]:
    headers = {
        "x-amz-target": AGCOD_TARGET + operation,
        "accept": "application/json",
        "content-type": "application/json",
    }
    return signed(creds, "AGCODService", "POST", port, f"/{operation}", headers, body)


def write_requests(path: Path, requests: list[bytes]) -> Path:
    """One request per line, CRLF written as TAB (the Lua script turns it back)."""
    with open(path, "wb") as f:
        for req in requests:
            if b"\t" in req or b"\n" in req.replace(b"\r\n", b""):
                raise ValueError("request contains a TAB or a bare LF")
            f.write(req.replace(b"\r\n", b"\t") + b"\n")
    return path


def create_requests(
    port: int, count: int, tag: str, creds: Credentials = AGCOD_SANDBOX
) -> list[bytes]:
    """`count` CreateGiftCard requests for sandbox partner Mocks, distinct creationRequestIds."""
    out = []
    for i in range(count):
        body = agcod_body("Mocks", f"Mocks{tag}{i:07d}")
        headers = agcod_headers(port, "CreateGiftCard", body, creds)
        out.append(raw("POST", "/CreateGiftCard", headers, body))
    return out


def s3_put(port: int, bucket: str, key: str, body: bytes, creds: Credentials = PROMO) -> bytes:
    path = f"/{bucket}/{key}"
    headers = {
        "Content-Type": "text/csv",
        "x-amz-content-sha256": hashlib.sha256(body).hexdigest(),
    }
    return raw("PUT", path, signed(creds, "s3", "PUT", port, path, headers, body, s3=True), body)


def s3_get(port: int, bucket: str, key: str, creds: Credentials = PROMO) -> bytes:
    path = f"/{bucket}/{key}"
    headers = {"x-amz-content-sha256": hashlib.sha256(b"").hexdigest()}
    return raw("GET", path, signed(creds, "s3", "GET", port, path, headers, s3=True))

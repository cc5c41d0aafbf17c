"""Raw HTTP/1.1 on a socket, for the tests of the wire itself (framing, connections, headers)."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from tests.support.signing import PRIME_KEY, PRIME_SECRET, Signer

VERIFY = "/v1/customer/benefit/PRIME_3P_PARTNER_BENEFIT/offer-code/123456789/verify"


def exchange(port: int, data: bytes, *, read_until_close: bool = True) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if not read_until_close:
                break
        return b"".join(chunks)


def port_of(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None, url
    return port


def signed_verify(url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Headers of a Prime verify signed by botocore for the server at `url`, Host first."""
    signer = Signer(PRIME_KEY, PRIME_SECRET, "execute-api", "us-east-1")
    headers = signer.headers("GET", url + VERIFY, {"x-amz-marketplace": "US"})
    host = f"127.0.0.1:{port_of(url)}"
    return {"host": host, **headers, "x-amz-request-id": "raw", **(extra or {})}


def raw_request(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    """The request bytes; botocore signed `host` from the URL, so it goes first, as clients send it."""
    headers = dict(headers)
    host = [f"Host: {headers.pop('host')}"] if "host" in headers else []
    lines = [f"{method} {path} HTTP/1.1", *host, *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

"""Runs the PyPI `agcod` client library against a mocksrv (tests/agcod/test_client_libraries.py).

The library has no endpoint setting: it posts to https://agcod-v2-gamma.amazon.com/<Operation> and
signs for that host. This driver leaves its signing alone and sends its requests, unchanged (the
signed Host header included), over plain HTTP to MOCKSRV_URL. One JSON line per call.

With MOCKSRV_TLS_PORT set, the library's own transport is left alone too: it speaks HTTPS to its
built-in host, and only name resolution sends agcod-v2-gamma.amazon.com to mocksrv's HTTPS
listener (what a hosts-file line does; the port too, since the listener is not on 443 here). The
certificate is checked against mocksrv's CA (REQUESTS_CA_BUNDLE).
"""

from __future__ import annotations

import json
import os
import sys
import types
import warnings

import requests
from agcod import client

warnings.simplefilter("ignore", DeprecationWarning)  # the library calls datetime.utcnow()
URL = os.environ["MOCKSRV_URL"].rstrip("/")
TLS_PORT = os.environ.get("MOCKSRV_TLS_PORT")
SANDBOX_HOST = "agcod-v2-gamma.amazon.com"


def resolve_to_mocksrv(port: int) -> None:
    import socket

    real = socket.getaddrinfo

    def getaddrinfo(host, service, *args, **kwargs):  # type: ignore[no-untyped-def]
        if host == SANDBOX_HOST:
            return real("127.0.0.1", port, *args, **kwargs)
        return real(host, service, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]


def post(url: str, **kw: object) -> requests.Response:
    path = url.split("/", 3)[3]
    return requests.post(f"{URL}/{path}", timeout=10, **kw)  # type: ignore[arg-type]


def step(op: str, fn: object) -> dict:
    body = fn()  # type: ignore[operator]
    print(
        json.dumps(
            {"lib": "agcod (PyPI)", "op": op, "ok": body.get("status") == "SUCCESS", "body": body}
        )
    )
    return body


def main() -> int:
    if TLS_PORT:
        resolve_to_mocksrv(int(TLS_PORT))
    else:
        client.requests = types.SimpleNamespace(post=post)  # the transport only
    client.sandbox = True
    client.partner_id = os.environ["MOCKSRV_AGCOD_PARTNER_ID"]
    client.aws_key_id = os.environ["MOCKSRV_AGCOD_ACCESS_KEY_ID"]
    client.aws_secret_key = os.environ["MOCKSRV_AGCOD_SECRET_ACCESS_KEY"]
    request_id = f"{client.partner_id}PyPi{os.getpid()}"
    card = step("CreateGiftCard", lambda: client.create_gift_card(request_id, 5.0, "USD"))
    step("CancelGiftCard", lambda: client.cancel_gift_card(request_id, card.get("gcId")))
    step("GetAvailableFunds", client.get_available_funds)
    return 0


if __name__ == "__main__":
    sys.exit(main())

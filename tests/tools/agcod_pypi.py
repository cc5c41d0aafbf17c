"""Runs the PyPI `agcod` client library against a mocksrv (tests/test_agcod_clients.py).

The library has no endpoint setting: it posts to https://agcod-v2-gamma.amazon.com/<Operation> and
signs for that host. This driver leaves its signing alone and sends its requests, unchanged (the
signed Host header included), over plain HTTP to MOCKSRV_URL. One JSON line per call.
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

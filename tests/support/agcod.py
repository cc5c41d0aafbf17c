"""AGCOD test helpers (no tests here): a botocore-signed partner client, the scenario files,
request ids and the spec's error bodies."""

from __future__ import annotations

import json
import uuid
from typing import Any

import requests

from mocksrv.server import ServerThread
from tests.support.paths import DATA, SCENARIOS
from tests.support.server import InProcess, session_to
from tests.support.signing import Signer

DEFAULT = str(SCENARIOS / "default.yaml")
REALISTIC = str(SCENARIOS / "agcod-sandbox-realistic.yaml")
REGIONS = str(SCENARIOS / "agcod-regions.yaml")
STRICT = str(SCENARIOS / "agcod-strict.yaml")
CORAL = "http://internal.amazon.com/coral/com.amazonaws.agcod/"
UNTHROTTLED = str(DATA / "agcod-unthrottled.yaml")  # an overlay: no AGCOD rate limit
# account -> (access key, secret, signing region, partnerId)
ACCOUNTS = {
    "Mocks": (
        "AKIAMOCKSRVAGCOD0001",
        "MockSrvAgcodDemoSecretKey000000000000001",
        "us-east-1",
        "Mocks",
    ),
    "MocksProd": (
        "AKIAMOCKSRVAGCOD0002",
        "MockSrvAgcodDemoSecretKey000000000000002",
        "us-east-1",
        "MocksProd",
    ),
    "Amzna": (
        "AKIAMOCKSRVAGCOD0101",
        "MockSrvAgcodDemoSecretKey000000000000101",
        "us-east-1",
        "Amzna",
    ),
    "AmznaProd": (
        "AKIAMOCKSRVAGCOD0102",
        "MockSrvAgcodDemoSecretKey000000000000102",
        "us-east-1",
        "Amzna",
    ),
    "Amzde": (
        "AKIAMOCKSRVAGCOD0103",
        "MockSrvAgcodDemoSecretKey000000000000103",
        "eu-west-1",
        "Amzde",
    ),
    "Amzuk": (
        "AKIAMOCKSRVAGCOD0104",
        "MockSrvAgcodDemoSecretKey000000000000104",
        "eu-west-1",
        "Amzuk",
    ),
    "Amzjp": (
        "AKIAMOCKSRVAGCOD0105",
        "MockSrvAgcodDemoSecretKey000000000000105",
        "us-west-2",
        "Amzjp",
    ),
    "AmzjpProd": (
        "AKIAMOCKSRVAGCOD0106",
        "MockSrvAgcodDemoSecretKey000000000000106",
        "us-west-2",
        "Amzjp",
    ),
    "Strict": (
        "AKIAMOCKSRVAGCOD0201",
        "MockSrvAgcodDemoSecretKey000000000000201",
        "us-east-1",
        "Strict",
    ),
    "StrictProd": (
        "AKIAMOCKSRVAGCOD0202",
        "MockSrvAgcodDemoSecretKey000000000000202",
        "us-east-1",
        "StrictProd",
    ),
}
JSON_HEADERS = {"accept": "application/json", "content-type": "application/json"}
XML_HEADERS = {"accept": "application/xml", "content-type": "application/xml"}


def new_id(prefix: str = "Mocks") -> str:
    """A fresh creationRequestId for `prefix` (a partner id)."""
    return prefix + uuid.uuid4().hex[:16]


def xml_of(root: str, fields: dict[str, Any]) -> bytes:
    """A request body as AGCOD's XML clients write it (built here, not by mocksrv)."""

    def inner(d: dict[str, Any]) -> str:
        return "".join(
            f"<{k}>{inner(v) if isinstance(v, dict) else v}</{k}>"
            for k, v in d.items()
            if v is not None
        )

    return f"<{root}>{inner(fields)}</{root}>".encode()


class Client:
    """An AGCOD partner client: signs with botocore's SigV4Auth for AGCODService; talks to a real
    server over its socket or to an InProcess app without one."""

    def __init__(
        self, server: ServerThread | InProcess, partner: str, partner_id: str | None = None
    ) -> None:
        key, secret, region, default_id = ACCOUNTS[partner]
        self.url = server.url
        self.partner_id = partner_id or default_id
        self.signer = Signer(key, secret, "AGCODService", region)
        self.session = session_to(server)

    def post(
        self,
        operation: str,
        body: dict[str, Any] | bytes,
        *,
        xml: bool = False,
        headers: dict[str, str] | None = None,
        **sign: Any,
    ) -> requests.Response:
        if isinstance(body, dict):
            raw = xml_of(f"{operation}Request", body) if xml else json.dumps(body).encode()
        else:
            raw = body
        hdrs = dict(XML_HEADERS if xml else JSON_HEADERS)
        hdrs.update(headers or {})
        hdrs = {k: v for k, v in hdrs.items() if v is not None}
        url = f"{self.url}/{operation}"
        signed = self.signer.headers("POST", url, hdrs, raw, **sign)
        return self.session.post(url, data=raw, headers=signed, timeout=10)

    def create(
        self, request_id: str, amount: Any = 10, currency: str | None = "USD", **kw: Any
    ) -> requests.Response:
        body = {
            "creationRequestId": request_id,
            "partnerId": self.partner_id,
            "value": {"currencyCode": currency, "amount": amount},
        }
        return self.post("CreateGiftCard", body, **kw)

    def cancel(self, request_id: str, gc_id: str | None = None, **kw: Any) -> requests.Response:
        body = {"creationRequestId": request_id, "partnerId": self.partner_id}
        if gc_id is not None:
            body["gcId"] = gc_id
        return self.post("CancelGiftCard", body, **kw)

    def funds(self, **kw: Any) -> requests.Response:
        return self.post("GetAvailableFunds", {"partnerId": self.partner_id}, **kw)


def error_body(
    op: str, code: str, error_type: str, message: str, request_id: str | None = None, **extra: Any
) -> dict[str, Any]:
    """The spec's JSON error body, written out from the spec (not from mocksrv)."""
    members = {
        "CreateGiftCard": [
            "cardInfo",
            "creationRequestId",
            "gcClaimCode",
            "gcExpirationDate",
            "gcId",
        ],
        "CancelGiftCard": ["creationRequestId", "gcId"],
        "GetAvailableFunds": ["availableFunds", "timestamp"],
        "ActivateGiftCard": ["activationRequestId", "cardInfo"],
        "DeactivateGiftCard": ["activationRequestId", "cardInfo"],
        "ActivationStatusCheck": ["cardInfo", "statusCheckRequestId"],
    }[op]
    inner: dict[str, Any] = {"__type": f"{op}Response:{CORAL}", **dict.fromkeys(members)}
    inner["status"] = "RESEND" if code == "F400" else "FAILURE"
    inner.update(extra)
    if request_id is not None:
        id_member = next(m for m in members if m.endswith("RequestId"))
        inner[id_member] = request_id
    return {"agcodResponse": inner, "errorCode": code, "errorType": error_type, "message": message}


def assert_error(
    r: requests.Response,
    op: str,
    code: str,
    error_type: str,
    message: str,
    request_id: str | None = None,
    status: int = 400,
) -> None:
    assert r.status_code == status, r.text
    assert r.json() == error_body(op, code, error_type, message, request_id), r.text


def create_card(
    client: Any, request_id: str, amount: float = 10, partner: str = "MocksProd", **kw: Any
) -> requests.Response:
    """CreateGiftCard through a `mocksrv.toolkit.client` AGCOD client (the plugin's, `mocksrv.agcod()`)."""
    payload = {
        "creationRequestId": request_id,
        "partnerId": partner,
        "value": {"currencyCode": "USD", "amount": amount},
    }
    return client.call("CreateGiftCard", payload, **kw)

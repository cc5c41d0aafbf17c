"""Tenants test helpers (no tests here): making one over the admin API, and requests signed with
its keys by botocore (AGCOD, Prime) or boto3 (S3, STS)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3
import requests
from botocore.config import Config

from tests.support.signing import Signer

JSON = {"content-type": "application/json", "accept": "application/json"}
PRIME_PATH = "/v1/customer/benefit/{}/offer-code/{}/{}"


def make(url: str, **fields: Any) -> dict[str, Any]:
    """POST /__admin/tenants; the 201 answer (id, identities with keys, ...)."""
    r = requests.post(url + "/__admin/tenants", json=fields, timeout=30)
    assert r.status_code == 201, r.text
    return dict(r.json())


def fresh(method: str, url: str, **kw: Any) -> requests.Response:
    """A request on a connection of its own (so the kernel spreads such requests over the
    workers of `serve --workers N`)."""
    with requests.Session() as session:
        return session.request(method, url, timeout=30, **kw)


def keys(tenant: dict[str, Any], name: str) -> tuple[str, str]:
    """(access key, secret) of the tenant's identity named `name`."""
    found = [i for i in tenant["identities"] if i["name"] == name]
    assert found, (name, tenant["identities"])
    return found[0]["access_key"], found[0]["secret_key"]


def admin(url: str, tenant: str, method: str, path: str, **kw: Any) -> requests.Response:
    """An admin call under /__admin/tenants/{tenant} ("" : the default tenant's /__admin)."""
    base = f"{url}/__admin/tenants/{tenant}" if tenant else f"{url}/__admin"
    if method in ("POST", "PUT") and "json" not in kw:
        kw["json"] = {}
    return requests.request(method, base + path, timeout=30, **kw)


def agcod(
    url: str, key: tuple[str, str], operation: str, body: dict[str, Any], session: Any = None
) -> requests.Response:
    """An AGCOD call signed with `key` (botocore SigV4, us-east-1)."""
    data = json.dumps(body).encode()
    headers = {**JSON, "x-amz-target": f"com.amazonaws.agcod.AGCODService.{operation}"}
    return Signer(*key, "AGCODService", "us-east-1").send(
        "POST", f"{url}/{operation}", headers, data, session=session
    )


def create_card(
    url: str, key: tuple[str, str], rid: str, amount: float, partner: str = "MocksProd",
    session: Any = None,
) -> requests.Response:  # fmt: skip
    return agcod(url, key, "CreateGiftCard", {
        "creationRequestId": rid, "partnerId": partner,
        "value": {"currencyCode": "USD", "amount": amount},
    }, session)  # fmt: skip


def prime(
    url: str, key: tuple[str, str], code: str, op: str = "verify",
    benefit: str = "PRIME_3P_PARTNER_BENEFIT",
) -> requests.Response:  # fmt: skip
    method = "POST" if op == "redeem" else "GET"
    headers = {"x-amz-marketplace": "US"}
    return Signer(*key, "execute-api", "us-east-1").send(
        method, url + PRIME_PATH.format(benefit, code, op), headers,
        unsigned={"x-amz-request-id": uuid.uuid4().hex},
    )  # fmt: skip


def boto(service: str, url: str, key: tuple[str, str], token: str | None = None) -> Any:
    """A boto3 client signing with `key` (S3 path style; no retries)."""
    config: dict[str, Any] = {"retries": {"total_max_attempts": 1}, "read_timeout": 30}
    if service == "s3":
        config["s3"] = {"addressing_style": "path"}
    return boto3.client(
        service, endpoint_url=url, region_name="us-east-1", aws_access_key_id=key[0],
        aws_secret_access_key=key[1], aws_session_token=token, config=Config(**config),
    )  # fmt: skip

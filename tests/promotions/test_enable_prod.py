"""Amazon enables Prod for a client at run time (POST /__admin/actions/promotions/enable-prod):
prod writes start working and Devo keeps its files, reports and inventory."""

from __future__ import annotations

import pytest
import requests
from botocore.exceptions import ClientError

from tests.support.promotions import (
    DEVO,
    NEW,
    PROD,
    error_code,
    s3_client,
    upload,
    wait_report,
)


@pytest.fixture
def server(server_factory):
    return server_factory()


def action(url: str, name: str, body: dict) -> requests.Response:
    return requests.post(f"{url}/__admin/actions/promotions/{name}", json=body, timeout=10)


def devo_inventory(url: str) -> dict:
    state = requests.get(f"{url}/__admin/state/promotions", timeout=5).json()
    return next(p for p in state["inventory"] if p["environment"] == "devo")


def test_enable_prod_keeps_devo_state(server):
    s3 = s3_client(server.url)
    key = upload(s3, b"KEEP-001,new\nKEEP-002,new\n")
    assert wait_report(s3, key)["status"] == "ACCEPTED"
    before = devo_inventory(server.url)
    with pytest.raises(ClientError) as denied:
        s3.put_object(
            Bucket=PROD, Key=NEW + "clientname_new_codes_20260515_1400.csv", Body=b"P-1,new\n"
        )
    assert error_code(denied.value)[0] == "AccessDenied"

    r = action(server.url, "enable-prod", {"client": "clientname"})
    assert r.status_code == 200, r.text
    assert r.json()["prodEnabled"] is True
    prod_key = NEW + "clientname_new_codes_20260516_1400.csv"
    s3.put_object(Bucket=PROD, Key=prod_key, Body=b"PROD-001,new\n")
    assert wait_report(s3, prod_key, bucket=PROD)["status"] == "ACCEPTED"
    assert devo_inventory(server.url) == before  # Devo untouched
    assert wait_report(s3, key, bucket=DEVO)["status"] == "ACCEPTED"  # its report is still there

    assert action(server.url, "disable-prod", {"client": "clientname"}).status_code == 200
    with pytest.raises(ClientError):
        s3.put_object(Bucket=PROD, Key=NEW + "x_new_codes_20260515_1400.csv", Body=b"P-2,new\n")


def test_unknown_client_and_action(server):
    r = action(server.url, "enable-prod", {"client": "nobody"})
    assert r.status_code == 404
    assert r.json()["error"]["message"] == 'give {"client": <ClientName>}, one of: clientname'
    r = requests.post(f"{server.url}/__admin/actions/promotions/launch", json={}, timeout=5)
    assert r.status_code == 404
    assert r.json()["error"]["message"] == (
        "no action promotions/launch; known: promotions/enable-prod, promotions/disable-prod"
    )
    listing = requests.get(f"{server.url}/__admin/actions", timeout=5).json()["actions"]
    assert set(listing["promotions"]) == {"enable-prod", "disable-prod"}

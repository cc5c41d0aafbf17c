"""Amazon's four AGCOD certification cases (CC, DLB, MAX, IDM), each a function of a sandbox
partner's `tests.support.agcod.Client`: tests/agcod/test_certification.py runs them against one
server, tests/state/test_replicas.py through a load balancer in front of three replicas."""

from __future__ import annotations

from collections.abc import Callable

from tests.support.agcod import Client, new_id


def cc_create_1000_usd_then_cancel(sandbox: Client) -> None:
    rid = new_id()
    card = sandbox.create(rid, 1000)
    assert card.status_code == 200, card.text
    assert card.json()["cardInfo"]["value"] == {"amount": 1000.0, "currencyCode": "USD"}
    done = sandbox.cancel(rid, card.json()["gcId"])
    assert done.status_code == 200, done.text
    assert done.json() == {
        "creationRequestId": rid,
        "gcId": card.json()["gcId"],
        "status": "SUCCESS",
    }


def dlb_create_one_cent(sandbox: Client) -> None:
    r = sandbox.create(new_id(), 0.01)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "SUCCESS"
    assert r.json()["cardInfo"]["value"] == {"amount": 0.01, "currencyCode": "USD"}


def max_create_2000(sandbox: Client) -> None:
    r = sandbox.create(new_id(), 2000.00)
    assert r.status_code == 200, r.text
    assert '"value":{"amount":2000.0,"currencyCode":"USD"}' in r.text
    over = sandbox.create(new_id(), 2000.01)
    assert over.json()["errorType"] == "MaxAmountExceeded"


def idm_create_1000_twice_with_one_request_id(sandbox: Client) -> None:
    rid = new_id()
    first, again = sandbox.create(rid, 1000), sandbox.create(rid, 1000)
    assert first.status_code == again.status_code == 200
    assert first.text == again.text  # the same card, byte for byte


CASES: dict[str, Callable[[Client], None]] = {
    "CC": cc_create_1000_usd_then_cancel,
    "DLB": dlb_create_one_cent,
    "MAX": max_create_2000,
    "IDM": idm_create_1000_twice_with_one_request_id,
}

"""Throttling per access key (agcod-sandbox-realistic): 10/s across operations, GetAvailableFunds 1/s, status 400 or 429."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.agcod import REALISTIC, STRICT, Client
from tests.support.server import session_to

THROTTLED = {"__type": "ThrottlingException", "message": "Rate exceeded"}


@pytest.fixture
def server(server_factory):
    """The realistic scenario with its clock frozen: the buckets refill on the scenario clock,
    so a test moves that clock (through the admin API) instead of sleeping."""
    srv = server_factory.in_process([REALISTIC])
    r = session_to(srv).post(f"{srv.url}/__admin/clock/freeze", json={}, timeout=10)
    assert r.json()["frozen"] is True
    return srv


def advance(server, seconds: float) -> None:
    body = {"seconds": seconds}
    r = session_to(server).post(f"{server.url}/__admin/clock/advance", json=body, timeout=10)
    assert r.status_code == 200, r.text


def test_burst_over_ten_per_second(server):
    client = Client(server, "Mocks")
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: client.create(f"MocksBurst{i}", 1), range(40)))
    ok = [r for r in results if r.status_code == 200]
    throttled = [r for r in results if r.status_code != 200]
    assert len(ok) == 10  # the burst, and no refill while the clock stands still
    assert len(throttled) == 30
    for r in throttled:
        assert r.status_code == 400
        assert r.json() == THROTTLED
    for r in ok:
        assert r.json()["status"] == "SUCCESS"


def test_bucket_refills(server):
    client = Client(server, "Mocks")
    codes = [client.create(f"MocksRefill{i}", 1).status_code for i in range(15)]
    assert codes == [200] * 10 + [400] * 5
    advance(server, 0.05)  # half a token
    assert client.create("MocksRefillTooSoon", 1).status_code == 400
    advance(server, 0.1)
    assert client.create("MocksRefillAfter", 1).status_code == 200
    assert client.create("MocksRefillAgain", 1).status_code == 400


def test_get_available_funds_one_per_second(server):
    client = Client(server, "Mocks")
    assert client.funds().status_code == 200
    second = client.funds()
    assert second.status_code == 400
    assert second.json() == THROTTLED
    assert client.create("MocksNotFunds", 1).status_code == 200  # other operations go on
    advance(server, 0.9)
    assert client.funds().status_code == 400
    advance(server, 0.1)
    assert client.funds().status_code == 200


def test_throttling_xml_body(server):
    client = Client(server, "Mocks")
    client.funds()
    r = client.funds(xml=True)
    assert r.status_code == 400
    assert r.text == "<ThrottlingException><Message>Rate exceeded</Message></ThrottlingException>"


def test_buckets_are_per_access_key(server):
    sandbox, prod = Client(server, "Mocks"), Client(server, "MocksProd")
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda i: sandbox.create(f"MocksKey{i}", 1).status_code, range(40)))
    assert 400 in codes
    assert prod.create("MocksProdKey1", 1).status_code == 200


def test_unsigned_requests_do_not_drain_the_bucket(server):
    unsigned = session_to(server)
    for _ in range(20):
        unsigned.post(f"{server.url}/CreateGiftCard", data=b"{}", timeout=5)
    assert Client(server, "Mocks").create("MocksAfterUnsigned", 1).status_code == 200


def test_throttle_status_429_when_configured(server_factory):
    srv = server_factory.in_process([STRICT])  # 2/s for the sandbox partner
    client = Client(srv, "Strict")
    results = [client.create(f"StrictT{i}", 5) for i in range(6)]
    codes = [r.status_code for r in results]
    assert codes[:2] == [200, 200]
    assert 429 in codes
    assert next(r for r in results if r.status_code == 429).json() == THROTTLED
    prod = Client(srv, "StrictProd")  # its own rate limit is 0: unlimited
    assert all(prod.create(f"StrictProdT{i}", 1).status_code == 200 for i in range(6))

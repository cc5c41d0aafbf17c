"""Tenants on SQLite and its control signal: every process follows each tenant's changes (the
signal is one for the whole state; what a process has seen of it is kept per tenant), and a deleted
tenant is unknown on every worker at once; a busy tenant's journal never trims a quiet one's.
Every request here opens a connection of its own, so the kernel spreads them over both workers."""

from __future__ import annotations

import requests

from tests.support.cli import Serve
from tests.support.tenants import create_card, fresh, keys, make, prime

SPREAD = 24  # fresh connections per step: both workers answer some (all on one: 2 ** -23)


def _verify(url: str, tenant: dict) -> int:  # type: ignore[type-arg]
    return prime(url, keys(tenant, "prime-partner"), "123456789").status_code


def test_a_change_to_one_tenant_reaches_every_worker_after_others_caught_up(tmp_path):
    srv = Serve("--state", str(tmp_path / "state.db"), "--workers", "2")
    try:
        a, b = make(srv.url, name="a"), make(srv.url, name="b")
        for tenant in (a, b):  # each worker builds both tenants and catches up with the signal
            assert [_verify(srv.url, tenant) for _ in range(SPREAD)] == [200] * SPREAD
        fault = {"id": "down", "match": {"api": "prime", "operation": "verify"},
                 "error": "ServiceUnavailable"}  # fmt: skip
        added = fresh("POST", f"{srv.url}/__admin/tenants/{a['id']}/faults", json=fault)
        assert added.ok, added.text
        # b's requests on both workers see the signal moved and read b's control row first
        assert [_verify(srv.url, b) for _ in range(SPREAD)] == [200] * SPREAD
        # a's change must still be followed by every worker
        assert [_verify(srv.url, a) for _ in range(SPREAD)] == [503] * SPREAD
        assert [_verify(srv.url, b) for _ in range(SPREAD)] == [200] * SPREAD
    finally:
        srv.stop()


def test_a_deleted_tenant_is_unknown_on_every_worker_at_once(tmp_path):
    srv = Serve("--state", str(tmp_path / "state.db"), "--workers", "2")
    try:
        tenant = make(srv.url, name="doomed")
        key = keys(tenant, "agcod-production")
        for i in range(SPREAD):  # both workers serve it (and catch up with the signal)
            with requests.Session() as s:
                r = create_card(srv.url, key, f"MocksProdDoomed{i}", 1, session=s)
            assert r.status_code == 200, r.text
        assert fresh("DELETE", f"{srv.url}/__admin/tenants/{tenant['id']}").status_code == 200
        for i in range(SPREAD):
            with requests.Session() as s:
                r = create_card(srv.url, key, f"MocksProdAfter{i}", 1, session=s)
            assert r.status_code == 403 and r.json()["__type"] == "UnrecognizedClientException", (
                r.text
            )
    finally:
        srv.stop()


def test_a_busy_tenant_never_trims_a_quiet_tenants_journal(tmp_path):
    scenario = tmp_path / "journal-100.yaml"
    scenario.write_text("version: 1\nextends: default\njournal: {capacity: 100}\n")
    srv = Serve("--state", str(tmp_path / "state.db"), "--scenario", str(scenario))
    try:
        quiet, busy = make(srv.url, name="quiet"), make(srv.url, name="busy")
        for _ in range(40):
            assert _verify(srv.url, quiet) == 200
        for _ in range(250):  # more than the capacity, trimmed on the way
            assert _verify(srv.url, busy) == 200
        for _ in range(30):  # the quiet tenant's journal is trimmed in here (every 64 records)
            assert _verify(srv.url, quiet) == 200
        base = f"{srv.url}/__admin/tenants/"
        page = fresh("GET", base + quiet["id"] + "/journal", params={"limit": 1000}).json()
        assert (page["size"], page["dropped"]) == (70, 0), {k: page[k] for k in ("size", "dropped")}
        assert len(page["entries"]) == 70
        page = fresh("GET", base + busy["id"] + "/journal", params={"limit": 1000}).json()
        assert page["size"] <= 250 and page["size"] + page["dropped"] == 250
    finally:
        srv.stop()

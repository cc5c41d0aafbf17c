"""Tenants on a shared state: they outlive a restart until their ttl, a deleted one leaves no row
behind, and with `--workers 2` a tenant made through one worker is the same on the other (every
request here opens a connection of its own, so the kernel spreads them over both workers)."""

from __future__ import annotations

import sqlite3
import time

import requests

from tests.support.cli import Serve
from tests.support.tenants import create_card, fresh, keys, make, prime


def _rows(db: str, tenant: str) -> int:
    """Rows of `tenant` in every table of the state that has a tenant column."""
    with sqlite3.connect(db) as con:
        tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        total = 0
        for table in tables:
            cols = [c[1] for c in con.execute(f"PRAGMA table_info({table})")]
            if "tenant" in cols:
                total += con.execute(
                    f"SELECT count(*) FROM {table} WHERE tenant=?", (tenant,)
                ).fetchone()[0]
        return int(total)


def test_tenants_outlive_a_restart_until_their_ttl_and_leave_no_row_when_deleted(tmp_path):
    db = str(tmp_path / "state.db")
    srv = Serve("--state", db)
    try:
        kept = make(srv.url, name="kept", ttl_seconds=3600)
        short = make(srv.url, name="short", ttl_seconds=2)
        gone = make(srv.url, name="gone")
        for tenant, rid in ((kept, "MocksProdKept1"), (gone, "MocksProdGone1")):
            r = create_card(srv.url, keys(tenant, "agcod-production"), rid, 12.5)
            assert r.status_code == 200, r.text
        assert _rows(db, gone["id"]) > 0
        assert fresh("DELETE", f"{srv.url}/__admin/tenants/{gone['id']}").ok
        assert _rows(db, gone["id"]) == 0  # its data, journal, control row: all freed
    finally:
        srv.stop()
    srv = Serve("--state", db)
    try:
        got = fresh("GET", f"{srv.url}/__admin/tenants/{kept['id']}").json()
        assert got["identities"] == kept["identities"] and got["name"] == "kept"
        key = keys(kept, "agcod-production")
        replay = create_card(srv.url, key, "MocksProdKept1", 12.5)
        assert replay.status_code == 200 and replay.json()["cardInfo"]["value"]["amount"] == 12.5
        cards = fresh("GET", f"{srv.url}/__admin/tenants/{kept['id']}/state/agcod").json()["cards"]
        assert [c["creationRequestId"] for c in cards] == ["MocksProdKept1"]
        assert fresh("GET", srv.url + "/__admin/state/agcod").json()["cards"] == []
        assert prime(srv.url, keys(gone, "prime-partner"), "123456789").status_code == 403
        deadline = time.monotonic() + 20
        while fresh("GET", f"{srv.url}/__admin/tenants/{short['id']}").status_code == 200:
            assert time.monotonic() < deadline, "the 2 s tenant outlived its ttl by 18 s"
            time.sleep(0.1)
        listed = fresh("GET", srv.url + "/__admin/tenants").json()["tenants"]
        assert [t["id"] for t in listed] == [kept["id"]]
    finally:
        srv.stop()


def test_a_tenant_is_the_same_on_every_worker(tmp_path):
    srv = Serve("--state", str(tmp_path / "state.db"), "--workers", "2")
    try:
        tenants = [make(srv.url, name=f"w{i}") for i in range(8)]
        for n, tenant in enumerate(tenants):
            key = keys(tenant, "agcod-production")
            for i in range(4):
                with requests.Session() as s:  # a connection of its own: either worker
                    r = create_card(srv.url, key, f"MocksProdW{n}x{i}", 1, session=s)
                assert r.status_code == 200, r.text
        for n, tenant in enumerate(tenants):
            journal = fresh("GET", f"{srv.url}/__admin/tenants/{tenant['id']}/journal").json()
            assert sorted(e["fields"]["creationRequestId"] for e in journal["entries"]) == [
                f"MocksProdW{n}x{i}" for i in range(4)
            ]
            partners = fresh("GET", f"{srv.url}/__admin/tenants/{tenant['id']}/state/agcod")
            prod = [p for p in partners.json()["partners"] if p["partnerId"] == "MocksProd"]
            assert prod[0]["availableFunds"] == 10000 - 4
        assert fresh("GET", srv.url + "/__admin/journal").json()["entries"] == []
        for tenant in tenants:
            assert fresh("DELETE", f"{srv.url}/__admin/tenants/{tenant['id']}").ok
        for tenant in tenants:  # deleted through one worker: unknown on both
            for i in range(4):
                with requests.Session() as s:
                    r = create_card(
                        srv.url, keys(tenant, "agcod-production"), f"X{i}", 1, session=s
                    )
                assert r.json()["__type"] == "UnrecognizedClientException", r.text
    finally:
        srv.stop()

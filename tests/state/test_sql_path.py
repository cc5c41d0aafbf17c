"""The SQL path's cheaper mechanisms keep issue 20's guarantees (real `mocksrv serve` processes
on one SQLite state, signed by botocore):

- the control signal beside the state: an admin change made through one process is seen by the
  very next request of another, also after a change cut short by a killed process;
- group commit: concurrent requests of one process share transactions, yet every rule holds
  (a race on one creationRequestId, funds running out, a Prime use limit);
- the journal's compact rows read back as the memory journal's entries and exchanges.
"""

from __future__ import annotations

import json
import mmap
import sqlite3
import struct
import time
from decimal import Decimal

import requests

from tests.support.cli import Serve
from tests.support.promotions import DEVO, NEW
from tests.support.state import START_FUNDS, agcod_state, create, funds, prime, together
from tests.support.sts import STS_ROLES, assume, session_client

U64 = struct.Struct("<Q")


def _signal(state) -> tuple[int, int]:
    """(begun, done): the control signal's counters at the start of the state's lock file."""
    with open(f"{state}.lock", "r+b") as f, mmap.mmap(f.fileno(), 16) as m:
        return U64.unpack_from(m, 0)[0], U64.unpack_from(m, 8)[0]


def _cut_short(state) -> None:
    """As if a process had been killed between a control change's start and its end."""
    with open(f"{state}.lock", "r+b") as f, mmap.mmap(f.fileno(), 16) as m:
        U64.pack_into(m, 0, U64.unpack_from(m, 0)[0] + 1)


def test_an_admin_change_through_one_process_reaches_the_next_request_of_another(tmp_path):
    state = tmp_path / "state.db"
    a = Serve("--state", str(state))
    b = Serve("--state", str(state))
    try:
        assert prime(b.url, "123456789", "verify").json() == {"message": "SUCCESS"}
        clock = {"now": "2026-05-15T14:00:00Z", "frozen": True}
        assert requests.put(a.url + "/__admin/clock", json=clock, timeout=10).ok
        assert (
            requests.get(b.url + "/__admin/clock", timeout=10)
            .json()["now"]
            .startswith("2026-05-15T14:00:00")
        )
        fault = {"id": "once", "match": {"api": "prime", "operation": "verify"},
                 "error": "InternalServerError", "times": 1}  # fmt: skip
        assert requests.post(a.url + "/__admin/faults", json=fault, timeout=10).ok
        assert prime(b.url, "123456789", "verify").status_code == 500
        assert prime(a.url, "123456789", "verify").json() == {"message": "SUCCESS"}
        begun, done = _signal(state)
        assert begun == done
    finally:
        a.stop()
        b.stop()


def test_a_control_change_cut_short_by_a_killed_process_is_settled(tmp_path):
    state = tmp_path / "state.db"
    a = Serve("--state", str(state))
    b = Serve("--state", str(state))
    try:
        _cut_short(state)
        begun, done = _signal(state)
        assert begun == done + 1
        # a process that finds the signal in flight reads the control row, and once no writer
        # holds the lock (a commit of either server's may hold it just then: it looks again on
        # its next request) makes the signal whole again
        for _ in range(50):
            assert prime(b.url, "123456789", "verify").json() == {"message": "SUCCESS"}
            if _signal(state)[0] == _signal(state)[1]:
                break
            time.sleep(0.05)
        assert _signal(state)[0] == _signal(state)[1]
        _cut_short(state)
        assert requests.post(a.url + "/__admin/clock/freeze", json={}, timeout=10).ok
        assert requests.get(b.url + "/__admin/clock", timeout=10).json()["frozen"] is True
        assert requests.post(a.url + "/__admin/clock/unfreeze", json={}, timeout=10).ok
        assert requests.get(b.url + "/__admin/clock", timeout=10).json()["frozen"] is False
    finally:
        a.stop()
        b.stop()


def test_a_control_change_committed_by_a_process_killed_before_its_end_is_seen(tmp_path):
    """A process killed after its control change committed, before it moved `done`: the
    signal's `done` is where another process last saw it, `begun` one ahead; that process
    must read the control row, not trust `done` alone."""
    state = tmp_path / "state.db"
    b = Serve("--state", str(state))
    try:
        assert requests.get(b.url + "/__admin/clock", timeout=10).json()["frozen"] is False
        assert requests.get(b.url + "/__admin/clock", timeout=10).json()["frozen"] is False
        frozen = {"at": "2026-05-15T14:00:00+00:00", "wall": 0.0, "frozen": True}
        with sqlite3.connect(state) as db:  # what the killed process committed
            db.execute(
                "UPDATE control SET clock=?, clock_version=clock_version+1",
                (json.dumps(frozen),),
            )
        db.close()
        _cut_short(state)  # its `begun`, without its `end`
        now = requests.get(b.url + "/__admin/clock", timeout=10).json()
        assert now["frozen"] is True and now["now"].startswith("2026-05-15T14:00:00"), now
        assert _signal(state)[0] == _signal(state)[1]  # settled: no writer held the lock
    finally:
        b.stop()


def test_concurrent_requests_of_one_process_keep_every_rule(tmp_path):
    """16 threads at once on one process (their writes share transactions): one card and one
    debit for a raced creationRequestId; funds that run out refuse exactly the creates beyond
    them, each refused one leaving nothing; a single-use Prime code is used once."""
    srv = Serve("--state", str(tmp_path / "state.db"))
    try:
        session = requests.Session()
        raced = together(16, lambda _: create(srv.url, "MocksProdRace", "25"))
        assert {r.status_code for r in raced} == {200}
        assert len({r.json()["gcClaimCode"] for r in raced}) == 1
        left = START_FUNDS - Decimal("25")
        assert funds(srv.url) == left
        # 16 creates of 1,000 against the 9,975 left: 9 succeed, 7 find the funds gone
        results = dict(together(16, lambda n: (
            f"MocksProdBig{n}", create(srv.url, f"MocksProdBig{n}", "1000"))))  # fmt: skip
        ok = sorted(rid for rid, r in results.items() if r.status_code == 200)
        refused = [r.json()["errorType"] for r in results.values() if r.status_code != 200]
        assert len(ok) == 9 and refused == ["InsufficientFunds"] * 7, refused
        assert funds(srv.url) == left - 9 * 1000
        cards = sorted(c["creationRequestId"] for c in agcod_state(srv.url)["cards"])
        assert cards == sorted(["MocksProdRace", *ok])
        used = together(16, lambda _: prime(srv.url, "444444444", "redeem"))
        wins = [r for r in used if r.json() == {"message": "SUCCESS"}]
        assert len(wins) == 1, [r.text for r in used]
        session.close()
    finally:
        srv.stop()


def _journal(url: str) -> list[dict]:
    return requests.get(url + "/__admin/journal", timeout=10).json()["entries"]


def _same_calls(url: str) -> dict[str, requests.Response]:
    return {
        "verify": prime(url, "123456789", "verify"),
        "create": create(url, "MocksProdJ1", "7"),
        "refused": create(url, "NotMocksJ2", "7"),
    }


VOLATILE = {"seq", "requestId", "time", "latencyMs"}


def test_journal_rows_on_a_state_read_as_the_memory_journal(tmp_path):
    memory = Serve()
    sql = Serve("--state", str(tmp_path / "state.db"))
    try:
        sent = {name: _same_calls(srv.url) for name, srv in (("memory", memory), ("sql", sql))}
        mem, rows = _journal(memory.url), _journal(sql.url)
        assert len(mem) == len(rows) == 3
        for a, b in zip(mem, rows, strict=True):
            for key in VOLATILE:
                a.pop(key), b.pop(key)
            a["scenarioTime"] = b["scenarioTime"] = "-"  # both clocks run
            for fields in (a["fields"], b["fields"]):  # drawn afresh by each server
                for key in ("gcId", "gcClaimCode"):
                    fields.pop(key, None)
            assert a == b
        for name, r in sent["sql"].items():
            rid = r.headers.get("x-amzn-RequestId") or r.headers.get("x-amz-request-id")
            detail = requests.get(f"{sql.url}/__admin/journal/{rid}", timeout=10).json()
            other = sent["memory"][name]
            rid_mem = other.headers.get("x-amzn-RequestId") or other.headers.get("x-amz-request-id")
            twin = requests.get(f"{memory.url}/__admin/journal/{rid_mem}", timeout=10).json()
            assert detail["kept"] is twin["kept"] is True
            assert detail["response"]["body"] == r.text
            assert detail["response"]["status"] == twin["response"]["status"] == r.status_code
            assert detail["request"].keys() == twin["request"].keys()
            assert detail["response"].keys() == twin["response"].keys()
            names = [h[0] for h in detail["request"]["headers"]]
            assert names == [h[0] for h in twin["request"]["headers"]]
            assert detail["request"]["bodyBytes"] == twin["request"]["bodyBytes"]
    finally:
        memory.stop()
        sql.stop()


def test_a_journal_on_a_state_keeps_its_capacity_as_in_memory(tmp_path):
    """Rows beyond the newest `capacity` are removed every 64 records; until then reads do not
    show them and count them as dropped, as the memory journal does at once."""
    scenario = tmp_path / "capacity.yaml"
    scenario.write_text("version: 1\nname: capacity\njournal: {capacity: 5}\n")
    seen = {}
    for name, extra in (("memory", ()), ("sqlite", ("--state", str(tmp_path / "s.db"))),
                        ("workers", ("--state", str(tmp_path / "w.db"), "--workers", "2"))):  # fmt: skip
        srv = Serve("--scenario", str(scenario), *extra)
        try:
            sent = [prime(srv.url, "123456789", "verify").headers["x-amzn-RequestId"]
                    for _ in range(12)]  # fmt: skip
            page = requests.get(srv.url + "/__admin/journal", timeout=10).json()
            oldest = requests.get(f"{srv.url}/__admin/journal/{sent[0]}", timeout=10)
            newest = requests.get(f"{srv.url}/__admin/journal/{sent[-1]}", timeout=10)
            seen[name] = (
                [e["requestId"] for e in page["entries"]] == sent[:-6:-1],
                {k: page[k] for k in ("size", "capacity", "dropped", "count")},
                oldest.status_code,
                newest.status_code,
            )
        finally:
            srv.stop()
    assert seen["memory"] == (True, {"size": 5, "capacity": 5, "dropped": 7, "count": 5}, 404, 200)
    assert seen["sqlite"] == seen["workers"] == seen["memory"], seen


def test_a_session_token_in_an_exchange_on_a_state_is_shown_cut(tmp_path):
    srv = Serve("--state", str(tmp_path / "state.db"), "--scenario", STS_ROLES)
    try:
        creds = assume(srv.url)["Credentials"]
        s3 = session_client("s3", srv.url, creds)
        s3.list_objects_v2(Bucket=DEVO, Prefix=NEW)
        listed = requests.get(
            srv.url + "/__admin/journal", params={"operation": "ListObjectsV2"}, timeout=10
        ).json()["entries"]
        rid = listed[0]["requestId"]
        detail = requests.get(f"{srv.url}/__admin/journal/{rid}", timeout=10).json()
        headers = dict(detail["request"]["headers"])
        assert headers["x-amz-security-token"] == creds["SessionToken"][:8] + "..."
        assert creds["SessionToken"] not in str(detail)
    finally:
        srv.stop()
    with sqlite3.connect(tmp_path / "state.db") as db:  # nor is it kept whole in the state
        kept = [r[0] for r in db.execute("SELECT exchange FROM journal") if r[0]]
    assert kept and not any(creds["SessionToken"] in text for text in kept)

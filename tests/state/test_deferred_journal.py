"""On SQLite the journal rows and Prime's verify counters commit after the answer (in batches,
process by process); every admin read first makes every process commit what it queued. So an
admin read right after an answer sees that request, whichever worker answered it, and the
journal keeps the order in which the requests were answered."""

from __future__ import annotations

import fcntl
import os
import signal
import sqlite3
import threading
import time
from typing import Any

import pytest
import requests

from tests.support import tenants
from tests.support.cli import Serve
from tests.support.state import create, fresh, prime, worker_pids


def test_an_admin_read_right_after_an_answer_sees_it_in_answer_order(tmp_path):
    srv = Serve("--state", str(tmp_path / "state.db"), "--workers", "2")
    try:
        answered: list[str] = []
        for i in range(40):
            with requests.Session() as s:  # a new connection each: both workers answer some
                if i % 2:
                    r = prime(srv.url, "123456789", "verify", s)
                else:
                    r = create(srv.url, f"MocksProdOrder{i}", "1", s)
            assert r.status_code == 200, r.text
            answered.append(r.headers["x-amzn-RequestId"])
            newest = fresh(srv.url, "/__admin/journal", params={"limit": 1}).json()["entries"]
            assert [e["requestId"] for e in newest] == [answered[-1]], i
        for _ in range(40):  # back to back, no read between: rows wait in both workers' queues
            with requests.Session() as s:
                r = prime(srv.url, "123456789", "verify", s)
            assert r.status_code == 200, r.text
            answered.append(r.headers["x-amzn-RequestId"])
        page = fresh(srv.url, "/__admin/journal", params={"limit": 100}).json()
        assert [e["requestId"] for e in page["entries"]] == answered[::-1]
        calls = fresh(srv.url, "/__admin/state/prime").json()
        code = next(c for c in calls["offerCodes"] if c["code"] == "123456789")
        assert code["calls"] == {"verify": 60, "verify:SUCCESS": 60}  # committed after answering
    finally:
        srv.stop()


def test_expectations_count_requests_answered_just_before_on_any_worker(tmp_path):
    srv = Serve("--state", str(tmp_path / "state.db"), "--workers", "2")
    try:
        spec = {"name": "v", "match": {"api": "prime", "operation": "verify"},
                "count": {"exactly": 8}}  # fmt: skip
        assert fresh(srv.url, "/__admin/expectations", method="POST", json=spec).ok
        for n in range(1, 9):
            with requests.Session() as s:
                assert prime(srv.url, "123456789", "verify", s).status_code == 200
            report = fresh(srv.url, "/__admin/expectations/verify").json()
            assert report["expectations"][0]["actual"] == n, report
        assert report["met"] is True
    finally:
        srv.stop()


def test_a_worker_killed_with_rows_queued_does_not_hold_up_admin_reads(tmp_path):
    """Its last rows may be lost (at most the last moments' bookkeeping, never a state change);
    the barrier does not wait for a process that is gone."""
    srv = Serve("--state", str(tmp_path / "state.db"), "--workers", "2")
    try:
        with requests.Session() as s:
            assert create(srv.url, "MocksProdKilled1", "1", s).status_code == 200
        for pid in worker_pids(srv.proc.pid):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while True:
            try:
                started = time.monotonic()
                r = fresh(srv.url, "/__admin/state/agcod")
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert r.ok and time.monotonic() - started < 3.0
        ids = [c["creationRequestId"] for c in r.json()["cards"]]
        assert ids == ["MocksProdKilled1"]  # the state change committed before its answer
    finally:
        srv.stop()


TALLIED = (
    "version: 1\nextends: default\nexpectations:\n  - name: verifies\n"
    "    match: {api: prime, operation: verify}\n    count: {at_least: 1}\n"
)


@pytest.mark.parametrize("tallied", [False, True], ids=["kept-rows", "tallied-rows"])
def test_rows_are_written_without_an_admin_read(tmp_path, tallied):
    """Nobody reads, then the server is killed: the rows and their exchanges were written. Kept
    rows (no expectations) with their exchanges within LINGER seconds, by the loop after a turn
    or by the queue's thread when the loop is idle; rows tallied for expectations within
    moments, their held exchanges within HOLD seconds. The Prime call counters are written
    within LINGER seconds."""
    from mocksrv.state.later import HOLD
    from mocksrv.toolkit.shared_buffer import LINGER

    state = str(tmp_path / "state.db")
    extra = ()
    if tallied:
        (tmp_path / "tallied.yaml").write_text(TALLIED)
        extra = ("--scenario", str(tmp_path / "tallied.yaml"))
    srv = Serve("--state", state, *extra)
    try:
        sent = []
        for _ in range(3):  # the loop's turns commit these ...
            sent.append(prime(srv.url, "123456789", "verify"))
        with requests.Session() as s:  # ... and the idle loop's thread this last one
            sent.append(prime(srv.url, "123456789", "verify", s))
        assert [r.status_code for r in sent] == [200] * 4
        time.sleep(HOLD + 0.5 if tallied else LINGER + 0.5)
    finally:
        srv.kill()
    with sqlite3.connect(state) as db:
        kept = dict(db.execute("SELECT request_id, exchange FROM journal"))
    ids = {r.headers["x-amzn-RequestId"] for r in sent}
    assert set(kept) == ids
    assert all(kept[rid] and "SUCCESS" in kept[rid] for rid in ids), kept
    srv = Serve("--state", state, *extra)
    try:
        journal = fresh(srv.url, "/__admin/journal", params={"api": "prime"}).json()
        assert journal["count"] == 4
        code = next(c for c in fresh(srv.url, "/__admin/state/prime").json()["offerCodes"]
                    if c["code"] == "123456789")  # fmt: skip
        assert code["calls"] == ({} if tallied else {"verify": 4, "verify:SUCCESS": 4})
    finally:
        srv.stop()


def test_kept_rows_of_a_killed_process_are_lost_but_its_state_changes_are_not(tmp_path):
    """The trade-off kept rows make, shown: a kill -9 right after the answers loses the rows
    kept in the process (no admin read asked for them), never the card a create committed."""
    state = str(tmp_path / "state.db")
    srv = Serve("--state", state)
    try:
        assert create(srv.url, "MocksProdKept1").status_code == 200
    finally:
        srv.kill()
    srv = Serve("--state", state)
    try:
        assert fresh(srv.url, "/__admin/journal").json()["count"] == 0
        cards = fresh(srv.url, "/__admin/state/agcod").json()["cards"]
        assert [c["creationRequestId"] for c in cards] == ["MocksProdKept1"]
    finally:
        srv.stop()


@pytest.mark.parametrize("extra", [(), ("--workers", "2")], ids=["one-process", "workers-2"])
def test_sigterm_while_the_loop_commits_stops_the_server_cleanly(tmp_path, extra):
    """The loop answers verifies and commits their rows; a SIGTERM that lands in the middle of a
    commit must not leave a lock held for the clean-up to wait on forever. Twelve rounds, each
    stopped under load; each process exits with 0 within the helper's 20 s (before the fix,
    half of the one-process runs of this test hung in one of their rounds)."""
    state = str(tmp_path / "state.db")
    for _ in range(12):
        srv = Serve("--state", state, *extra)
        stop = threading.Event()

        def load(url: str = srv.url, stop: threading.Event = stop) -> None:
            with requests.Session() as s:
                while not stop.is_set():
                    try:
                        prime(url, "123456789", "verify", s)
                    except requests.RequestException:
                        return

        callers = [threading.Thread(target=load, daemon=True) for _ in range(4)]
        for t in callers:
            t.start()
        time.sleep(0.4)
        srv.stop()  # SIGTERM, then waits up to 20 s for the exit
        stop.set()
        for t in callers:
            t.join(10)
        assert srv.proc.returncode == 0


def test_an_exchange_held_by_any_worker_is_there_for_the_next_admin_read(tmp_path):
    """What a request sent and got back is kept in its worker's memory and written when an admin
    read asks for it (or a second later): a read right after the answer, served by either
    worker, shows it."""
    srv = Serve("--state", str(tmp_path / "state.db"), "--workers", "2")
    try:
        for i in range(30):
            with requests.Session() as s:  # a new connection each: both workers answer some
                r = create(srv.url, f"MocksProdHeld{i}", "1", s)
            assert r.status_code == 200, r.text
            rid = r.headers["x-amzn-RequestId"]
            detail = fresh(srv.url, f"/__admin/journal/{rid}").json()
            assert detail["kept"] is True, (i, detail)
            assert detail["response"]["body"] == r.text
    finally:
        srv.stop()


class _Quick:
    """A session whose calls give up after 2 s (the helpers wait up to 30)."""

    def __init__(self, session: requests.Session) -> None:
        self._session = session

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs["timeout"] = 2
        return self._session.request(*args, **kwargs)


def test_the_loop_does_not_wait_for_another_writer_to_commit_its_rows(tmp_path):
    """Another process holds the state's write lock (here: this test): the loop's commits of the
    journal rows are put off, its answers are not; the rows commit once the lock is free."""
    state = tmp_path / "state.db"
    srv = Serve("--state", str(state))
    try:
        with requests.Session() as s:
            quick = _Quick(s)
            assert prime(srv.url, "123456789", "verify", quick).status_code == 200
            fd = os.open(f"{state}.lock", os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                for _ in range(40):  # rows come due (after 10 ms) while the lock is held
                    assert prime(srv.url, "123456789", "verify", quick).status_code == 200
                    time.sleep(0.01)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
        journal = fresh(srv.url, "/__admin/journal", params={"api": "prime"}).json()
        assert journal["count"] == 41
    finally:
        srv.stop()


def test_kept_rows_of_a_tenant_deleted_meanwhile_are_not_written(tmp_path):
    """A process keeps a tenant's rows; another process deletes the tenant before they are
    written (its delete's barrier came before the rows were kept). When the rows' write comes,
    the tenant is gone: they are not written, where they would outlive it."""
    state = tmp_path / "state.db"
    srv = Serve("--state", str(state))
    try:
        tenant = tenants.make(srv.url, name="short-lived")
        key = tenants.keys(tenant, "agcod-production")
        assert tenants.create_card(srv.url, key, "MocksProdGone1", 1).status_code == 200
        assert create(srv.url, "MocksProdStays1", "1").status_code == 200  # the default's
        with sqlite3.connect(state, timeout=10) as db:  # as the other process's delete left it
            db.execute("DELETE FROM kit_state WHERE tenant=?", (tenant["id"],))
        # an admin read: every process writes the rows it kept
        assert fresh(srv.url, "/__admin/journal").ok
    finally:
        srv.stop()
    with sqlite3.connect(state) as db:
        rows = dict(db.execute("SELECT tenant, count(*) FROM journal GROUP BY tenant"))
    assert tenant["id"] not in rows and rows.get("") == 1, rows

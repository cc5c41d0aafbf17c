"""Three replicas on one PostgreSQL database behind HAProxy (deploy/haproxy.cfg): real processes,
real servers. Every guarantee of one server holds through the load balancer, which spreads
requests over the replicas one by one (its log says which replica served each).

One PostgreSQL and one HAProxy per module; each test gets a fresh database and three
`mocksrv serve --state postgresql://...` child processes, started at once. The kill -9 rounds run
twice here; `MOCKSRV_SOAK_ROUNDS=20` runs the long loop (docs/scale.md).
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from tests.support import certification
from tests.support.agcod import Client
from tests.support.agcod_clients import four_libraries_back_to_back
from tests.support.cli import Serve, serve_together
from tests.support.haproxy import HAProxy
from tests.support.postgres import Postgres
from tests.support.promotions import DEVO, NEW, file_name, s3_client, wait_report
from tests.support.state import (
    START_FUNDS,
    agcod_state,
    audit,
    create,
    funds,
    mixed_load,
    new_acked,
    prime,
)
from tests.support.tenants import admin as tenant_admin
from tests.support.tenants import create_card, make
from tests.support.tenants import keys as tenant_keys

ROUNDS = range(int(os.environ.get("MOCKSRV_SOAK_ROUNDS", "2")))
_databases = itertools.count(1)


@pytest.fixture(scope="module")
def pg():
    with Postgres() as server:
        yield server


@pytest.fixture(scope="module")
def lb():
    with HAProxy(3) as proxy:
        yield proxy


class ReplicaSet:
    """Three replicas on a fresh database, HAProxy pointed at them; `url` is HAProxy's."""

    def __init__(self, pg: Postgres, lb: HAProxy) -> None:
        self.lb = lb
        self.state = pg.create(f"replicas{next(_databases)}")
        self.replicas = serve_together(3, "--state", self.state)
        self.logs: list[str] = []
        self._log_from = len(lb.log())
        for n, replica in enumerate(self.replicas, 1):
            lb.point(n, replica.url)
        lb.wait_up()

    @property
    def url(self) -> str:
        return self.lb.url

    def served(self, path: str, count: int, since: int | None = None) -> dict[str, int]:
        """Which replicas served this test's requests to `path`, once HAProxy logged `count`
        of them (from the log position `since`, by default this replica set's start)."""
        start = self._log_from if since is None else since
        deadline = time.monotonic() + 10
        while True:
            served = self.lb.served(path, start)
            if sum(served.values()) >= count or time.monotonic() > deadline:
                return served
            time.sleep(0.05)

    def kill(self, n: int) -> None:
        """kill -9 of replica `n` (0-based): no shutdown at all."""
        self.logs.append(f"--- replica{n + 1} (killed):\n" + self.replicas[n].kill())

    def restart(self, n: int) -> None:
        """Replica `n` started again (on another port, as a container may come back on another
        address) and back in HAProxy once its health checks pass."""
        self.replicas[n] = Serve("--state", self.state)
        self.lb.point(n + 1, self.replicas[n].url)
        self.lb.wait_up()

    def stop(self) -> None:
        for n, replica in enumerate(self.replicas, 1):
            ended = replica.proc.poll()  # a replica that ended by itself: say how
            note = f" (had ended by itself: exit {ended})" if ended is not None else ""
            self.logs.append(f"--- replica{n}{note}:\n" + replica.stop())
        # shown by pytest when the test failed: each replica's log, HAProxy's for this test
        print("\n".join(self.logs))
        print("--- haproxy:\n" + self.lb.log()[self._log_from :][-20000:])


@pytest.fixture
def replicas(pg, lb):
    group = ReplicaSet(pg, lb)
    yield group
    group.stop()


def test_three_replicas_started_at_once_on_a_new_database_share_one_state(replicas, pg):
    """Started together on an empty database, all three come up (the tables and the first
    install are made once, whoever comes first) and serve the same state. Two more new
    databases: the race of three first starts is won differently each time."""
    assert create(replicas.url, "MocksProdStart1", "7").status_code == 200
    for replica in replicas.replicas:
        assert funds(replica.url) == START_FUNDS - 7
        ids = [c["creationRequestId"] for c in agcod_state(replica.url)["cards"]]
        assert ids == ["MocksProdStart1"]
    for n in range(2):
        state = pg.create(f"together{n}")
        again = serve_together(3, "--state", state)  # each started, none refused
        try:
            assert create(again[n].url, f"MocksProdTogether{n}", "3").status_code == 200
            assert [funds(r.url) for r in again] == [START_FUNDS - 3] * 3
        finally:
            for r in again:
                r.stop()


# the AGCOD requests each case makes: consecutive ones go to different replicas (round robin)
CASE_REQUESTS = {"CC": 2, "DLB": 1, "MAX": 2, "IDM": 2}


@pytest.mark.parametrize("case", list(certification.CASES))
def test_certification_case_through_the_load_balancer(replicas, case):
    certification.CASES[case](Client(replicas.lb, "Mocks"))
    served = replicas.served("/", CASE_REQUESTS[case])
    # IDM's two creates (one creationRequestId) were answered by two replicas, byte for byte
    assert sorted(served.values()) == [1] * CASE_REQUESTS[case], served


def test_four_client_libraries_through_the_load_balancer(replicas):
    four_libraries_back_to_back(replicas.url)


def test_a_promo_upload_and_a_landing_claim_through_the_load_balancer(replicas):
    s3 = s3_client(replicas.url)
    key = NEW + file_name()
    s3.put_object(Bucket=DEVO, Key=key, Body=b"REPLICA-CODE-1,new\nREPLICA-CODE-2,new\n")
    report = wait_report(s3, key)
    assert report["rows"] == {"total": 2, "accepted": 2, "rejected": 0}, report
    for replica in replicas.replicas:  # each replica serves the report, and the same one
        assert wait_report(s3_client(replica.url), key) == report
    landing = f"{replicas.url}/promotions/PROMO-0001/landing"
    first = requests.get(landing, params={"member": "replica-member"}, timeout=30)
    assert first.status_code == 200, first.text
    code = first.json()["code"]
    assert first.json()["newlyAssigned"] is True
    for replica in replicas.replicas:  # the member keeps the code on every replica
        again = requests.get(f"{replica.url}/promotions/PROMO-0001/landing",
                             params={"member": "replica-member"}, timeout=30).json()  # fmt: skip
        assert again["code"] == code and again["newlyAssigned"] is False, again
    other = requests.get(landing, params={"member": "another-member"}, timeout=30).json()
    assert other["code"] != code


def test_eight_threads_redeeming_a_single_use_code_across_replicas_get_one_success(replicas):
    frozen = requests.post(replicas.url + "/__admin/clock/freeze", json={}, timeout=30)
    assert frozen.status_code == 200, frozen.text
    for replica in replicas.replicas:  # the day cannot change under the race, on any replica
        assert requests.get(replica.url + "/__admin/clock", timeout=30).json() == frozen.json()
    barrier = threading.Barrier(8)
    answers: list[Any] = [None] * 8

    def redeem(n: int) -> None:
        session = requests.Session()  # a connection of its own: HAProxy spreads them
        barrier.wait(30)
        answers[n] = prime(replicas.url, "444444444", "redeem", session)

    threads = [threading.Thread(target=redeem, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(a is not None and a.status_code == 200 for a in answers), answers
    messages = sorted(a.json()["message"] for a in answers)
    assert messages == ["FAILURE:DENIED:EXCEEDED_USAGE_LIMIT"] * 7 + ["SUCCESS"], messages
    served = replicas.served("/v1/customer/benefit/", 8)
    assert set(served) == set(replicas.lb.names), served  # the race ran on all three


def test_an_admin_reset_through_the_load_balancer_reaches_every_replica_at_once(replicas):
    session = requests.Session()
    for n in range(6):  # cards on every replica
        assert create(replicas.url, f"MocksProdReset{n}", "10", session).status_code == 200
    for replica in replicas.replicas:
        assert funds(replica.url) == START_FUNDS - 60
    reset = requests.post(replicas.url + "/__admin/reset", json={}, timeout=30)
    assert reset.status_code == 200 and reset.json()["reset"] is True, reset.text
    for replica in replicas.replicas:  # right after it returned, asked directly
        snap = agcod_state(replica.url)
        assert snap["cards"] == [], replica.url
        assert funds(replica.url) == START_FUNDS
    again = create(replicas.url, "MocksProdReset0", "10")  # a new card, not the old one's replay
    assert again.status_code == 200 and funds(replicas.url) == START_FUNDS - 10


def test_a_tenant_made_through_the_load_balancer_is_the_same_on_every_replica(replicas):
    """Issue 21 on replicas: a tenant made through HAProxy signs in on each replica asked
    directly, its cards and funds are one ledger apart from the default tenant's, a change made
    through one replica (its clock frozen) is seen on the others, and once deleted its key is
    unknown on every replica."""
    tenant = make(replicas.url, name="on-replicas")
    key = tenant_keys(tenant, "agcod-production")
    for n, replica in enumerate(replicas.replicas):
        made = create_card(replica.url, key, f"MocksProdTenant{n}", 5)
        assert made.status_code == 200, (replica.url, made.text)
    frozen = {"now": "2027-01-02T03:04:05.000Z", "frozen": True}
    moved = tenant_admin(replicas.replicas[0].url, tenant["id"], "PUT", "/clock", json=frozen)
    assert moved.status_code == 200, moved.text
    for replica in replicas.replicas:
        ids = tenant_admin(replica.url, tenant["id"], "GET", "/state/agcod").json()["cards"]
        assert sorted(c["creationRequestId"] for c in ids) == [
            f"MocksProdTenant{n}" for n in range(3)
        ], replica.url
        clock = tenant_admin(replica.url, tenant["id"], "GET", "/clock").json()
        assert clock["now"] == frozen["now"] and clock["frozen"] is True, replica.url
        assert agcod_state(replica.url)["cards"] == []  # the default tenant's: untouched
        assert funds(replica.url) == START_FUNDS
    gone = requests.delete(f"{replicas.url}/__admin/tenants/{tenant['id']}", timeout=30)
    assert gone.status_code in (200, 204), gone.text
    for n, replica in enumerate(replicas.replicas):
        late = create_card(replica.url, key, f"MocksProdLate{n}", 5)
        assert (late.status_code, late.json()["__type"]) == (403, "UnrecognizedClientException")


def test_uploads_acknowledged_while_the_replicas_switch_scenarios_are_each_processed(replicas):
    """A keep-state scenario switch makes every replica build its runtime again; uploads in
    flight meanwhile (16 threads through HAProxy, a switch every 50 ms) are each acknowledged
    with their object kept and processed once. (A replica's new runtime used to reload its S3
    copy from scratch, dropping objects other threads had written but not yet committed, whose
    commit then stored them as deleted: 38 of 546 acknowledged uploads came back `object_gone`.)"""
    acked: dict[str, bytes] = {}
    refused: list[Any] = []
    stop = threading.Event()

    def upload(n: int) -> None:
        s3, i = s3_client(replicas.url), 0
        while not stop.is_set():
            i += 1
            key, body = NEW + file_name(), f"SW{n:02d}X{i:05d},new\n".encode()
            try:
                s3.put_object(Bucket=DEVO, Key=key, Body=body)
            except ClientError as err:  # not acknowledged: noted, the test says how many
                refused.append(err.response["Error"])
                continue
            acked[key] = body

    def switch() -> None:
        while not stop.is_set():
            body = {"default": True, "keepState": True}
            done = requests.post(replicas.url + "/__admin/scenarios", json=body, timeout=30)
            if done.status_code != 200:
                refused.append(done.text)
            stop.wait(0.05)

    threads = [threading.Thread(target=upload, args=(n,)) for n in range(16)]
    threads.append(threading.Thread(target=switch))
    for t in threads:
        t.start()
    stop.wait(8)
    stop.set()
    for t in threads:
        t.join(60)
    assert len(acked) >= 16 and not refused, (len(acked), refused[:5])
    s3 = s3_client(replicas.url)
    lost = {}
    for key in acked:
        report = wait_report(s3, key)
        if report["rows"] != {"total": 1, "accepted": 1, "rejected": 0}:
            lost[key] = report.get("fileErrors") or report["rows"]
    assert not lost, f"{len(lost)} of {len(acked)} acknowledged uploads: {list(lost.items())[:3]}"


@pytest.mark.parametrize("round_", ROUNDS)
def test_kill_9_of_a_replica_under_mixed_load_then_restart_then_audit(replicas, round_):
    victim = round_ % 3
    acked = new_acked()
    stop = threading.Event()
    threads = [
        threading.Thread(target=mixed_load, args=(replicas.url, n, stop, acked), daemon=True)
        for n in range(16)
    ]
    for t in threads:
        t.start()
    time.sleep(2.5)
    replicas.kill(victim)  # in the middle of it all
    time.sleep(0.5)
    replicas.restart(victim)
    restarted = len(replicas.lb.log())
    time.sleep(1.5)  # the restarted replica takes its share of the load
    stop.set()
    for t in threads:
        t.join(60)
    assert len(acked["cards"]) >= 16 and len(acked["uploads"]) >= 1, acked
    audit(replicas.url, acked)
    expected = funds(replicas.url)
    for replica in replicas.replicas:  # one ledger, whichever replica is asked
        assert funds(replica.url) == expected
    after = replicas.served("/", 1, since=restarted)
    assert after.get(f"replica{victim + 1}", 0) > 0, after  # it served again after the restart


def test_bookkeeping_commits_on_postgresql_do_not_wait_for_the_disk(pg):
    """A rate-limit take and a journal row change nothing a client is told about: their
    transactions commit without waiting for the log's fsync (a bucket's row lock is then held
    for the statements only). A state change, or a step joined to one, still waits."""
    from mocksrv.state.open import open_engine

    engine = open_engine(pg.create(f"bookkeeping{next(_databases)}"))
    try:
        with engine.write() as tx:
            tx.bookkeeping()
            assert tx.one("SHOW synchronous_commit") == ("off",)
        with engine.write() as tx:
            assert tx.one("SHOW synchronous_commit") == ("on",)  # it ended with its transaction
            tx.bookkeeping()  # a statement ran already: left as it is
            assert tx.one("SHOW synchronous_commit") == ("on",)
    finally:
        engine.close()


def test_metrics_of_two_workers_on_postgresql_count_both(pg):
    """`--workers 2` on PostgreSQL: each worker writes its counts within a second; a scrape
    answered by either one counts both workers' requests."""
    from tests.state.test_workers_metrics import counted
    from tests.support.state import fresh

    srv = Serve("--state", pg.create(f"metrics{next(_databases)}"), "--workers", "2")
    try:
        for _ in range(30):
            assert prime(srv.url, "123456789", "verify", requests).status_code == 200
        deadline = time.monotonic() + 10
        while counted(srv.url)[:2] != (30, 30):
            assert time.monotonic() < deadline, fresh(srv.url, "/__admin/metrics").text
            time.sleep(0.2)
        for _ in range(8):  # whichever worker answers
            assert counted(srv.url)[:2] == (30, 30)
    finally:
        srv.stop()


def _statements(pg: Postgres, since: int) -> list[str]:
    """The statements PostgreSQL logged after line `since` of its log (each one round trip)."""
    lines = (pg.root / "log").read_text().splitlines()[since:]
    return [line for line in lines if " LOG:  statement: " in line or " LOG:  execute " in line]


def test_a_request_costs_few_round_trips_to_postgresql(pg):
    """Each statement a replica sends is a round trip to PostgreSQL. A create: one read of the
    control row, its transaction (BEGIN, the card, the funds read and write, COMMIT) and its
    journal row; a verify: the control row, its transaction (BEGIN, the code's lock, its calls,
    COMMIT) and its journal row. Reads and journal rows run in autocommit: before, a read took a
    BEGIN and a COMMIT more, a journal row a transaction of four statements, and a call answered
    by a worker thread read the control row twice (13.3 statements a create, 11 a verify)."""
    url = pg.create("trips")
    pg.sql("ALTER DATABASE trips SET log_statement = 'all'")  # its new connections log
    srv = Serve("--state", url)
    try:
        session = requests.Session()
        for n in range(10):  # every connection of the pool made, every statement prepared
            assert create(srv.url, f"MocksProdWarm{n}", "1", session).status_code == 200
            assert prime(srv.url, "123456789", "verify", session).status_code == 200
        for op in ("create", "verify"):
            since = len((pg.root / "log").read_text().splitlines())
            for n in range(20):
                if op == "create":
                    answer = create(srv.url, f"MocksProdTrip{n}", "1", session)
                else:
                    answer = prime(srv.url, "123456789", "verify", session)
                assert answer.status_code == 200, answer.text
            sent = _statements(pg, since)
            # a statement or two of the server's own timers (the upload queue, the metrics)
            assert len(sent) <= {"create": 7, "verify": 6}[op] * 20 + 10, (op, len(sent), sent)
    finally:
        srv.stop()

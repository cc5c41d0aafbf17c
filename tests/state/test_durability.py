"""What was acknowledged is there exactly once: after a full disk (D15), with uploads in flight
while others fail for room, after kill -9 under mixed load (one process, and `--workers 2`),
after kill -9 right after uploads (D18); and a use is one row, not a rewritten list (D22).

Each round runs twice here; `MOCKSRV_SOAK_ROUNDS=20` runs the long loop (docs/scale.md).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from botocore.exceptions import ClientError

from tests.support.cli import Serve
from tests.support.promotions import DEVO, NEW, file_name, s3_client, wait_report
from tests.support.smallfs import SmallFS
from tests.support.state import (
    START_FUNDS,
    agcod_state,
    audit,
    create,
    funds,
    in_one_turn,
    lock_held,
    mixed_load,
    new_acked,
    prime,
)

ROUNDS = range(int(os.environ.get("MOCKSRV_SOAK_ROUNDS", "2")))


@pytest.fixture
def smallfs():
    fs = SmallFS("64m")  # room for the run; the filler takes the rest
    yield fs
    fs.close()


def test_a_full_disk_fails_a_create_and_keeps_nothing_of_it(smallfs):
    state = smallfs.dir / "state.db"
    srv = Serve("--state", str(state), prefix=smallfs.enter)
    try:
        assert create(srv.url, "MocksProdFull1", "10").status_code == 200
        smallfs.fill()
        # a WAL that a checkpoint has emptied takes commits into the blocks it already has:
        # creates go on succeeding until one needs a new block
        acked = ["MocksProdFull1"]
        for n in range(2, 500):
            failed = create(srv.url, f"MocksProdFull{n}", "20")
            if failed.status_code != 200:
                break
            acked.append(f"MocksProdFull{n}")
        # AGCOD's own internal error (F100 GeneralError; HTTP 400 as every F-code by default)
        assert failed.json()["errorCode"] == "F100", failed.text
        assert failed.json()["errorType"] == "GeneralError"
        spent = 10 + 20 * (len(acked) - 1)
        assert funds(srv.url) == START_FUNDS - spent  # the failed create debited nothing
        ids = [c["creationRequestId"] for c in agcod_state(srv.url)["cards"]]
        assert sorted(ids) == sorted(acked)
        with pytest.raises(ClientError) as put:  # S3's own XML error, not a JSON 500
            s3_client(srv.url).put_object(Bucket=DEVO, Key=NEW + file_name(), Body=b"F1,new\n")
        assert put.value.response["Error"]["Code"] == "InternalError"
        assert put.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        smallfs.free()
        # the failed create was never acknowledged: the same id now issues one card, kept
        again = create(srv.url, f"MocksProdFull{n}", "20")
        assert again.status_code == 200, again.text
        claim = again.json()["gcClaimCode"]
    finally:
        srv.kill()
    assert ".tmp" not in smallfs.listing()
    srv = Serve("--state", str(state), prefix=smallfs.enter)
    try:
        assert create(srv.url, f"MocksProdFull{n}", "20").json()["gcClaimCode"] == claim
        assert funds(srv.url) == START_FUNDS - spent - 20
    finally:
        srv.stop()


def test_a_full_disk_fails_every_write_of_a_turn_and_keeps_nothing_of_them(smallfs):
    """The creates answered on the loop in one turn share its transaction: when its commit
    fails, each is answered with AGCOD's server error, none is kept, and each issues its one
    card once there is room again."""
    state = smallfs.dir / "state.db"
    srv = Serve("--state", str(state), prefix=smallfs.enter)
    try:
        assert create(srv.url, "MocksProdTurn0", "10").status_code == 200
        smallfs.fill()
        acked, n = ["MocksProdTurn0"], 1
        while create(srv.url, f"MocksProdTurn{n}", "20").status_code == 200:  # the WAL's room
            acked.append(f"MocksProdTurn{n}")
            n += 1
            assert n < 500
        left = funds(srv.url)
        rids = [f"MocksProdTurn{n + k}" for k in range(9)]
        calls = [lambda rid=rid: create(srv.url, rid, "20") for rid in rids[1:]]
        first, answers = in_one_turn(
            lambda: create(srv.url, rids[0], "20"), calls, lock_held(state, smallfs.enter)
        )
        for failed in (first, *answers):
            assert failed.json()["errorType"] == "GeneralError", failed.text
        assert funds(srv.url) == left
        assert sorted(c["creationRequestId"] for c in agcod_state(srv.url)["cards"]) == sorted(
            acked
        )
        smallfs.free()
        claims = {rid: create(srv.url, rid, "20").json()["gcClaimCode"] for rid in rids}
        assert len(set(claims.values())) == 9
        assert funds(srv.url) == left - 9 * 20
        assert {rid: create(srv.url, rid, "20").json()["gcClaimCode"] for rid in rids} == claims
    finally:
        srv.stop()


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out += [int(c) for c in text]
    return out


def _crash(srv: Serve) -> str:
    """kill -9 of the server and of every worker it forked (no shutdown at all); its log."""
    for pid in _children(srv.proc.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)
    return srv.kill()


def _audited(srv: Serve, acked: dict, before: str) -> None:
    """The audit; on a failure, both servers' logs say what happened."""
    try:
        audit(srv.url, acked)
    except BaseException as exc:
        log = srv.stop()
        raise AssertionError(f"{exc!r}\n--- before the kill:\n{before[-3000:]}\n"
                             f"--- after:\n{log[-3000:]}") from exc  # fmt: skip
    srv.stop()


def _load_then_crash(srv: Serve, seconds: float = 2.5, least: int = 16, uploads: int = 1) -> dict:
    acked = new_acked()
    stop = threading.Event()
    threads = [
        threading.Thread(target=mixed_load, args=(srv.url, n, stop, acked), daemon=True)
        for n in range(16)
    ]
    for t in threads:
        t.start()
    time.sleep(seconds)
    # the kill lands in mixed traffic: some cards and uploads acknowledged already (a loaded
    # machine may take longer to its first S3 answer: moto is imported on the first S3 call)
    deadline = time.monotonic() + 60
    while (len(acked["cards"]) < least or len(acked["uploads"]) < uploads) and (
        time.monotonic() < deadline and any(t.is_alive() for t in threads)
    ):
        time.sleep(0.1)
    log = _crash(srv)  # in the middle of it all
    stop.set()
    for t in threads:
        t.join(60)
    assert len(acked["cards"]) >= least and len(acked["uploads"]) >= uploads, acked
    return acked, log


@pytest.mark.parametrize("round_", ROUNDS)
@pytest.mark.parametrize("workers", ["1", "2"])
def test_kill_9_under_mixed_load_then_audit(tmp_path, workers, round_):
    state = tmp_path / "state.db"
    acked, log = _load_then_crash(Serve("--state", str(state), "--workers", workers))
    _audited(Serve("--state", str(state), "--workers", workers), acked, log)


@pytest.mark.parametrize("round_", ROUNDS)
def test_a_disk_that_fills_up_mid_run_then_audit(smallfs, round_):
    state = smallfs.dir / "state.db"
    srv = Serve("--state", str(state), prefix=smallfs.enter)
    filler = threading.Timer(1.5, smallfs.fill)
    filler.start()
    acked, log = _load_then_crash(srv, seconds=3.0, least=1, uploads=0)
    filler.join()
    smallfs.free()
    _audited(Serve("--state", str(state), prefix=smallfs.enter), acked, log)


@pytest.mark.parametrize("round_", ROUNDS)
def test_uploads_acknowledged_right_before_a_kill_are_processed_once(tmp_path, round_):
    """D18: the uploads waiting at a kill -9 get their report after the restart, once each (the
    report files of uploads processed while a restart was binding the state were deleted)."""
    state = tmp_path / "state.db"
    for attempt in range(4):
        srv = Serve("--state", str(state))
        keys = [NEW + file_name() for _ in range(12)]

        def put(n: int, key: str, url: str = srv.url, attempt: int = attempt) -> None:
            body = "".join(f"D18-{round_}-{attempt}-{n}-{i},new\n" for i in range(2000))
            s3_client(url).put_object(Bucket=DEVO, Key=key, Body=body.encode())

        threads = [threading.Thread(target=put, args=(n, k)) for n, k in enumerate(keys)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        before = srv.kill()  # most of them not processed yet
        srv = Serve("--state", str(state))
        try:
            s3 = s3_client(srv.url)
            for key in keys:
                assert wait_report(s3, key)["rows"]["accepted"] == 2000, key
            reports = requests.get(srv.url + "/__admin/state/promotions", timeout=10).json()
            files = [r["file"] for r in reports["reports"]]
            for key in keys:
                assert files.count(key.rsplit("/", 1)[1]) == 1, (key, files)
        except BaseException as exc:  # both servers' logs say what happened
            raise AssertionError(f"{exc!r}\n--- before the kill:\n{before[-3000:]}\n"
                                 f"--- after:\n{srv.kill()[-3000:]}") from exc  # fmt: skip
        srv.kill()


def test_a_redeem_writes_one_use_not_the_whole_list(tmp_path):
    """D22: with 5,000 earlier uses of a code, one more redeem adds a row; it used to rewrite
    the code's whole list of uses (the log grew by every use's instant each time)."""
    uses = "\n".join(f'            - "2026-01-01T00:00:{n % 60:02d}.{n:06d}Z"' for n in range(5000))
    scenario = tmp_path / "uses.yaml"
    scenario.write_text(
        "version: 1\nextends: default\nprime:\n  benefits:\n    - id: USES_BENEFIT\n"
        '      marketplace: US\n      offer_codes:\n        - code: "777777777"\n'
        "          usage_limit: {uses: 100000, period: lifetime}\n          redemptions:\n"
        + uses
        + "\n"
    )
    state = tmp_path / "state.db"
    srv = Serve("--state", str(state), "--scenario", str(scenario))
    try:
        assert prime(srv.url, "777777777", "redeem", benefit="USES_BENEFIT").json() == {
            "message": "SUCCESS"
        }
        wal = state.with_name("state.db-wal")
        with sqlite3.connect(state) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        before = wal.stat().st_size
        assert prime(srv.url, "777777777", "redeem", benefit="USES_BENEFIT").json() == {
            "message": "SUCCESS"
        }
        grown = wal.stat().st_size - before
        assert grown < 64 * 1024, grown  # a few pages; the list alone is about 190 KB
        snap = requests.get(srv.url + "/__admin/state/prime", timeout=10).json()
        code = next(c for c in snap["offerCodes"] if c["code"] == "777777777")
        assert len(code["redemptions"]) == 5002
    finally:
        srv.stop()


def test_funds_stay_exact_across_a_restart_of_two_workers(tmp_path):
    state = tmp_path / "state.db"
    srv = Serve("--state", str(state), "--workers", "2")
    try:
        results = []

        def issue(n: int) -> None:
            results.append(create(srv.url, f"MocksProdW{n}", "1.5"))

        threads = [threading.Thread(target=issue, args=(n,)) for n in range(24)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert all(r.status_code == 200 for r in results)
        assert funds(srv.url) == START_FUNDS - Decimal("36")
    finally:
        srv.stop()


def test_uploads_in_flight_while_others_fail_for_room_keep_their_bytes(smallfs):
    """Uploads go on while the disk is full: a large one's commit fails (which makes the
    process reload its S3 copy from the state) while small ones still fit. Each acknowledged
    upload's bytes are there and processed whole. Before, a reload that fell between an
    upload's write into the copy and its commit dropped the object; the commit stored it as
    deleted, the upload was acknowledged, then processed as `object_gone` with no rows."""
    srv = Serve("--state", str(smallfs.dir / "state.db"), prefix=smallfs.enter)
    acked: dict[str, bytes] = {}
    refused, full = [0], threading.Event()
    while_full: list[str] = []
    stop = threading.Event()

    def put(n: int) -> None:
        s3 = s3_client(srv.url)
        large = n % 3 == 0  # sent only while the disk is full: each fails for room
        if large:
            full.wait(60)
        for i in range(100_000):
            if stop.is_set():
                return
            lines = 100_000 if large else 1 + i % 5
            body = "".join(f"U{n:02d}X{i:05d}R{r:05d},new\n" for r in range(lines)).encode()
            key = NEW + file_name()
            try:
                s3.put_object(Bucket=DEVO, Key=key, Body=body)
            except ClientError:
                refused[0] += 1
                continue
            acked[key] = body
            if full.is_set():
                while_full.append(key)

    def look() -> None:  # requests that bring the copy up to date (and reload it)
        s3 = s3_client(srv.url)
        while not stop.is_set():
            with contextlib.suppress(ClientError):
                s3.list_objects_v2(Bucket=DEVO, Prefix=NEW, MaxKeys=1)

    threads = [threading.Thread(target=put, args=(n,)) for n in range(9)]
    threads += [threading.Thread(target=look) for _ in range(3)]
    try:
        for t in threads:
            t.start()
        time.sleep(0.5)
        smallfs.run(f"dd if=/dev/zero of={smallfs.dir}/spare bs=64k count=24 2>/dev/null")
        smallfs.fill()
        smallfs.run(f"rm {smallfs.dir}/spare")  # room for small commits, not for large ones
        full.set()
        time.sleep(4.0)
        stop.set()
        for t in threads:
            t.join(60)
        full.clear()
        smallfs.free()
        assert refused[0] > 0 and while_full, (refused, len(acked), len(while_full))
        s3 = s3_client(srv.url)
        for key, body in acked.items():
            report = wait_report(s3, key)
            assert report["rows"]["accepted"] == body.count(b"\n"), (key, report)
    except BaseException as exc:
        raise AssertionError(f"{exc!r}\n--- log:\n{srv.stop()[-3000:]}") from exc
    srv.stop()

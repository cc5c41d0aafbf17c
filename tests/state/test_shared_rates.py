"""Rate limits of a SQLite state live in a table of token buckets in shared memory (the lock
file's pages after the first), taken under a lock: a limit holds across the processes of the
machine as exactly as in one process, and a reset empties the tenant's buckets for all."""

from __future__ import annotations

import os
from typing import Any

import pytest

from mocksrv.state import rates
from tests.support.cli import Serve
from tests.support.state import create, fresh, together

FROZEN = {"now": "2026-05-15T14:00:00Z", "frozen": True}


def _throttled(url: str, tag: str, n: int = 20) -> tuple[int, int]:
    answers = together(n, lambda i: create(url, f"MocksProd{tag}{i}", "1"))
    ok = sum(1 for r in answers if r.status_code == 200)
    refused = sum(1 for r in answers if r.json().get("__type") == "ThrottlingException")
    return ok, refused


def test_a_rate_limit_holds_across_workers_and_a_reset_refills_it(tmp_path):
    """`agcod-sandbox-realistic`: 10 requests a second, a burst of 10. With the clock frozen no
    token comes back, so of 20 creates at once over both workers exactly 10 pass."""
    srv = Serve("--state", str(tmp_path / "state.db"), "--workers", "2",
                "--scenario", "agcod-sandbox-realistic")  # fmt: skip
    try:
        assert fresh(srv.url, "/__admin/clock", method="PUT", json=FROZEN).ok
        assert _throttled(srv.url, "A") == (10, 10)
        assert _throttled(srv.url, "B", 4) == (0, 4)  # still nothing back
        later = {"now": "2026-05-15T14:00:00.500Z", "frozen": True}  # half a second: 5 tokens
        assert fresh(srv.url, "/__admin/clock", method="PUT", json=later).ok
        assert _throttled(srv.url, "C") == (5, 15)
        assert fresh(
            srv.url, "/__admin/reset", method="POST", json={}
        ).ok  # full again, for every worker
        assert fresh(srv.url, "/__admin/clock", method="PUT", json=FROZEN).ok
        assert _throttled(srv.url, "D") == (10, 10)
    finally:
        srv.stop()


@pytest.fixture
def table(tmp_path, monkeypatch):
    monkeypatch.setattr(rates, "SLOTS", 4)
    fd = os.open(tmp_path / "state.db.lock", os.O_RDWR | os.O_CREAT, 0o600)
    found = rates.RateTable(fd)
    yield found
    found.close()
    os.close(fd)


def test_a_full_table_says_so_and_a_reset_makes_room(table):
    for name in ("a", "b", "c", "d"):
        assert table.take("t1" if name < "c" else "t2", name, 1.0, 1.0, 0.0) is True
    assert table.take("t3", "e", 1.0, 1.0, 0.0) is None  # no room: the caller uses a row
    assert table.take("t1", "a", 1.0, 1.0, 0.0) is False  # the buckets there still count
    table.clear("t1")
    assert table.take("t3", "e", 1.0, 1.0, 0.0) is True
    assert table.take("t1", "a", 1.0, 1.0, 0.0) is True  # full again after its tenant's reset
    assert table.take("t2", "c", 1.0, 1.0, 0.0) is False  # another tenant's kept, still empty
    assert table.take("t2", "c", 1.0, 1.0, 1.0) is True  # a second later: refilled


def test_lingering_items_are_never_dropped_for_room_nor_by_a_failed_commit(tmp_path):
    """A process's metrics linger while exchanges pour in: when the held bytes pass their bound
    the oldest exchanges go, never the metrics, which the next commit writes. A commit that
    fails drops the held exchanges (logged) but hands the lingering item back for later."""
    from mocksrv.state import later
    from mocksrv.state.errors import StoreError
    from mocksrv.state.open import open_engine

    engine = open_engine(str(tmp_path / "state.db"))
    written: dict[str, list[Any]] = {"metrics": [], "exchanges": []}
    try:
        queue = engine.later
        assert queue is not None
        metrics = lambda tx, items: written["metrics"].extend(items)  # noqa: E731
        queue.linger(metrics, "metrics", "counts", 60)
        size = later.HELD_BYTES // 4
        for n in range(12):  # three times the bound
            queue.hold(lambda tx, items: written["exchanges"].extend(items), n, "x", size)
        queue.flush(full=True)
        assert written["metrics"] == [("metrics", "counts")]
        assert [k for k, _ in written["exchanges"]] == [8, 9, 10, 11]
        queue.linger(metrics, "metrics", "counts, later", 60)
        queue.hold(lambda tx, items: written["exchanges"].extend(items), 12, "x", 1)
        real = engine.write

        def failing(wait: bool = True) -> Any:
            raise StoreError("disk full")

        engine.write = failing  # type: ignore[method-assign]
        queue.flush(full=True)
        engine.write = real  # type: ignore[method-assign]
        assert len(written["metrics"]) == 1 and len(written["exchanges"]) == 4
        queue.flush(full=True)  # a barrier: lingering items go whatever their deadline
    finally:
        engine.close()
    assert written["metrics"][1:] == [("metrics", "counts, later")]
    assert len(written["exchanges"]) == 4  # the held one went with the failed commit

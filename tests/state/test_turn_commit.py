"""Group commit per turn of the event loop on SQLite: the AGCOD and Prime writes answered on the
loop in one turn share a transaction, yet every rule of a transaction per change holds (real
`mocksrv serve` processes, calls signed by botocore, the state's write lock held by another
process as a mocksrv process holds it for a commit).

While that process holds the lock, the server's first create waits at its turn's end; the calls
sent meanwhile are all read in one later turn, so their writes meet in one transaction.
"""

from __future__ import annotations

from decimal import Decimal

import requests

from tests.support.cli import Serve
from tests.support.state import (
    START_FUNDS,
    agcod_state,
    create,
    funds,
    in_one_turn,
    lock_held,
    prime,
)


def _commits(url: str) -> int:
    text = requests.get(url + "/__admin/metrics", timeout=10).text
    name = "mocksrv_state_commit_duration_seconds_count"
    return int(float(next(x for x in text.splitlines() if x.startswith(name)).split()[-1]))


def test_the_writes_of_one_turn_share_a_transaction_and_keep_every_rule(tmp_path):
    """21 writes in one turn: a raced creationRequestId gets one card and one debit, funds that
    run out refuse exactly the creates beyond them (each refused one leaving nothing), a
    single-use Prime code is used once; and they took 2 transactions, not 21."""
    state = tmp_path / "state.db"
    srv = Serve("--state", str(state))
    try:
        assert create(srv.url, "MocksProdWarm", "5").status_code == 200
        before = _commits(srv.url)
        calls = [lambda: create(srv.url, "MocksProdRace", "25") for _ in range(4)]
        calls += [lambda n=n: create(srv.url, f"MocksProdBig{n}", "1000") for n in range(12)]
        calls += [lambda: prime(srv.url, "444444444", "redeem") for _ in range(5)]
        first, answers = in_one_turn(
            lambda: create(srv.url, "MocksProdFirst", "5"), calls, lock_held(state)
        )
        assert first.status_code == 200, first.text
        raced, big, used = answers[:4], answers[4:16], answers[16:]
        assert {r.status_code for r in raced} == {200}
        assert len({r.json()["gcClaimCode"] for r in raced}) == 1
        # 10,000 - 5 - 5 - 25 = 9,965 left for 12 creates of 1,000: 9 succeed, 3 are refused
        ok = sorted(f"MocksProdBig{n}" for n, r in enumerate(big) if r.status_code == 200)
        refused = [r.json()["errorType"] for r in big if r.status_code != 200]
        assert len(ok) == 9 and refused == ["InsufficientFunds"] * 3, refused
        assert funds(srv.url) == START_FUNDS - Decimal("35") - 9 * 1000
        cards = sorted(c["creationRequestId"] for c in agcod_state(srv.url)["cards"])
        assert cards == sorted(["MocksProdWarm", "MocksProdFirst", "MocksProdRace", *ok])
        wins = [r for r in used if r.json() == {"message": "SUCCESS"}]
        assert len(wins) == 1, [r.text for r in used]
        # the first create's transaction, the turn's, and the bookkeeping the metrics read
        # commits (journal rows): a transaction per request would be 22 and more
        assert _commits(srv.url) - before <= 6
    finally:
        srv.stop()

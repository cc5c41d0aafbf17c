"""Shared state (issue 20): CreateGiftCard in memory, on SQLite and on PostgreSQL, one process
each, pinned as the `http` section; start-up on a SQLite state of a million cards.

PostgreSQL is a private server made for the run (tests/support/postgres.py: Debian's binaries, a
new cluster in a temporary folder on a free port of 127.0.0.1, `fsync=off` as for the tests),
pinned beside mocksrv on the server core: the server side of the row is mocksrv and its
database together. Without Debian's PostgreSQL binaries the row says why it was not measured.
"""

from __future__ import annotations

import statistics
import sys
import time
from contextlib import ExitStack
from decimal import Decimal
from pathlib import Path
from typing import Any

import http_bench
from load import run_load
from peers import SCENARIO, mocksrv_probe
from procs import ROOT, SERVER_CPU, Server, free_port, mocksrv_cmd

STATE_CARDS = 1_000_000
SETTLE = 0.5  # seconds after the first answer before the RSS is read


def state_rows(opts: http_bench.Opts, cards: int = STATE_CARDS) -> dict[str, Any]:
    """Same run: CreateGiftCard req/s in memory, with `--state FILE` and with `--state URL`;
    start-up on a state of `cards` cards (time to the first answer and RSS then)."""
    out: dict[str, Any] = {}
    with ExitStack() as stack:
        states: dict[str, str | None] = {"memory": None, "sqlite": str(opts.tmp / "create.db")}
        try:
            states["postgresql"] = stack.enter_context(_postgres())
        except Exception as exc:  # no PostgreSQL binaries here: say so in the table
            out["create_postgresql"] = {"skipped": f"{type(exc).__name__}: {exc}"}
        for label, state in states.items():
            port = free_port()
            server, _ = _launch(port, state)
            try:
                files = http_bench._sign_files(port, opts, tag=label[0].upper())
                run_load(port, files["create_warm"], opts.warmup)
                create = run_load(port, files["create"], opts.seconds)
                server.check_alive("the CreateGiftCard run")
                out[f"create_{label}"] = create.as_dict()
            finally:
                server.stop()
    out.update(big_state_startup(opts, cards))
    return out


def big_state_startup(opts: http_bench.Opts, cards: int) -> dict[str, Any]:
    """Fill a SQLite state with `cards` cards, then start `serve --state FILE` on it
    `startup_runs` times: median time to the first answered request, and the RSS then."""
    big = opts.tmp / "big.db"
    t0 = time.perf_counter()
    _fill(big, cards)
    out: dict[str, Any] = {
        "state_cards": cards,
        "state_fill_s": round(time.perf_counter() - t0, 1),
        "state_file_mib": round(big.stat().st_size / 2**20, 1),
    }
    times, rss = [], []
    for _ in range(max(1, opts.startup_runs)):
        server, seconds = _launch(free_port(), str(big))
        try:
            times.append(seconds * 1000)
            time.sleep(SETTLE)
            rss.append(server.rss_mib())
        finally:
            server.stop()
    out["startup_big_state_ms"] = round(statistics.median(times), 1)
    out["startup_big_state_ms_runs"] = [round(t, 1) for t in times]
    out["startup_big_state_rss_mib"] = round(statistics.median(rss), 1)
    out["startup_big_state_rss_mib_runs"] = [round(r, 1) for r in rss]
    return out


def _postgres() -> Any:
    """A private PostgreSQL server pinned to the server core; yields a new database's URL."""
    import contextlib

    sys.path.insert(0, str(ROOT))
    from tests.support.postgres import Postgres

    @contextlib.contextmanager
    def running() -> Any:
        pg = Postgres()
        pg._as = [*pg._as, "taskset", "-c", SERVER_CPU]  # its processes beside mocksrv
        with pg:
            yield pg.create("bench")

    return running()


def _launch(port: int, state: str | None) -> tuple[Server, float]:
    probe = mocksrv_probe(port)
    cmd = mocksrv_cmd(port, SCENARIO) + (["--state", state] if state else [])
    server = Server("mocksrv-state" if state else "mocksrv", cmd, port)
    try:
        return server, server.wait_ready(probe)
    except BaseException:
        server.stop()
        raise


def _fill(path: Path, cards: int) -> None:
    """`cards` production cards in a SQLite state on the bench scenario, as `serve --state`
    keeps them: the scenario installed by mocksrv, then the cards made by the store's own
    `new_card` and written with the store's own INSERT, a hundred thousand per transaction
    (one create per transaction would take minutes); the funds row debited by their total."""
    sys.path.insert(0, str(ROOT))
    from mocksrv.app import create_app
    from mocksrv.registry import load_files
    from mocksrv.services.agcod import rules, sqlstore
    from mocksrv.services.agcod.models import new_card
    from mocksrv.settings import Settings
    from mocksrv.state.open import open_engine

    engine = open_engine(str(path))
    try:
        app = create_app(Settings(port=0), load_files([str(SCENARIO)]), state=engine, start=False)
        store = app.runtime.stores["agcod"]
        partner = next(p for p in store.config.partners.values() if p.production)
        now = app.runtime.clock.now()
        money = rules.Money(Decimal("1"), partner.currency)
        step = 100_000
        for start in range(0, cards, step):
            rows = []
            for i in range(start, min(cards, start + step)):
                card = new_card(partner, f"{partner.partner_id}S{i:07d}", money, now)
                rows.append((
                    "", card.account, card.creation_request_id, card.gc_id, card.claim_code,
                    str(card.amount), card.currency, card.expiration, card.created.isoformat(),
                    card.status, 0, None,
                ))  # fmt: skip
            with engine.write() as tx:
                tx.many(sqlstore._INSERT_CARD, rows)
        with engine.write() as tx:
            row = tx.one("SELECT count(*) FROM agcod_cards WHERE tenant=''")
            written = int(row[0]) if row else 0
            tx.run(
                "UPDATE agcod_funds SET balance=? WHERE tenant='' AND account=?",
                (str(partner.funds - written * money.amount), partner.access_key),
            )
        app.runtime.close()
        if written != cards:  # a gcId drawn twice is skipped by the store's INSERT
            raise RuntimeError(f"{written} of {cards} cards written")
    finally:
        engine.close()

"""Durable state (`serve --state`): CreateGiftCard with and without it, start-up on 100,000 cards."""

from __future__ import annotations

import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import http_bench
from load import run_load
from peers import SCENARIO, mocksrv_probe
from procs import ROOT, Server, free_port, mocksrv_cmd

STATE_CARDS = 100_000


def state_rows(opts: http_bench.Opts, cards: int = STATE_CARDS) -> dict[str, Any]:
    """Same run: CreateGiftCard req/s in memory and with `--state`; start-up on a big state."""
    out: dict[str, Any] = {}
    for label, state in (("memory", None), ("state", opts.tmp / "create.db")):
        port = free_port()
        server, _ = _launch(port, state)
        try:
            files = http_bench._sign_files(port, opts)
            run_load(port, files["create_warm"], opts.warmup)
            create = run_load(port, files["create"], opts.seconds)
            server.check_alive("the CreateGiftCard run")
            out[f"create_{label}"] = create.as_dict()
        finally:
            server.stop()
    big = opts.tmp / "big.db"
    t0 = time.perf_counter()
    _fill(big, cards)
    out["state_cards"] = cards
    out["state_fill_s"] = round(time.perf_counter() - t0, 1)
    times = []
    for _ in range(max(1, opts.startup_runs)):
        server, seconds = _launch(free_port(), big)
        try:
            times.append(seconds * 1000)
        finally:
            server.stop()
    out["startup_big_state_ms"] = round(statistics.median(times), 1)
    out["startup_big_state_ms_runs"] = [round(t, 1) for t in times]
    return out


def _launch(port: int, state: Path | None) -> tuple[Server, float]:
    probe = mocksrv_probe(port)
    cmd = mocksrv_cmd(port, SCENARIO) + (["--state", str(state)] if state else [])
    server = Server("mocksrv-state" if state else "mocksrv", cmd, port)
    try:
        return server, server.wait_ready(probe)
    except BaseException:
        server.stop()
        raise


def _fill(path: Path, cards: int) -> None:
    """`cards` production cards written through mocksrv's own store into a state database on
    the bench scenario (as `serve --state` would keep them), then closed."""
    sys.path.insert(0, str(ROOT))
    from mocksrv.app import create_app
    from mocksrv.registry import load_files
    from mocksrv.services.agcod import rules
    from mocksrv.settings import Settings
    from mocksrv.state.db import open_db

    db = open_db(path)
    try:
        app = create_app(Settings(port=0), load_files([str(SCENARIO)]), state=db)
        backend = app.runtime.stores["agcod"]
        partner = next(p for p in backend.config.partners.values() if p.production)
        now = app.runtime.clock.now()
        money = rules.Money(Decimal("1"), partner.currency)
        with db.batch():
            for i in range(cards):
                backend.create_gift_card(partner, f"{partner.partner_id}S{i:07d}", money, now)
        app.runtime.close()
    finally:
        db.close()

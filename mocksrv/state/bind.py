"""Durable state: binding a runtime's stores to the state database, and restoring them from it.

Each API's store offers `sink` (where it writes its changes) and `restore(rows)`. On start-up
(and whenever a runtime is built on the same state) an API whose scenario section is unchanged
since the state was written gets its rows back; an API whose section changed starts fresh, as a
keep-state scenario switch would. The scenario clock and the faults and expectations added at run
time are kept the same way, under the pseudo-API `runtime`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from mocksrv.clock import ScenarioClock, parse_instant
from mocksrv.state.db import ApiSink, StateDB
from mocksrv.state.sink import Sink

if TYPE_CHECKING:
    from mocksrv.runtime import Runtime

log = logging.getLogger("mocksrv")
RUNTIME = "runtime"


def fingerprint(runtime: Runtime, api: str) -> str:
    """What the state of `api` depends on: its scenario section and its identities."""
    model = runtime.model
    idents = sorted(
        (i.name, i.access_key, i.secret_key, json.dumps(i.extra, sort_keys=True, default=str))
        for i in model.identities
        if i.api == api
    )
    section = model.raw.get(api) if api != RUNTIME else model.raw.get("clock")
    text = json.dumps([section, idents], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def attach(runtime: Runtime, db: StateDB) -> dict[str, str]:
    """Restore what the database holds for each API (when still valid) and bind the sinks."""
    outcome: dict[str, str] = {}
    files: set[str] = set()
    for api, store in sorted(runtime.stores.items()):
        if not hasattr(store, "restore"):
            continue

        def restore(rows: list[tuple[str, str, Any]], store: Any = store) -> None:
            files.update(v["file"] for kind, _, v in rows if kind == "object")
            store.restore(rows)

        outcome[api] = _bind(runtime, db, api, restore)
        store.sink = ApiSink(db, api)
    db.prune_objects(files)
    outcome[RUNTIME] = _bind(runtime, db, RUNTIME, lambda rows: _restore_runtime(runtime, rows))
    _watch_runtime(runtime, ApiSink(db, RUNTIME))
    runtime.state = db
    log.info("state %s: %s", db.path, ", ".join(f"{a} {o}" for a, o in outcome.items()))
    return outcome


def forget(db: StateDB) -> None:
    """Drop every API's state (a reset): the next runtime built on `db` starts fresh."""
    with db.batch():
        for api in db.fingerprinted_apis():
            db.clear(api)
            db.set_meta(f"fingerprint:{api}", "")


def _bind(runtime: Runtime, db: StateDB, api: str, restore: Any) -> str:
    want = fingerprint(runtime, api)
    have = db.meta(f"fingerprint:{api}")
    if have == want:
        rows = db.rows(api)
        restore(rows)
        return f"restored ({len(rows)} rows)"
    with db.batch():
        db.clear(api)
        db.set_meta(f"fingerprint:{api}", want)
    return "fresh" if not have else "fresh (its scenario section changed)"


def _restore_runtime(runtime: Runtime, rows: list[tuple[str, str, Any]]) -> None:
    from mocksrv.toolkit.expectations import build as build_expectation
    from mocksrv.toolkit.plugin import toolkit_of

    found = {(kind, key): value for kind, key, value in rows}
    saved = found.get(("clock", "state"))
    if saved is not None:
        _restore_clock(runtime.clock, saved)
    if runtime.admin is None:
        return
    kit = toolkit_of(runtime)
    for spec in found.get(("faults", "runtime"), []):
        try:
            kit.faults.add(spec)
        except ValueError as exc:
            log.warning("state: a saved fault no longer applies (%s): %s", exc, spec)
    for spec in found.get(("expectations", "runtime"), []):
        try:
            item = build_expectation(spec, len(kit.expectations.items), source="admin")
        except ValueError as exc:
            log.warning("state: a saved expectation no longer applies (%s): %s", exc, spec)
            continue
        kit.expectations.add(item, [])  # restored before any request: no history to tally


def _restore_clock(clock: ScenarioClock, saved: dict[str, Any]) -> None:
    at = parse_instant(saved["now"])
    if not saved["frozen"]:  # a running clock went on while the server was down
        at += timedelta(seconds=max(0.0, time.time() - float(saved["wall"])))
    clock.set(at)
    clock.freeze() if saved["frozen"] else clock.unfreeze()


def _watch_runtime(runtime: Runtime, sink: Sink) -> None:
    def clock_changed(clock: ScenarioClock) -> None:
        state = {"now": clock.now().isoformat(), "frozen": clock.frozen, "wall": time.time()}
        sink.put("clock", "state", state)  # full precision: uses are compared with it

    runtime.clock.on_change = clock_changed
    clock_changed(runtime.clock)  # a running clock must go on from here after a restart
    if runtime.admin is None:
        return
    from mocksrv.toolkit.plugin import toolkit_of

    kit = toolkit_of(runtime)
    kit.faults.on_change = lambda faults: sink.put("faults", "runtime", faults.runtime_specs())

    def expectations_changed(exp: Any) -> None:
        sink.put("expectations", "runtime", exp.runtime_specs())

    kit.expectations.on_change = expectations_changed

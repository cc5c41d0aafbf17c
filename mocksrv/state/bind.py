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
    if api == RUNTIME:
        section: Any = model.raw.get("clock")
    else:
        described = runtime.registry.api(api)
        found = [model.raw.get(s) for s in (described.sections if described else (api,))]
        section = found[0] if len(found) == 1 else found
    text = json.dumps([section, idents], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def attach(runtime: Runtime, db: StateDB, fresh: list[str] | None = None) -> dict[str, str]:
    """Restore what the database holds for each API (when still valid) and bind the sinks.

    `fresh` names the APIs whose store was just made; the others were carried over a keep-state
    switch, hold their data already and stay bound (their files are kept, too)."""
    outcome: dict[str, str] = {}
    files: set[str] = set()
    for api, store in sorted(runtime.stores.items()):
        if not hasattr(store, "restore"):
            continue
        if fresh is not None and api not in fresh:
            files.update(v["file"] for kind, _, v in db.rows(api) if kind == "object")
            outcome[api] = "carried"
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
    found = {(kind, key): value for kind, key, value in rows}
    saved = found.get(("clock", "state"))
    if saved is not None:
        _restore_clock(runtime.clock, saved)
    for part in runtime.durable:
        part.restore(found)


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
    for part in runtime.durable:
        part.watch(sink)

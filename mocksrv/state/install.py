"""The shared control of a SQL state: which scenarios are active, their generation, the scenario
clock, and installing a runtime's scenarios (at start-up, on a reset, on a scenario switch).

Every process serving a state follows one row (`versions`): a new `generation` means
other scenarios (rebuild the runtime from the texts stored here), a new `clock` version a moved
scenario clock, a new `kit` version faults or expectations added or removed at run time. An admin
change commits its data and the new version together, so the next request any process serves
after the admin call returned sees it. On PostgreSQL each request reads the row; on SQLite only
a request that finds the engine's control signal moved (`mocksrv.state.sqlite.ControlSignal`),
which every change of the row moves (`Tx.control_changed`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, cast

from mocksrv.state.engine import Engine, StateError, Tx

if TYPE_CHECKING:
    from mocksrv.runtime import Runtime
    from mocksrv.scenario.loader import Scenario

log = logging.getLogger("mocksrv")
SCHEMA_VERSION = "2"
CLOCK = "clock"  # the fingerprint key of the scenario clock's section
TABLES = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS control (tenant TEXT PRIMARY KEY, generation {bigint} NOT NULL, "
    "clock_version {bigint} NOT NULL, kit_version {bigint} NOT NULL, scenarios TEXT NOT NULL, "
    "fingerprints TEXT NOT NULL, clock TEXT NOT NULL)",
)
# PostgreSQL's CREATE TABLE IF NOT EXISTS and a first seed are not safe in two transactions at
# once (two creators collide on the catalog; two seeders on their rows): a lock serialises them
INSTALLING = ("mocksrv", "install")
_VERSIONS = "SELECT generation, clock_version, kit_version FROM control WHERE tenant=?"
TENANT_TABLES = (
    "CREATE TABLE IF NOT EXISTS tenants (id TEXT PRIMARY KEY, name TEXT NOT NULL, "
    "created {real} NOT NULL, expires {real}, scenarios TEXT NOT NULL, keys TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS tenant_index (one INTEGER PRIMARY KEY, version {bigint} NOT NULL)",
)


class Part(Protocol):
    """Anything a runtime keeps in the engine: an API's store, the toolkit's journal."""

    def clear(self, tx: Tx) -> None: ...

    def seed(self, tx: Tx) -> None: ...


class Versions(NamedTuple):
    generation: int
    clock: int
    kit: int


def prepare(engine: Engine, ddl: list[str]) -> None:
    """Create the tables (the control's and every part's) and check the state's format."""
    try:
        with engine.read() as tx:
            found = _schema(tx)
    except Exception as exc:  # no meta table yet, or a damaged file
        found = None
        if "no such table" not in str(exc) and "does not exist" not in str(exc):
            raise StateError(f"the state {engine.describe()} cannot be read: {exc}") from None
    if found is not None and found != SCHEMA_VERSION:
        raise StateError(
            f"the state {engine.describe()} has format {found}; this mocksrv reads format "
            f"{SCHEMA_VERSION} (start with a new state file, or remove this one)"
        )
    from mocksrv.state import buckets

    with engine.write() as tx:
        tx.lock(*INSTALLING)  # replicas started at once: one makes the tables, then the next
        for statement in [*TABLES, *buckets.TABLES, *TENANT_TABLES, *ddl]:
            tx.run(engine_ddl(engine, statement))
        tx.run(
            "INSERT INTO meta VALUES ('schema', ?) ON CONFLICT (key) DO NOTHING", (SCHEMA_VERSION,)
        )


def engine_ddl(engine: Engine, statement: str) -> str:
    dialect = getattr(engine, "dialect", None)
    return dialect.ddl(statement) if dialect is not None else statement


def _schema(tx: Tx) -> str | None:
    row = tx.one("SELECT value FROM meta WHERE key='schema'")
    return str(row[0]) if row else None


def versions(engine: Engine, tenant: str) -> Versions | None:
    with engine.read() as tx:
        row = tx.one(_VERSIONS, (tenant,))
    return Versions(*row) if row is not None else None


def stored_scenarios(engine: Engine, tenant: str) -> list[Scenario] | None:
    """The active scenarios as the installing process stored them (None: nothing installed)."""
    from mocksrv.scenario.loader import Scenario

    with engine.read() as tx:
        row = tx.one("SELECT scenarios FROM control WHERE tenant=?", (tenant,))
    if row is None:
        return None
    return [Scenario(s["source"], s["data"]) for s in json.loads(row[0])]


def stored_clock(engine: Engine, tenant: str) -> dict[str, Any] | None:
    with engine.read() as tx:
        row = tx.one("SELECT clock FROM control WHERE tenant=?", (tenant,))
    return json.loads(row[0]) if row is not None else None


def fingerprint(runtime: Runtime, name: str) -> str:
    """What the state of `name` (an API, or the clock) depends on: its scenario sections and
    its identities."""
    model = runtime.model
    idents = sorted(
        (i.name, i.access_key, i.secret_key, json.dumps(i.extra, sort_keys=True, default=str))
        for i in model.identities
        if i.api == name
    )
    if name == CLOCK:
        section: Any = model.raw.get("clock")
    else:
        described = runtime.registry.api(name)
        found = [model.raw.get(s) for s in (described.sections if described else (name,))]
        section = found[0] if len(found) == 1 else found
    text = json.dumps([section, idents], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def install(
    runtime: Runtime,
    *,
    keep: list[str] | None = None,
    keep_clock: bool | None = None,
    journal: str = "keep",
    kit: str = "keep",
) -> dict[str, str]:
    """Make `runtime`'s scenarios the active ones of its tenant, in one transaction.

    `keep` names the APIs whose rows stay (None, at start-up: those whose sections and
    identities are unchanged since they were written); every other API's rows are cleared and
    seeded from the scenario. The clock stays when `keep_clock` (None: when its section is
    unchanged). `journal` and `kit` say what the toolkit keeps (its `ToolkitPart.install`: at
    start-up the journal and the faults and expectations added at run time stay). Returns what
    happened per API."""
    engine, tenant = runtime.engine, runtime.tenant
    prints = {name: fingerprint(runtime, name) for name in [*runtime.stores, CLOCK]}
    with engine.write() as tx:
        tx.lock(*INSTALLING, tenant)  # the first of several starting replicas seeds, once
        row = tx.one("SELECT fingerprints, generation, clock_version, kit_version, clock "
                     "FROM control WHERE tenant=?", (tenant,))  # fmt: skip
        old = json.loads(row[0]) if row else {}
        starting = keep is None
        if keep is None:
            keep = [n for n in runtime.stores if row is not None and old.get(n) == prints[n]]
        if keep_clock is None:
            keep_clock = row is not None and old.get(CLOCK) == prints[CLOCK]
        outcome = {}
        for name, store in runtime.stores.items():
            if name in keep:
                outcome[name] = "kept"
                continue
            part = cast(Part, store)  # a SQL engine's stores are its parts
            part.clear(tx)
            part.seed(tx)
            outcome[name] = "fresh" if name not in old else "fresh (its scenario section changed)"
        if not starting:  # rate limits start full again, as a fresh runtime's would
            from mocksrv.state import buckets

            buckets.clear(runtime.engine, tx, tenant)
        for part in runtime.parts.values():
            part.install(tx, journal=journal, kit=kit)
        clock = json.loads(row[4]) if row is not None and keep_clock else runtime.clock.state()
        new = _write_control(tx, runtime, row, prints, clock)
    runtime.clock.load(clock)
    runtime.versions = new
    outcome[CLOCK] = "kept" if keep_clock else "fresh"
    return outcome


def _write_control(
    tx: Tx, runtime: Runtime, row: Any, prints: dict[str, str], clock: Any
) -> Versions:
    """The tenant's control row with every version moved on (a control change: every process
    follows it at its next request)."""
    scenarios = json.dumps(
        [{"source": s.source, "data": s.data} for s in runtime.scenarios], default=str
    )
    gen, clock_v, kit_v = (row[1], row[2], row[3]) if row is not None else (0, 0, 0)
    new = Versions(gen + 1, clock_v + 1, kit_v + 1)
    tx.control_changed()
    tx.run(
        "INSERT INTO control VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant) DO UPDATE SET "
        "generation=excluded.generation, clock_version=excluded.clock_version, "
        "kit_version=excluded.kit_version, scenarios=excluded.scenarios, "
        "fingerprints=excluded.fingerprints, clock=excluded.clock",
        (runtime.tenant, *new, scenarios, json.dumps(prints), json.dumps(clock)),
    )
    return new


def forget(engine: Engine, tenant: str, ddl: list[str]) -> None:
    """Every row of a deleted tenant, in every table that has a tenant column, in one
    transaction (its data, journal, control row and its record among the tenants)."""
    import re

    from mocksrv.state import buckets

    names = {
        m.group(1)
        for statement in [*TABLES, *buckets.TABLES, *ddl]
        if "tenant TEXT" in statement
        and (m := re.match(r"CREATE TABLE IF NOT EXISTS (\w+)", statement))
    }
    with engine.write() as tx:
        tx.control_changed()  # its control row goes: every process stops serving it at once
        for name in sorted(names):
            tx.run(f"DELETE FROM {name} WHERE tenant=?", (tenant,))
        buckets.clear(engine, tx, tenant)  # its buckets in shared memory too
        tx.run("DELETE FROM tenants WHERE id=?", (tenant,))


def save_clock(runtime: Runtime) -> None:
    """The scenario clock moved (admin API): store it and bump the clock version."""
    with runtime.engine.write() as tx:
        tx.control_changed()
        tx.run(
            "UPDATE control SET clock=?, clock_version=clock_version+1 WHERE tenant=?",
            (json.dumps(runtime.clock.state()), runtime.tenant),
        )
        row = tx.one(_VERSIONS, (runtime.tenant,))
    if row is not None:  # this process has the clock it wrote: it need not load it again
        runtime.versions = runtime.versions._replace(clock=row[1])


def bump_kit(runtime: Runtime, tx: Tx) -> None:
    """Faults or expectations changed at run time: every other process reloads them."""
    tx.control_changed()
    tx.run("UPDATE control SET kit_version=kit_version+1 WHERE tenant=?", (runtime.tenant,))
    row = tx.one(_VERSIONS, (runtime.tenant,))
    if row is not None:
        runtime.versions = runtime.versions._replace(kit=row[2])

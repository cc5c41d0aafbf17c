"""The toolkit's expectation tallies and fault counters on a SQL state (`SharedKit`): rows of the
engine, so every process counts every process's requests."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from mocksrv.state.engine import Engine, Tx
from mocksrv.toolkit.expectations import Expectation, ExpectationSet
from mocksrv.toolkit.faults import Fault, FaultSet


class SharedKit:
    """Expectation tallies and fault counters of one tenant in the engine; the specs added at
    run time are rows too, and a change to them makes every process reload (`reload`)."""

    def __init__(self, engine: Engine, tenant: str) -> None:
        self.engine = engine
        self.tenant = tenant
        self.expectations: ExpectationSet | None = None
        self.faults: FaultSet | None = None

    # -- expectations ------------------------------------------------------------------------

    def tally(self, tx: Tx, entry: dict[str, Any]) -> None:
        """Count `entry` for every expectation it matches or nearly matches (in `tx`)."""
        found = self.expectations.items if self.expectations is not None else ()
        for item in found:
            matched = item.matcher.matches(entry)
            near = not matched and item.matcher.is_near(entry)
            if matched or near:
                self._count(tx, item, entry, matched)

    def _count(self, tx: Tx, item: Expectation, entry: dict[str, Any], matched: bool) -> None:
        probe = Expectation(item.name, item.matcher, item.count)
        row = tx.one(
            "SELECT matched, samples, near FROM kit_tallies WHERE tenant=? AND name=?{for_update}",
            (self.tenant, item.name),
        )
        if row is not None:
            probe.matched = int(row[0])
            probe.samples.extend(json.loads(row[1]))
            probe.near_misses.extend(json.loads(row[2]))
        probe.observe(entry)
        tx.run(
            "INSERT INTO kit_tallies VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant, name) DO UPDATE "
            "SET matched=excluded.matched, samples=excluded.samples, near=excluded.near",
            (self.tenant, item.name, probe.matched, json.dumps(list(probe.samples), default=str),
             json.dumps(list(probe.near_misses), default=str)),
        )  # fmt: skip

    def load_tallies(self, items: list[Expectation]) -> None:
        """Each expectation's tally as the engine holds it (before a report)."""
        with self.engine.read() as tx:
            rows = {
                name: (m, s, n)
                for name, m, s, n in tx.all(
                    "SELECT name, matched, samples, near FROM kit_tallies WHERE tenant=?",
                    (self.tenant,),
                )
            }
        for item in items:
            item.reset()
            found = rows.get(item.name)
            if found is not None:
                item.matched = int(found[0])
                item.samples.extend(json.loads(found[1]))
                item.near_misses.extend(json.loads(found[2]))

    def retally(self, tx: Tx, items: list[Expectation], entries: list[dict[str, Any]]) -> None:
        """Count every kept entry again for `items` (a scenario switch keeping the journal)."""
        tx.run("DELETE FROM kit_tallies WHERE tenant=?", (self.tenant,))
        for item in items:
            for entry in entries:
                item.observe(entry)
            tx.run(
                "INSERT INTO kit_tallies VALUES (?, ?, ?, ?, ?)",
                (self.tenant, item.name, item.matched, json.dumps(list(item.samples), default=str),
                 json.dumps(list(item.near_misses), default=str)),
            )  # fmt: skip

    def retally_one(self, tx: Tx, item: Expectation) -> None:
        """Store `item`'s tally as it stands (a new expectation, counted on the journal)."""
        tx.run(
            "INSERT INTO kit_tallies VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant, name) DO NOTHING",
            (self.tenant, item.name, item.matched, json.dumps(list(item.samples), default=str),
             json.dumps(list(item.near_misses), default=str)),
        )  # fmt: skip

    # -- faults --------------------------------------------------------------------------------

    def trigger(self, fault: Fault) -> bool:
        """`fault.triggers()` on the shared counters: one transaction per matching call."""
        with self.engine.write() as tx:
            row = tx.one(
                "INSERT INTO kit_faults VALUES (?, ?, 1, 0) ON CONFLICT (tenant, id) DO UPDATE "
                "SET seen = kit_faults.seen + 1 RETURNING seen, fired",
                (self.tenant, fault.id),
            )
            seen, fired = (int(row[0]), int(row[1])) if row else (1, 0)
            fault.seen, fault.fired = seen - 1, fired
            # a seeded probability draws the same number for the same call, in any process
            fault.rng = random.Random(f"{fault.spec.get('seed')}:{seen}")
            fires = fault.triggers()
            if fires:
                tx.run(
                    "UPDATE kit_faults SET fired = fired + 1 WHERE tenant=? AND id=?",
                    (self.tenant, fault.id),
                )
        return fires

    def load_counters(self, faults: list[Fault]) -> None:
        with self.engine.read() as tx:
            rows = {
                i: (s, f)
                for i, s, f in tx.all(
                    "SELECT id, seen, fired FROM kit_faults WHERE tenant=?", (self.tenant,)
                )
            }
        for fault in faults:
            fault.seen, fault.fired = (int(v) for v in rows.get(fault.id, (0, 0)))

    # -- specs added at run time -------------------------------------------------------------

    def specs(self, kind: str) -> list[dict[str, Any]]:
        with self.engine.read() as tx:
            rows = tx.all(
                "SELECT spec FROM kit_specs WHERE tenant=? AND kind=? ORDER BY id",
                (self.tenant, kind),
            )
        return [json.loads(r[0]) for r in rows]

    def save_specs(
        self, kind: str, specs: list[dict[str, Any]], bump: Callable[[Tx], None]
    ) -> None:
        with self.engine.write() as tx:
            tx.run("DELETE FROM kit_specs WHERE tenant=? AND kind=?", (self.tenant, kind))
            tx.many(
                "INSERT INTO kit_specs (tenant, kind, spec) VALUES (?, ?, ?)",
                [(self.tenant, kind, json.dumps(s, default=str)) for s in specs],
            )
            if kind == "faults":
                tx.run(
                    "UPDATE kit_state SET added=? WHERE tenant=?",
                    (self.faults.added if self.faults is not None else 0, self.tenant),
                )
            bump(tx)

    def added(self) -> int:
        with self.engine.read() as tx:
            row = tx.one("SELECT added FROM kit_state WHERE tenant=?", (self.tenant,))
        return int(row[0]) if row else 0

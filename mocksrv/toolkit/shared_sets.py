"""The toolkit's sets on a SQL state: expectations tallied and faults counted in the engine,
and the ones added at run time kept there (every process reloads them when they change)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mocksrv.state.engine import Tx
from mocksrv.toolkit import expectations, faults
from mocksrv.toolkit.expectations import Expectation, ExpectationSet
from mocksrv.toolkit.faults import Fault, FaultSet
from mocksrv.toolkit.shared import SharedJournal, SharedKit, clear_journal, entry_of, new_scope

if TYPE_CHECKING:
    from mocksrv.runtime import Runtime

log_name = "mocksrv"


class SharedExpectations(ExpectationSet):
    """Tallies live in the engine (the journal counts each request there); reports read them."""

    def __init__(self, kit: SharedKit, items: list[Expectation]) -> None:
        super().__init__(items)
        self.kit = kit

    def observe(self, entry: dict[str, Any]) -> None:
        pass  # tallied by the journal's transaction

    def verify(self) -> dict[str, Any]:
        with self._lock:
            items = list(self.items)
        self.kit.load_tallies(items)
        return super().verify()

    def reset_counts(self) -> None:
        with self.kit.engine.write() as tx:
            tx.run("DELETE FROM kit_tallies WHERE tenant=?", (self.kit.tenant,))


class SharedFaults(FaultSet):
    """Counters (`seen`, `fired`) in the engine: `nth` and `times` count every process's calls."""

    def __init__(self, kit: SharedKit, apis: Any, items: list[Fault]) -> None:
        super().__init__(apis, items)
        self.kit = kit

    def triggers(self, fault: Fault) -> bool:
        return self.kit.trigger(fault)

    def to_json(self) -> list[dict[str, Any]]:
        with self._lock:
            items = list(self.items)
        self.kit.load_counters(items)
        return super().to_json()


class SharedExchanges:
    """What was sent and answered, read from the journal's rows."""

    def __init__(self, journal: SharedJournal) -> None:
        self.journal = journal

    def record(self, call: Any) -> None:
        pass  # kept with the journal row

    def clear(self) -> None:
        pass  # cleared with the journal

    def adopt(self, other: Any) -> None:
        pass

    def get(self, request_id: str) -> dict[str, Any] | None:
        return self.journal.exchange(request_id)

    def stats(self) -> dict[str, int]:
        return {"size": 0, "bytes": 0, "capacityBytes": 0}


class ToolkitPart:
    """The toolkit's share of installing scenarios (`mocksrv.state.install`), and reloading
    what another process changed."""

    def __init__(self, runtime: Runtime, kit: SharedKit, scenario_faults: list[Fault],
                 scenario_expectations: list[Expectation]) -> None:  # fmt: skip
        self.runtime = runtime
        self.kit = kit
        self.scenario_faults = scenario_faults
        self.scenario_expectations = scenario_expectations
        self.faults: SharedFaults | None = None
        self.expectations: SharedExpectations | None = None

    def install(self, tx: Tx, *, journal: str, kit: str) -> None:
        """`journal`: keep, clear or scope (kept, a new scope); `kit`: keep (the run-time specs
        and tallies), clear, tallies (keep the tallies only) or retally (count the kept journal
        again for the new scenario's expectations)."""
        t = self.kit.tenant
        tx.run("INSERT INTO kit_state VALUES (?, 0, 0, 0) ON CONFLICT (tenant) DO NOTHING", (t,))
        if journal == "clear":
            clear_journal(tx, t)
        if kit != "keep":
            tx.run("DELETE FROM kit_specs WHERE tenant=?", (t,))
            tx.run("DELETE FROM kit_faults WHERE tenant=?", (t,))
            tx.run("UPDATE kit_state SET added=0 WHERE tenant=?", (t,))
        if kit == "clear":
            tx.run("DELETE FROM kit_tallies WHERE tenant=?", (t,))
        elif kit == "tallies":  # the scenario's expectations go on counting; no others remain
            keep = {i.name for i in self.scenario_expectations}
            for (name,) in tx.all("SELECT name FROM kit_tallies WHERE tenant=?", (t,)):
                if name not in keep:
                    tx.run("DELETE FROM kit_tallies WHERE tenant=? AND name=?", (t, name))
        elif kit == "retally":
            rows = tx.all("SELECT id, entry FROM journal WHERE tenant=? ORDER BY id", (t,))
            self.kit.retally(tx, self.scenario_expectations, [entry_of(i, e) for i, e in rows])
        if journal == "scope":
            new_scope(tx, t)

    def reload(self) -> None:
        """Another process added or removed faults or expectations: take the engine's list."""
        registry = self.runtime.registry
        if self.faults is not None:
            added: list[Fault] = []
            for spec in self.kit.specs("faults"):
                try:
                    added.append(faults.build(spec, len(added), registry, source="admin"))
                except ValueError as exc:
                    import logging

                    logging.getLogger(log_name).warning("a stored fault no longer applies: %s", exc)
            with self.faults._lock:
                self.faults.items = [*self.scenario_faults, *added]
                self.faults.added = self.kit.added()
                self.faults._reorder()
        if self.expectations is not None:
            found = []
            for index, spec in enumerate(self.kit.specs("expectations")):
                try:
                    found.append(expectations.build(spec, index, "admin", registry))
                except ValueError:
                    continue
            with self.expectations._lock:
                self.expectations.items = [*self.scenario_expectations, *found]


def build(runtime: Runtime, parsed: Any) -> Any:
    """The toolkit of a runtime on a SQL state (its faults and expectations added at run time
    are the engine's)."""
    from mocksrv.toolkit.plugin import Toolkit

    kit = SharedKit(runtime.engine, runtime.tenant)
    journal = SharedJournal(runtime.engine, runtime.tenant, parsed.capacity, kit)
    part = ToolkitPart(runtime, kit, list(parsed.faults), list(parsed.expectations))
    expects = SharedExpectations(kit, list(parsed.expectations))
    fault_set = SharedFaults(kit, runtime.registry, list(parsed.faults))
    kit.expectations, kit.faults = expects, fault_set
    part.expectations, part.faults = expects, fault_set
    bump = _bumper(runtime)
    fault_set.on_change = lambda f: kit.save_specs("faults", f.runtime_specs(), bump)
    expects.on_change = lambda e: _save_expectations(kit, e, bump)
    runtime.parts["toolkit"] = part
    from mocksrv.toolkit.metrics_shared import SharedMetrics

    metrics = SharedMetrics(runtime.engine, runtime.tenant)
    return Toolkit(journal, expects, fault_set, SharedExchanges(journal), metrics)  # type: ignore[arg-type]


def _bumper(runtime: Runtime) -> Any:
    from mocksrv.state.install import bump_kit

    return lambda tx: bump_kit(runtime, tx)


def _save_expectations(kit: SharedKit, found: ExpectationSet, bump: Any) -> None:
    """Store the run-time expectations, and the tally each new one got from the journal."""
    kit.save_specs("expectations", found.runtime_specs(), bump)
    with kit.engine.write() as tx:
        have = {r[0] for r in tx.all("SELECT name FROM kit_tallies WHERE tenant=?", (kit.tenant,))}
        names = {i.name for i in found.items}
        for name in have - names:
            tx.run("DELETE FROM kit_tallies WHERE tenant=? AND name=?", (kit.tenant, name))
        for item in found.items:
            if item.name not in have:
                kit.retally_one(tx, item)

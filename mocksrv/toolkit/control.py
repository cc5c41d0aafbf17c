"""Run-time control of an app: reset, and switching scenarios while keeping or dropping state."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mocksrv.errors import ScenarioError
from mocksrv.scenario.loader import Scenario, expand_paths, merge_scenarios

if TYPE_CHECKING:
    from mocksrv.app import MocksrvApp
    from mocksrv.runtime import Runtime
    from mocksrv.settings import Settings

EMBEDDED = "<embedded>"


def reset(app: MocksrvApp, *, keep_journal: bool = False) -> Runtime:
    """All state, journal, faults added at run time and moto: rebuilt from the same scenarios.

    With `keep_journal` the journal (and so what the scenario's expectations count) is carried
    over and a new journal scope starts: the pytest plugin's per-test reset under `mocksrv run`.
    """
    old = app.runtime
    new = old.registry.build(
        old.settings, old.scenarios, old.engine, tenant=old.tenant, keys=old.keys
    )
    if new.engine.shared:
        from mocksrv.state.install import install

        journal, kit = ("scope", "tallies") if keep_journal else ("clear", "clear")
        install(new, keep=[], keep_clock=False, journal=journal, kit=kit)
    elif keep_journal:
        _carry_journal(old, new, new_scope=True, same_scenarios=True)
    new.start()
    _carry_metrics(old, new)
    app.replace_runtime(new)
    return new


def reload_sources(runtime: Runtime) -> list[Scenario]:
    """The current scenario files read again from disk; the embedded default and scenarios posted
    as text (sources in angle brackets, never paths) stay as they are."""
    if all(sc.source.startswith("<") for sc in runtime.scenarios):
        return list(runtime.scenarios)
    files = [sc.source for sc in runtime.scenarios if not sc.source.startswith("<")]
    fresh = iter(runtime.registry.load_files(files))
    return [sc if sc.source.startswith("<") else next(fresh) for sc in runtime.scenarios]


def allowed_scenario_roots(settings: Settings) -> tuple[set[Path], list[Path]]:
    """What the admin API may read scenario files from: the files and the directories the server
    was started with (`--scenario`, `--scenario-root`, bundled names resolved), and the bundled
    scenario library, as resolved paths."""
    from mocksrv.scenario.library import bundled_dir, resolve

    files: set[Path] = set()
    dirs: list[Path] = [bundled_dir().resolve()]
    for raw in [*settings.scenario_paths, *settings.scenario_roots]:
        p = Path(resolve(raw)).resolve()
        if p.is_dir():
            dirs.append(p)
        else:
            files.add(p)
    return files, dirs


def path_allowed(raw: str, settings: Settings) -> bool:
    """True if `raw`, symlinks and `..` resolved, is a start-up file or lies in a start-up
    directory; a directory also needs each of its scenario files to resolve inside."""
    files, dirs = allowed_scenario_roots(settings)

    def inside(p: Path) -> bool:
        return p in files or any(p == d or p.is_relative_to(d) for d in dirs)

    try:
        target = Path(raw).resolve()
        if not inside(target):
            return False
        return all(inside(f.resolve()) for f in expand_paths([str(target)]) if target.is_dir())
    except (OSError, RuntimeError, ValueError):  # loops, NUL bytes, unreadable directories
        return False


def from_text(runtime: Runtime, text: str, name: str = "admin") -> list[Scenario]:
    """A scenario posted as YAML text, after the bundled scenarios it extends; checked like a
    file."""
    return runtime.registry.parse_text(text, f"<admin>/{name}.yaml")


def library(runtime: Runtime) -> dict[str, Path]:
    """Scenario files next to the active ones or in the configured scenario directories, then the
    bundled scenarios, by name (the first of a name wins)."""
    from mocksrv.scenario.library import bundled

    dirs: list[Path] = [Path(p) for p in runtime.settings.scenario_paths if Path(p).is_dir()]
    dirs += [Path(sc.source).parent for sc in runtime.scenarios if Path(sc.source).is_file()]
    found: dict[str, Path] = {}
    for d in dirs:
        for f in expand_paths([str(d)]):
            found.setdefault(f.stem, f)
    for name, (path, _) in bundled().items():
        found.setdefault(name, path)
    return found


def switch(
    app: MocksrvApp, scenarios: list[Scenario], keep_state: bool, *, keep_journal: bool = False
) -> dict[str, Any]:
    """Validate and build a runtime on `scenarios`, then swap it in; raises ScenarioError.

    `keep_state` keeps the clock, the journal and the store of each API whose sections are
    unchanged, under fresh services built on the new scenarios; `keep_journal` alone keeps only
    the journal and starts a new journal scope (the plugin's per-test scenario switch)."""
    old = app.runtime
    engine, shared = old.engine, old.engine.shared
    kept: list[str] = []
    _same_identities(old, scenarios)
    if keep_state:
        model = old.registry.model(merge_scenarios(scenarios), keys=old.keys)
        kept = old.registry.unchanged(old.model, model)
        # a SQL engine keeps the rows: the new runtime's stores are views of them
        carried = {} if shared else {name: old.stores[name] for name in kept}
        new = old.registry.build(
            old.settings, scenarios, engine, carried=carried, clock=old.clock, model=model,
            tenant=old.tenant, keys=old.keys,
        )  # fmt: skip
        for name in carried:
            old.stores.pop(name)  # closing the old runtime must not close a kept store
        if not shared:
            _carry_journal(old, new)
    else:
        new = old.registry.build(old.settings, scenarios, engine, tenant=old.tenant, keys=old.keys)
        if keep_journal and not shared:
            _carry_journal(old, new, new_scope=True)
    if shared:
        from mocksrv.state.install import install

        journal = "keep" if keep_state else "scope" if keep_journal else "clear"
        kit = "retally" if keep_state or keep_journal else "clear"
        install(new, keep=kept, keep_clock=keep_state, journal=journal, kit=kit)
    new.start()
    _carry_metrics(old, new)
    app.replace_runtime(new)
    return {
        "active": [sc.source for sc in scenarios],
        "keptState": kept,
        "resetState": [name for name in old.registry.names if name not in kept],
    }


def _same_identities(old: Runtime, scenarios: list[Scenario]) -> None:
    """A tenant keeps the keys it was made with: another scenario of its may name only those
    identities (a new one would have no keys of the tenant's, and sign as no one's or the
    default tenant's). ScenarioError otherwise."""
    if old.keys is None:
        return
    merged = merge_scenarios(scenarios)
    raw = merged.data.get("identities") or []
    new = [str(i.get("name")) for i in raw if isinstance(i, dict) and i.get("name") not in old.keys]
    if new:
        where = merged.sources[-1] if merged.sources else "scenario"
        raise ScenarioError([
            f"{where}: identities: {', '.join(new)}: a tenant keeps the identities it was made "
            "with; make a tenant on this scenario instead (POST /__admin/tenants)"
        ])  # fmt: skip


def _carry_journal(
    old: Runtime, new: Runtime, *, new_scope: bool = False, same_scenarios: bool = False
) -> None:
    """The journal goes over to the new runtime and its scenario expectations count it: taken
    over as they are when the scenarios are the same (a reset), else tallied afresh."""
    from mocksrv.toolkit.plugin import toolkit_of

    if old.admin is None or new.admin is None:
        return
    src, dst = toolkit_of(old), toolkit_of(new)
    dst.journal.adopt(src.journal)
    dst.exchanges.adopt(src.exchanges)
    if same_scenarios:
        dst.expectations.items = [i for i in src.expectations.items if i.source == "scenario"]
    else:
        for entry in dst.journal.entries():
            dst.expectations.observe(entry)
    if new_scope:
        dst.journal.new_scope()


def _carry_metrics(old: Runtime, new: Runtime) -> None:
    """The metrics count on across runtimes: Prometheus counters only ever rise."""
    from mocksrv.toolkit.plugin import toolkit_of

    if old.admin is not None and new.admin is not None:
        toolkit_of(new).metrics.adopt(toolkit_of(old).metrics)

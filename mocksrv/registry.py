"""The one list of APIs, and everything derived from it: the scenario schema, the checks, and
building a runtime (fresh services over new or carried stores).

Adding an API: a package under `mocksrv/services/` whose `plugin.py` defines `API`, and one line
in `APIS` below (docs/architecture.md, "Adding an API").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from mocksrv.api import Api, Extension
from mocksrv.errors import ScenarioError
from mocksrv.runtime import Runtime
from mocksrv.scenario import loader
from mocksrv.scenario.loader import Merged, Scenario, merge_scenarios
from mocksrv.scenario.model import Problems, ScenarioModel, build_model
from mocksrv.services.agcod.plugin import API as AGCOD
from mocksrv.services.prime.plugin import API as PRIME
from mocksrv.services.promotions.plugin import API as PROMOTIONS
from mocksrv.services.sts.plugin import API as STS
from mocksrv.state.engine import MEMORY, Engine
from mocksrv.toolkit.plugin import EXTENSION as TOOLKIT

if TYPE_CHECKING:
    from mocksrv.settings import Settings

Keys = dict[str, tuple[str, str]]  # a tenant's credentials: identity name -> (access key, secret)

APIS: tuple[Api, ...] = (PRIME, AGCOD, PROMOTIONS, STS)
EXTENSIONS: tuple[Extension, ...] = (TOOLKIT,)


class Registry:
    """The registered APIs as one object: a runtime carries it, so that the toolkit (below this
    module) reads the list of APIs without importing it."""

    def __init__(self, apis: tuple[Api, ...], extensions: tuple[Extension, ...]) -> None:
        self.apis = apis
        self.extensions = extensions
        self.by_spelling: dict[str, Api] = {s: api for api in apis for s in api.spellings}
        self._aliases = {s: api.name for s, api in self.by_spelling.items()}
        self._implied = {s: op for api in apis for s, op in api.alias_operations.items()}
        self._checks: loader.Checks | None = None

    def api(self, spelling: str) -> Api | None:
        """The API a name or an alias spells (`s3` and `landing` are `promotions`)."""
        return self.by_spelling.get(spelling)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(api.name for api in self.apis)

    @property
    def spellings(self) -> tuple[str, ...]:
        return tuple(self.by_spelling)

    def aliases(self) -> dict[str, str]:
        """Every accepted spelling -> its API's name."""
        return self._aliases

    def implied_operations(self) -> dict[str, str]:
        """Aliases that also name an operation (`landing`: the promotions API's Landing)."""
        return self._implied

    # -- scenarios ---------------------------------------------------------------------------

    def scenario_schema(self) -> dict[str, Any]:
        """The JSON Schema of scenario files: the core, each API's section, the extensions'."""
        identity_apis = [s for api in self.apis if api.identities for s in api.spellings]
        skews = [s for api in self.apis for s in api.spellings]
        sections: dict[str, Any] = {a.section: a.schema for a in self.apis if a.section}
        for ext in self.extensions:
            sections.update(ext.schemas(self.spellings))
        from mocksrv.scenario import schema  # checking scenarios only: not at start-up

        return schema.compose(sections, identity_apis=identity_apis, skew_keys=skews)

    def model(
        self, merged: Merged, problems: Problems | None = None, keys: Keys | None = None
    ) -> ScenarioModel:
        """The scenarios' shared model; `keys` (a tenant's) replace each named identity's access
        key and secret, so the rest of the scenario (partner ids, buckets, codes) stays as
        written."""
        if keys:
            merged = with_keys(merged, keys)
        skew = {api.name: api.skew_seconds for api in self.apis}
        return build_model(merged, problems, skew_defaults=skew, aliases=self.aliases())

    def parse(self, model: ScenarioModel, problems: Problems) -> dict[str, Any]:
        """Every API's and extension's config, each section parsed once; problems collected."""
        configs = {api.name: api.parse(model, problems) for api in self.apis}
        configs.update({ext.name: ext.parse(model, problems, self) for ext in self.extensions})
        return configs

    def semantic_problems(self, scenarios: list[Scenario]) -> list[str]:
        merged = merge_scenarios(scenarios)
        problems = Problems(merged)
        self.parse(self.model(merged, problems), problems)
        from mocksrv.scenario import validate

        return sorted(problems.items, key=validate.problem_order)

    def checks(self) -> loader.Checks:
        """The schema (compiled on first use, then kept) and the semantic checks."""
        if self._checks is None:
            from mocksrv.scenario import validate

            schema = validate.Validator(self.scenario_schema())
            self._checks = loader.Checks(schema, self.semantic_problems)
        return self._checks

    def load_files(self, paths: list[str]) -> list[Scenario]:
        """Read and check scenario files (and what they extend): every problem raised at once."""
        return loader.load_files(paths, self.checks())

    def parse_text(self, text: str, source: str) -> list[Scenario]:
        """A scenario given as text (posted to the admin API), schema-checked like a file."""
        return loader.load_text(text, source, self.checks())

    def validate_paths(self, paths: list[str]) -> list[str]:
        """Everything `mocksrv serve` would check at start-up, without starting anything."""
        try:
            scenarios = self.load_files(paths)
        except ScenarioError as exc:
            return exc.problems
        return self.semantic_problems(scenarios)

    # -- runtimes ----------------------------------------------------------------------------

    def tables(self) -> list[str]:
        """The CREATE statements of every API's and extension's SQL store."""
        return [t for api in self.apis for t in api.tables()] + [
            t for ext in self.extensions for t in ext.tables()
        ]

    def build(
        self,
        settings: Settings,
        scenarios: list[Scenario] | None = None,
        engine: Engine = MEMORY,
        *,
        carried: dict[str, Any] | None = None,
        clock: Any = None,
        model: ScenarioModel | None = None,
        tenant: str = "",
        keys: Keys | None = None,
    ) -> Runtime:
        """A runtime on `scenarios`: configs parsed once, a store per API (a fresh one, or the one
        `carried` over a keep-state switch), fresh services over them. On a SQL engine the stores
        are views of the engine's rows (`mocksrv.state.install` makes the scenarios the active
        ones). `model` is the scenarios' model when the caller has built it already (a
        keep-state switch compares it first)."""
        scenarios = scenarios if scenarios is not None else [loader.load_default()]
        model = model if model is not None else self.model(merge_scenarios(scenarios), keys=keys)
        problems = Problems(model.merged)
        configs = self.parse(model, problems)
        problems.raise_if_any()
        runtime = Runtime(
            settings, scenarios, model, registry=self, clock=clock, engine=engine, tenant=tenant
        )
        runtime.keys = keys
        if engine.shared:
            from mocksrv.state.install import save_clock

            runtime.clock.on_change = lambda _: save_clock(runtime)
        carried = carried or {}
        for api in self.apis:
            store = carried.get(api.name)
            if store is None:
                store = api.new_store(configs[api.name], runtime)
            runtime.stores[api.name] = store
            api.install(runtime, configs[api.name], store)
        for ext in self.extensions:
            ext.install(runtime, configs[ext.name])
        return runtime

    def unchanged(self, old: ScenarioModel, new: ScenarioModel) -> list[str]:
        """The APIs whose state a keep-state switch from `old` to `new` may keep: the sections it
        reads, its identities and its skew window are the same."""
        return [api.name for api in self.apis if _same_for(api, old, new)]


def _same_for(api: Api, old: ScenarioModel, new: ScenarioModel) -> bool:
    def idents(model: ScenarioModel) -> list[Any]:
        return [(i, i.extra) for i in model.identities if i.api == api.name]

    return (
        all(old.raw.get(s) == new.raw.get(s) for s in api.sections)
        and idents(old) == idents(new)
        and old.skew_seconds.get(api.name) == new.skew_seconds.get(api.name)
    )


def with_keys(merged: Merged, keys: Keys) -> Merged:
    """The merged scenario with each named identity's keys replaced (a tenant's copy)."""
    identities = [
        {**raw, "access_key": keys[raw["name"]][0], "secret_key": keys[raw["name"]][1]}
        if raw.get("name") in keys
        else raw
        for raw in merged.data.get("identities") or []
    ]
    return Merged({**merged.data, "identities": identities}, merged.lines, merged.sources)


REGISTRY = Registry(APIS, EXTENSIONS)


def load_files(paths: Iterable[str]) -> list[Scenario]:
    return REGISTRY.load_files(list(paths))


def validate_paths(paths: list[str]) -> list[str]:
    return REGISTRY.validate_paths(paths)


def scenario_schema() -> dict[str, Any]:
    return REGISTRY.scenario_schema()

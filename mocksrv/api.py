"""What an API (or the toolkit) tells the registry about itself: one descriptor, in its package.

`mocksrv.registry` lists the descriptors once; every list of APIs (scenario schema, skew
defaults, identity APIs, fault error names, keep-state, admin state views) is derived from it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    from mocksrv.runtime import Runtime
    from mocksrv.scenario.model import Problems, ScenarioModel

Parse = Callable[["ScenarioModel", "Problems"], Any]
# an API's run-time operations for POST /__admin/actions/<api>/<name>: name -> (run, help)
Actions = Mapping[str, tuple[Callable[[dict[str, Any]], Any], str]]


class Store(Protocol):
    """What the runtime and the admin API call on every API's store (memory or SQL)."""

    def snapshot(self, now: datetime) -> Any:
        """The admin state view (`GET /__admin/state/<api>`), as of the scenario clock's now."""
        ...

    def admin_actions(self) -> Actions: ...

    def start(self) -> None:
        """Start background work, once the runtime's scenarios are the active ones."""
        ...

    def close(self) -> None: ...


class StoreBase:
    """The parts of `Store` most stores have nothing to do for."""

    def admin_actions(self) -> Actions:
        return {}

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass


def _no_errors() -> Iterable[str]:
    return ()


def _no_tables() -> tuple[str, ...]:
    return ()


class Api(NamedTuple):
    """One emulated API (a NamedTuple, not a dataclass: it is defined on every start-up, and a
    frozen dataclass of this size costs about a millisecond to create).

    `parse` reads the scenario (its section, and what else it names in `reads`) into a config,
    collecting problems; `new_store` makes an empty store (the API's data) from that config;
    `install` builds the API's fresh services on a runtime over a store, new or carried over a
    keep-state switch. Services are cheap and rebuilt on every runtime; stores are the data.
    """

    name: str  # the one name in scenarios, the journal, faults, expectations and the admin API
    parse: Parse
    new_store: Callable[[Any, Runtime], Any]
    install: Callable[[Runtime, Any, Any], None]
    aliases: tuple[str, ...] = ()  # older spellings still accepted in scenario files
    section: str | None = None  # the top-level scenario section it owns
    schema: dict[str, Any] | None = None  # that section's JSON Schema
    skew_seconds: int = 300  # default of settings.skew_seconds.<name>
    identities: bool = False  # identities[].api may name it
    reads: tuple[str, ...] = ()  # other sections its config depends on (a change resets it)
    errors: Callable[[], Iterable[str]] = _no_errors  # wire error names faults may give
    throttle_error: str = ""  # what a `throttle` fault answers
    internal_error: str = "InternalError"  # what a truncated response cuts short
    # an alias that names one operation of the API (`landing` is the promotions API's Landing)
    alias_operations: Mapping[str, str] = MappingProxyType({})
    free_errors: tuple[str, ...] = ()  # operations whose injected errors are free names
    aws_tools: bool = False  # `mocksrv run` gives plain AWS tools its first identity's keys
    # the CREATE statements of its SQL store (read only when a SQL state is opened)
    tables: Callable[[], tuple[str, ...]] = _no_tables

    @property
    def spellings(self) -> tuple[str, ...]:
        """Its name, then its aliases."""
        return (self.name, *self.aliases)

    @property
    def sections(self) -> tuple[str, ...]:
        """The scenario sections whose content its state depends on."""
        return ((self.section,) if self.section else ()) + self.reads


class Extension(NamedTuple):
    """A part that is not an API but owns scenario sections and installs on every runtime (the
    toolkit: journal, faults, expectations and the admin API)."""

    name: str
    schemas: Callable[[tuple[str, ...]], dict[str, Any]]  # section -> schema, given API names
    parse: Callable[[ScenarioModel, Problems, Any], Any]  # (model, problems, the registry)
    install: Callable[[Runtime, Any], None]
    tables: Callable[[], tuple[str, ...]] = _no_tables


def wire_errors(module: str) -> Callable[[], set[str]]:
    """The wire error names an exceptions module renders (its `ERRORS`, `CATALOG` and
    `THROTTLING`), read when first asked for: nothing is imported at start-up."""

    def names() -> set[str]:
        import importlib

        found = importlib.import_module(module)
        out: set[str] = set()
        for attr in ("ERRORS", "CATALOG"):
            out.update(getattr(found, attr, None) or ())
        throttling = getattr(found, "THROTTLING", None)
        if isinstance(throttling, str):
            out.add(throttling)
        return out

    return names

"""The toolkit's descriptor: the `faults`, `expectations` and `journal` sections, and wiring the
journal, faults, expectations and the admin API into every runtime."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from mocksrv.api import Extension
from mocksrv.toolkit import expectations, faults
from mocksrv.toolkit.exchanges import Exchanges
from mocksrv.toolkit.journal import DEFAULT_CAPACITY, Journal
from mocksrv.toolkit.schema import sections

if TYPE_CHECKING:
    from mocksrv.runtime import Runtime
    from mocksrv.scenario.model import Problems, ScenarioModel

__all__ = ["EXTENSION", "STARTED", "Toolkit", "toolkit_of"]

log = logging.getLogger("mocksrv")
# for /__admin/health's uptime: this module is loaded at start-up, the admin app only on first use
STARTED = time.time()


@dataclass
class Toolkit:
    """The toolkit state of one runtime: journal (and its recent exchanges), expectations, faults."""

    journal: Journal
    expectations: expectations.ExpectationSet
    faults: faults.FaultSet
    exchanges: Exchanges

    def reset_journal(self) -> None:
        self.journal.clear()
        self.exchanges.clear()
        self.expectations.reset_counts()


class Sections(NamedTuple):
    """The toolkit's parsed sections."""

    faults: list[faults.Fault]
    expectations: list[expectations.Expectation]
    capacity: int


def _parse(model: ScenarioModel, problems: Problems, apis: faults.Apis) -> Sections:
    found_faults, found_exp = [], []
    for i, spec in enumerate(model.raw.get("faults") or []):
        try:
            found_faults.append(faults.build(spec, i, apis))
        except (ValueError, KeyError) as exc:
            problems.add(("faults", i), str(exc))
    for i, spec in enumerate(model.raw.get("expectations") or []):
        try:
            found_exp.append(expectations.build(spec, i, apis=apis))
        except (ValueError, KeyError) as exc:
            problems.add(("expectations", i), str(exc))
    _unique(problems, "faults", [f.id for f in found_faults if "id" in f.spec])
    _unique(problems, "expectations", [e.name for e in found_exp])
    capacity = int((model.raw.get("journal") or {}).get("capacity", DEFAULT_CAPACITY))
    return Sections(found_faults, found_exp, capacity)


def _unique(problems: Problems, section: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            problems.add(
                (section,), f"duplicate {'id' if section == 'faults' else 'name'} {name!r}"
            )
        seen.add(name)


def _install(runtime: Runtime, parsed: Sections) -> None:
    from mocksrv.toolkit import transport

    if runtime.engine.shared:
        from mocksrv.toolkit import shared_sets

        kit = shared_sets.build(runtime, parsed)
        runtime.recorders.append(kit.journal.record)
    else:
        kit = Toolkit(
            Journal(parsed.capacity),
            expectations.ExpectationSet(parsed.expectations),
            faults.FaultSet(runtime.registry, parsed.faults),
            Exchanges(),
        )
        kit.journal.listeners.append(kit.expectations.observe)
        kit.journal.listen_if = lambda: bool(kit.expectations.items)
        runtime.recorders.append(kit.journal.record)
        runtime.recorders.append(kit.exchanges.record)
    runtime.faults = kit.faults
    runtime.transport_fault = transport.apply
    runtime.admin = LazyAdmin(kit)


class LazyAdmin:
    """The admin WSGI app, imported and built on its first request (werkzeug's routing and the
    OpenAPI document are not needed to start serving the APIs)."""

    def __init__(self, kit: Toolkit) -> None:
        self.toolkit = kit
        self._app: Any = None
        self._lock = threading.Lock()

    @property
    def max_body(self) -> int:
        """The admin API's body cap (bytes), for the HTTP server's cap hook (`app.body_cap`)."""
        from mocksrv.toolkit.admin import MAX_BODY

        return MAX_BODY

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self._app is None:
            with self._lock:
                if self._app is None:
                    from mocksrv.toolkit.admin import AdminApp

                    self._app = AdminApp(self.toolkit)
        return self._app(environ, start_response)


def toolkit_of(runtime: Runtime) -> Toolkit:
    """The toolkit installed on `runtime` (for `mocksrv run` and the pytest plugin)."""
    admin: Any = runtime.admin
    kit: Toolkit = admin.toolkit
    return kit


def _tables() -> tuple[str, ...]:
    from mocksrv.toolkit.shared import TABLES

    return TABLES


EXTENSION = Extension(
    name="toolkit", schemas=sections, parse=_parse, install=_install, tables=_tables
)

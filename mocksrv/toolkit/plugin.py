"""The toolkit's descriptor: the `faults`, `expectations` and `journal` sections, and wiring the
journal, faults, expectations and the admin API into every runtime."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from mocksrv.api import Extension
from mocksrv.toolkit import expectations, faults
from mocksrv.toolkit.exchanges import Exchanges
from mocksrv.toolkit.journal import DEFAULT_CAPACITY, Journal
from mocksrv.toolkit.metrics import Metrics
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
    """The toolkit state of one runtime: journal (and its recent exchanges), expectations, faults,
    and the metrics (shared by every runtime of the app)."""

    journal: Journal
    expectations: expectations.ExpectationSet
    faults: faults.FaultSet
    exchanges: Exchanges
    metrics: Metrics = field(default_factory=Metrics)

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
    from mocksrv.toolkit import requestlog, transport

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
    runtime.recorders.append(kit.metrics.record)
    runtime.recorders.append(requestlog.record)
    runtime.faults = kit.faults
    runtime.transport_fault = transport.apply
    runtime.admin = LazyAdmin(kit)


class LazyAdmin:
    """`runtime.admin`: hands a request to the admin app (Flask, imported and built on the first
    admin request: starting to serve the APIs needs neither) with this runtime's toolkit."""

    def __init__(self, kit: Toolkit) -> None:
        self.toolkit = kit

    @property
    def max_body(self) -> int:
        """The admin API's body cap (bytes), for the HTTP server's cap hook (`app.body_cap`)."""
        from mocksrv.toolkit.admin import MAX_BODY

        return MAX_BODY

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        from mocksrv.toolkit.admin import KIT_KEY, admin_wsgi

        environ[KIT_KEY] = self.toolkit
        return admin_wsgi(environ, start_response)


def toolkit_of(runtime: Runtime) -> Toolkit:
    """The toolkit installed on `runtime` (for `mocksrv run` and the pytest plugin)."""
    admin: Any = runtime.admin
    kit: Toolkit = admin.toolkit
    return kit


def _tables() -> tuple[str, ...]:
    from mocksrv.toolkit import metrics_shared, shared

    return shared.TABLES + metrics_shared.TABLES


EXTENSION = Extension(
    name="toolkit", schemas=sections, parse=_parse, install=_install, tables=_tables
)

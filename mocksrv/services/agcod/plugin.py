"""Registers the `agcod:` scenario section and installs the AGCOD service on a runtime."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mocksrv import sigv4
from mocksrv.services.agcod.config import SCHEMA, parse

if TYPE_CHECKING:
    from mocksrv.runtime import Runtime
    from mocksrv.scenario.model import Problems, ScenarioModel

SCHEMAS: dict[str, Any] = {"agcod": SCHEMA}


def check(model: ScenarioModel, problems: Problems) -> None:
    parse(model, problems)


def install(runtime: Runtime) -> None:
    from mocksrv.scenario.model import Problems
    from mocksrv.services.agcod.models import AgcodBackend
    from mocksrv.services.agcod.routes import SCOPE, AgcodService

    problems = Problems(runtime.model.merged)
    config = parse(runtime.model, problems)
    problems.raise_if_any()
    policy = sigv4.VerifyPolicy(
        service=SCOPE,
        skew_seconds=runtime.model.skew_seconds["agcod"],
        normalize_path=True,
        debug=runtime.sigv4_debug,
    )
    backend = AgcodBackend(config)
    runtime.stores["agcod"] = backend
    runtime.add_service(AgcodService(config, backend, policy))

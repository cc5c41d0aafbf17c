"""Registers the `agcod:` scenario section and installs the AGCOD service on a runtime."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mocksrv.services.agcod.config import SCHEMA, parse

if TYPE_CHECKING:
    from mocksrv.runtime import Runtime
    from mocksrv.scenario.model import Problems, ScenarioModel

SCHEMAS: dict[str, Any] = {"agcod": SCHEMA}


def check(model: ScenarioModel, problems: Problems) -> None:
    parse(model, problems)


def install(runtime: Runtime) -> None:
    from mocksrv.services.agcod.models import AgcodBackend
    from mocksrv.services.agcod.routes import SCOPE, AgcodService
    from mocksrv.services.common import parse_or_raise, verify_policy

    config = parse_or_raise(runtime, parse)
    policy = verify_policy(runtime, SCOPE, "agcod")
    backend = AgcodBackend(config)
    runtime.stores["agcod"] = backend
    runtime.add_service(AgcodService(config, backend, policy))

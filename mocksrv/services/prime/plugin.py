"""Registers the `prime:` scenario section and installs the Prime service on a runtime."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mocksrv.services.prime.config import SCHEMA, parse

if TYPE_CHECKING:
    from mocksrv.runtime import Runtime
    from mocksrv.scenario.model import Problems, ScenarioModel

SCHEMAS: dict[str, Any] = {"prime": SCHEMA}


def check(model: ScenarioModel, problems: Problems) -> None:
    parse(model, problems)


def install(runtime: Runtime) -> None:
    from mocksrv.services.common import parse_or_raise, verify_policy
    from mocksrv.services.prime.models import PrimeBackend
    from mocksrv.services.prime.routes import PrimeService

    config = parse_or_raise(runtime, parse)
    policy = verify_policy(runtime, "execute-api", "prime")
    backend = PrimeBackend(config)
    runtime.stores["prime"] = backend
    runtime.add_service(PrimeService(config, backend, policy))

"""Registers the `prime:` scenario section and installs the Prime service on a runtime."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mocksrv import sigv4
from mocksrv.services.prime.config import SCHEMA, parse

if TYPE_CHECKING:
    from mocksrv.runtime import Runtime
    from mocksrv.scenario.model import Problems, ScenarioModel

SCHEMAS: dict[str, Any] = {"prime": SCHEMA}


def check(model: ScenarioModel, problems: Problems) -> None:
    parse(model, problems)


def install(runtime: Runtime) -> None:
    from mocksrv.scenario.model import Problems
    from mocksrv.services.prime.models import PrimeBackend
    from mocksrv.services.prime.routes import PrimeService

    problems = Problems(runtime.model.merged)
    config = parse(runtime.model, problems)
    problems.raise_if_any()
    policy = sigv4.VerifyPolicy(
        service="execute-api",
        skew_seconds=runtime.model.skew_seconds["prime"],
        normalize_path=True,
        debug=runtime.sigv4_debug,
    )
    backend = PrimeBackend(config)
    runtime.stores["prime"] = backend
    runtime.add_service(PrimeService(config, backend, policy))

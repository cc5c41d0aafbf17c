"""Registers the `promotions:` scenario section and installs S3 + landing on a runtime (moto is
imported lazily, on the first S3 request, so start-up and scenario checks never load it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mocksrv import sigv4
from mocksrv.services.promotions.config import SCHEMA, parse

if TYPE_CHECKING:
    from mocksrv.runtime import Runtime
    from mocksrv.scenario.model import Problems, ScenarioModel

SCHEMAS: dict[str, Any] = {"promotions": SCHEMA}


def check(model: ScenarioModel, problems: Problems) -> None:
    parse(model, problems)


def install(runtime: Runtime) -> None:
    from mocksrv.scenario.model import Problems
    from mocksrv.services.promotions.models import PromotionsStore
    from mocksrv.services.promotions.routes import PromotionsService

    problems = Problems(runtime.model.merged)
    config = parse(runtime.model, problems)
    problems.raise_if_any()
    policy = sigv4.VerifyPolicy(
        service="s3",
        skew_seconds=runtime.model.skew_seconds["s3"],
        normalize_path=False,
        debug=runtime.sigv4_debug,
    )
    store = PromotionsStore(config, runtime.clock)
    runtime.stores["promotions"] = store
    service = PromotionsService(store, policy, runtime.settings.max_s3_body_bytes)
    runtime.add_service(service, fallback=True)

"""Registers the `promotions:` scenario section and installs S3 + landing on a runtime (moto is
imported lazily, on the first S3 request, so start-up and scenario checks never load it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mocksrv.services.promotions.config import SCHEMA, parse

if TYPE_CHECKING:
    from mocksrv.runtime import Runtime
    from mocksrv.scenario.model import Problems, ScenarioModel

SCHEMAS: dict[str, Any] = {"promotions": SCHEMA}


def check(model: ScenarioModel, problems: Problems) -> None:
    parse(model, problems)


def install(runtime: Runtime) -> None:
    from mocksrv.services.common import parse_or_raise, verify_policy
    from mocksrv.services.promotions.models import PromotionsStore
    from mocksrv.services.promotions.routes import PromotionsService

    config = parse_or_raise(runtime, parse)
    policy = verify_policy(runtime, "s3", "s3", normalize_path=False)
    store = PromotionsStore(config, runtime.clock)
    runtime.stores["promotions"] = store
    service = PromotionsService(store, policy, runtime.settings.max_s3_body_bytes)
    runtime.add_service(service, fallback=True)

"""The Partner Promotions API's descriptor: its `promotions:` section, its store (inventory and
S3 objects) and its service, S3 plus the landing page (moto is imported lazily, on the first S3
request, so start-up and scenario checks never load it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mocksrv.api import Api, wire_errors
from mocksrv.services.promotions.config import SCHEMA, PromotionsConfig, parse

if TYPE_CHECKING:
    from mocksrv.runtime import Runtime


def _store(config: PromotionsConfig, runtime: Runtime) -> Any:
    if runtime.engine.shared:
        return _sql_store(config, runtime)
    from mocksrv.services.promotions.models import MemoryPromotionsStore

    return MemoryPromotionsStore(config, runtime.clock)


def _sql_store(config: PromotionsConfig, runtime: Runtime) -> Any:
    from mocksrv.services.promotions.s3 import MotoS3
    from mocksrv.services.promotions.sqlstore import SqlPromotionsStore

    buckets = list(config.buckets.values())
    moto = runtime.engine.cache(  # this process's copy of the tenant's S3, across runtimes
        ("promotions.moto", runtime.tenant),
        lambda: MotoS3(config.region, buckets),
        keep=lambda m: m.region == config.region and m.buckets == buckets,
    )
    return SqlPromotionsStore(config, runtime.clock, runtime.engine, runtime.tenant, moto)


def _tables() -> tuple[str, ...]:
    from mocksrv.services import recorded
    from mocksrv.services.promotions import replica, sqlinventory, sqlstore

    return sqlinventory.TABLES + sqlstore.TABLES + replica.TABLES + recorded.TABLES


def _install(runtime: Runtime, config: PromotionsConfig, store: Any) -> None:
    from mocksrv.services.common import verify_policy
    from mocksrv.services.promotions.landing import LandingService
    from mocksrv.services.promotions.routes import PromotionsService

    # S3 takes the temporary credentials of the roles the scenario declares (docs/sts.md)
    policy = verify_policy(runtime, "s3", API, normalize_path=False, sessions=True)
    service = PromotionsService(store, policy, runtime.settings.max_s3_body_bytes)
    runtime.add_service(service, fallback=True)
    runtime.add_service(LandingService(store))


API = Api(
    name="promotions",
    aliases=("s3", "landing"),
    section="promotions",
    schema=SCHEMA,
    parse=parse,
    new_store=_store,
    install=_install,
    skew_seconds=900,
    identities=True,
    errors=wire_errors("mocksrv.services.promotions.exceptions"),
    throttle_error="SlowDown",
    internal_error="InternalError",
    alias_operations={"landing": "Landing"},
    free_errors=("Landing",),  # the landing page has no published error set
    aws_tools=True,  # aws s3 cp, boto3 and the like sign as the promotions client
    tables=_tables,
)

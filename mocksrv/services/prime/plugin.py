"""The Prime offer-code API's descriptor: its `prime:` section, its store and its service."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mocksrv.api import Api, wire_errors
from mocksrv.services.prime.config import SCHEMA, PrimeConfig, parse

if TYPE_CHECKING:
    from mocksrv.runtime import Runtime


def _store(config: PrimeConfig, runtime: Runtime) -> Any:
    if runtime.engine.shared:
        from mocksrv.services.prime.sqlstore import SqlPrimeStore

        return SqlPrimeStore(config, runtime.engine, runtime.tenant)
    from mocksrv.services.prime.models import MemoryPrimeStore

    return MemoryPrimeStore(config)


def _tables() -> tuple[str, ...]:
    from mocksrv.services import recorded
    from mocksrv.services.prime.sqlstore import TABLES

    return TABLES + recorded.TABLES


def _install(runtime: Runtime, config: PrimeConfig, store: Any) -> None:
    from mocksrv.services.common import verify_policy
    from mocksrv.services.prime.routes import PrimeService

    policy = verify_policy(runtime, "execute-api", API)
    runtime.add_service(
        PrimeService(config, store, policy, runtime.clock, runtime.token_buckets("prime"))
    )


API = Api(
    name="prime",
    section="prime",
    schema=SCHEMA,
    parse=parse,
    new_store=_store,
    install=_install,
    skew_seconds=300,
    identities=True,
    errors=wire_errors("mocksrv.services.prime.exceptions"),
    throttle_error="TooManyRequests",
    internal_error="InternalServerError",
    tables=_tables,
)

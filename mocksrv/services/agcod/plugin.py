"""The AGCOD API's descriptor: its `agcod:` section, its store and how its service is built."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mocksrv.api import Api, wire_errors
from mocksrv.services.agcod.config import SCHEMA, AgcodConfig, parse

if TYPE_CHECKING:
    from mocksrv.runtime import Runtime


def _store(config: AgcodConfig, runtime: Runtime) -> Any:
    if runtime.engine.shared:
        from mocksrv.services.agcod.sqlstore import SqlAgcodStore

        return SqlAgcodStore(config, runtime.engine, runtime.tenant)
    from mocksrv.services.agcod.models import MemoryAgcodStore

    return MemoryAgcodStore(config)


def _tables() -> tuple[str, ...]:
    from mocksrv.services import recorded
    from mocksrv.services.agcod.sqlstore import TABLES

    return TABLES + recorded.TABLES


def _install(runtime: Runtime, config: AgcodConfig, store: Any) -> None:
    from mocksrv.services.agcod.routes import SCOPE, AgcodService
    from mocksrv.services.common import verify_policy

    policy = verify_policy(runtime, SCOPE, API)
    runtime.add_service(
        AgcodService(config, store, policy, runtime.clock, runtime.token_buckets("agcod"))
    )


API = Api(
    name="agcod",
    section="agcod",
    schema=SCHEMA,
    parse=parse,
    new_store=_store,
    install=_install,
    skew_seconds=900,
    identities=True,
    errors=wire_errors("mocksrv.services.agcod.exceptions"),
    throttle_error="ThrottlingException",
    internal_error="GeneralError",
    tables=_tables,
)

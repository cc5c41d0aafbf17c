"""The STS API's descriptor (with IAM's "not emulated" answer). STS has no section of its own:
roles are declared on promotions clients (`promotions.clients[].role`), so it reads that one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mocksrv.api import Api, wire_errors
from mocksrv.services.sts.config import StsConfig, parse

if TYPE_CHECKING:
    from mocksrv.runtime import Runtime


def _store(config: StsConfig, runtime: Runtime) -> Any:
    from mocksrv.services.sts.models import SessionStore

    return SessionStore(config, runtime.engine, runtime.tenant)


def _tables() -> tuple[str, ...]:
    from mocksrv.services.sts.models import TABLES

    return TABLES


def _install(runtime: Runtime, config: StsConfig, store: Any) -> None:
    from mocksrv.services.common import verify_policy
    from mocksrv.services.sts.routes import IamService, StsService

    runtime.keyring.add_source(store.identity)  # session keys (ASIA...) sign like identities
    # the IAM users STS knows are those of the APIs whose roles it reads (the promotions
    # clients'), and their sessions; docs/sts.md says why no other API's keys
    for service, scope in ((StsService, "sts"), (IamService, "iam")):
        policy = verify_policy(runtime, scope, API, signers=API.reads, sessions=True)
        runtime.add_service(service(store, policy))


API = Api(
    name="sts",
    aliases=("iam",),
    reads=("promotions",),
    parse=parse,
    new_store=_store,
    install=_install,
    skew_seconds=300,
    errors=wire_errors("mocksrv.services.sts.exceptions"),
    throttle_error="Throttling",
    internal_error="InternalFailure",
    tables=_tables,
)

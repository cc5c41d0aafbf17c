"""Installs STS (and IAM's "not emulated" answer) on a runtime. STS has no scenario section of
its own: roles are declared on promotions clients (`promotions.clients[].role`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mocksrv.services.sts.config import parse

if TYPE_CHECKING:
    from mocksrv.runtime import Runtime
    from mocksrv.scenario.model import Problems, ScenarioModel

SCHEMAS: dict[str, Any] = {}


def check(model: ScenarioModel, problems: Problems) -> None:
    parse(model, problems)


def install(runtime: Runtime) -> None:
    from mocksrv.services.common import parse_or_raise, verify_policy
    from mocksrv.services.sts.models import SessionStore
    from mocksrv.services.sts.routes import IamService, StsService

    config = parse_or_raise(runtime, parse)
    store = SessionStore(config)
    runtime.stores["sts"] = store
    # the keyring finds session keys (ASIA...) in whichever store is current: a keep-state
    # switch carries the store over to the new runtime
    runtime.keyring.add_source(lambda key: runtime.stores["sts"].identity(key))
    runtime.add_service(StsService(store, verify_policy(runtime, "sts", "sts")))
    runtime.add_service(IamService(store, verify_policy(runtime, "iam", "sts")))

"""Per-app runtime: the loaded scenario, clock, keyring, services and stores, swappable whole."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from mocksrv import sigv4
from mocksrv.clock import ScenarioClock
from mocksrv.faults import NoFaults
from mocksrv.http import Response
from mocksrv.scenario.loader import Scenario
from mocksrv.scenario.model import ScenarioModel
from mocksrv.settings import Settings
from mocksrv.state.engine import MEMORY, Engine
from mocksrv.state.install import Versions

if TYPE_CHECKING:
    from mocksrv.api import Store
    from mocksrv.call import Call
    from mocksrv.registry import Registry

log = logging.getLogger("mocksrv")


class Service(Protocol):
    """What every emulated API provides to the dispatcher."""

    @property
    def api(self) -> str:
        """The registered name of its API ("prime", "agcod", "promotions", "sts")."""
        ...

    @property
    def scope(self) -> str | None:
        """The SigV4 service of the credential scope it serves."""
        ...

    def claims(self, call: Call) -> bool:
        """True if the path alone identifies this API (checked before the scope)."""
        ...

    def describe(self, url: str) -> list[str]:
        """Its lines of the start-up banner's endpoints."""
        ...

    def rate_limits(self) -> list[str]:
        """Its active rate limits, a line each, for the banners."""
        ...

    def __call__(self, call: Call) -> Response: ...


class Runtime:
    """Everything one loaded scenario set needs at request time; built once, read per request."""

    def __init__(
        self,
        settings: Settings,
        scenarios: list[Scenario],
        model: ScenarioModel,
        *,
        registry: Registry,
        clock: ScenarioClock | None = None,
        engine: Engine = MEMORY,
        tenant: str = "",
    ) -> None:
        self.settings = settings
        self.scenarios = scenarios
        self.model = model
        self.registry = registry  # the registered APIs (mocksrv.registry), for the toolkit
        self.engine = engine  # where the stores keep their data (mocksrv.state)
        self.tenant = tenant
        # a tenant's credentials (identity name -> access key, secret), None: the scenario's
        self.keys: dict[str, tuple[str, str]] | None = None
        # the versions of the shared control this runtime was built or brought up to
        self.versions = Versions(0, 0, 0)
        # a keep-state switch hands the clock over whole: it is state, like the stores
        self.clock = clock or ScenarioClock(
            model.clock_start, frozen=model.clock_frozen, wall=engine.shared
        )
        self.keyring = sigv4.Keyring(model.identities)
        self.services: list[Service] = []
        self.by_scope: dict[str, Service] = {}
        self.fallback: Service | None = None
        self.admin: Callable[..., Any] | None = None
        self.transport_fault: Callable[..., Any] | None = None
        self.recorders: list[Callable[[Call], None]] = []
        self.faults: Any = NoFaults()
        self.stores: dict[str, Store] = {}  # each API's store (its data), by API name
        # what else a SQL engine keeps for this runtime (the toolkit's journal and specs)
        self.parts: dict[str, Any] = {}

    @property
    def sigv4_debug(self) -> bool:
        if self.settings.sigv4_debug is not None:
            return self.settings.sigv4_debug
        return self.model.sigv4_debug

    def token_buckets(self, api: str) -> Any:
        """The rate limiter an API's service takes tokens from: this process's, or (a SQL
        state) the engine's, shared by every process."""
        if self.engine.shared:
            from mocksrv.state.buckets import SqlTokenBuckets

            return SqlTokenBuckets(self.engine, self.tenant, api, self.clock)
        from mocksrv.ratelimit import TokenBuckets

        return TokenBuckets(self.clock)

    def add_service(self, service: Service, *, fallback: bool = False) -> None:
        self.services.append(service)
        if service.scope:
            self.by_scope[service.scope] = service
        if fallback:
            self.fallback = service

    def route(self, call: Call) -> Callable[[Call], Response]:
        for service in self.services:
            if service.claims(call):
                return service
        scope = sigv4.credential_service(call.headers.get("authorization"), call.query())
        if scope and scope in self.by_scope:
            return self.by_scope[scope]
        return self.fallback or not_found

    def record(self, call: Call) -> None:
        for recorder in self.recorders:
            recorder(call)

    def log_signature_debug(self, call: Call, failure: sigv4.SigV4Failure) -> None:
        log.warning(
            "signature mismatch on %s %s\n--- canonical request ---\n%s\n--- string to sign ---\n%s",
            call.method,
            call.raw_path,
            failure.debug.get("canonicalRequest", ""),
            failure.debug.get("stringToSign", ""),
        )

    def start(self) -> None:
        """Start what the stores run in the background (the promotions processor of a SQL
        engine), once the runtime's scenarios are the active ones; take the engine's faults and
        expectations added at run time."""
        for part in self.parts.values():
            part.reload()
        for store in self.stores.values():
            store.start()

    def close(self) -> None:
        """Close the stores this runtime still owns (those carried to a new one were handed
        over); services hold no resources."""
        for store in self.stores.values():
            store.close()


def not_found(call: Call) -> Response:
    return Response(
        b'{"message":"No mocksrv API serves this request"}',
        status=404,
        content_type="application/json",
    )

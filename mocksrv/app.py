"""The WSGI application factory: routes each request by SigV4 scope service, then by path."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from mocksrv import sigv4
from mocksrv.call import Call
from mocksrv.http import PARKS, Response
from mocksrv.registry import REGISTRY, Registry
from mocksrv.runtime import Runtime
from mocksrv.scenario.loader import Scenario
from mocksrv.settings import Settings
from mocksrv.slot import Slot
from mocksrv.state.engine import MEMORY, Engine
from mocksrv.state.turn import Turn
from mocksrv.tenants import Tenants

log = logging.getLogger("mocksrv")

StartResponse = Callable[..., Any]
DASHBOARD = "/__admin/dashboard"
ROUTED = "mocksrv.routed"  # the environ key of the `inline` hook's (runtime, call, service)
PROBES = ("/health", "/ready", "/metrics", "/metrics/traffic")  # admin reads without a barrier


def _routed(environ: dict[str, Any], runtime: Runtime) -> tuple[Call, Any] | None:
    """The call and its service, if the service answers it on the event loop."""
    call = Call.from_environ(environ, runtime)
    handler = runtime.route(call)
    inline = getattr(handler, "inline", None)
    return (call, handler) if inline is not None and inline(call) else None


def _wants_dashboard(environ: dict[str, Any]) -> bool:
    """A browser opening the server: GET / asking for HTML, neither signed nor presigned (S3's
    ListBuckets is a signed GET /, and S3 clients do not ask for text/html)."""
    return (
        environ.get("REQUEST_METHOD") == "GET"
        and "text/html" in environ.get("HTTP_ACCEPT", "")
        and not environ.get("HTTP_AUTHORIZATION")
        and not any(k in environ.get("QUERY_STRING", "") for k in ("X-Amz-", "AWSAccessKeyId"))
    )


class MocksrvApp:
    """One WSGI app serving every API for every tenant; each tenant's state lives in a Runtime
    (held by its `Slot`) that can be swapped whole. `slot` is the default tenant's."""

    def __init__(self, runtime: Runtime) -> None:
        self.slot = Slot(runtime)
        self.tenants = Tenants(self.slot)

    @property
    def runtime(self) -> Runtime:
        return self.slot.runtime

    def replace_runtime(self, runtime: Runtime) -> Runtime:
        return self.slot.replace_runtime(runtime)

    def current(self) -> Runtime:
        return self.slot.current() or self.slot.runtime

    def body_cap(self, environ: dict[str, Any]) -> int:
        """The HTTP server's hook: the most body bytes to read for a request, from its head's
        environ alone (method, path, headers): the admin API's cap under /__admin, else the cap
        of the API the request routes to. A body over it is not read; the request then comes
        with the refusal marked, and the API answers it in its own shape."""
        runtime = (self._slot_of(environ) or self.slot).runtime
        if environ.get("PATH_INFO", "").startswith("/__admin") and runtime.admin is not None:
            return int(getattr(runtime.admin, "max_body", runtime.settings.max_body_bytes))
        call = Call.from_environ(environ, runtime)
        cap = getattr(runtime.route(call), "body_cap", None)
        return int(cap(call)) if cap is not None else runtime.settings.max_body_bytes

    def inline(self, environ: dict[str, Any]) -> bool:
        """The HTTP server's hook: may this request be answered on the server's event loop,
        without a hand-off to a worker thread? Only a signed call whose service says its work
        is short and never waits (`ApiService.inline`), and only while its tenant has no faults
        (a latency fault sleeps). The call and its service are kept in the environ for
        `__call__`, which is next."""
        path = environ.get("PATH_INFO", "")
        if path.startswith("/__admin") or "HTTP_AUTHORIZATION" not in environ:
            return False
        slot = self._slot_of(environ, path)
        if slot is None:
            return False
        # the runtime as this process last saw it tells whether the call is one to answer
        # here; only then is it brought up to date (on PostgreSQL a query: a call answered by
        # a worker, which brings it up to date itself, is spared it)
        seen = slot.runtime
        routed = _routed(environ, seen)
        if routed is None:
            return False
        runtime = slot.current() if seen.engine.shared else seen
        if runtime is None or runtime.faults.items:
            return False
        if runtime is not seen:  # another scenario now: its own services decide
            routed = _routed(environ, runtime)
            if routed is None:
                return False
        call, handler = routed
        environ[ROUTED] = (runtime, call, handler)
        if runtime.engine.turn is not None and getattr(handler, "writes", bool)(call):
            environ[PARKS] = True  # its write step waits for the turn's transaction
        return True

    @property
    def turn(self) -> Turn | None:
        """The HTTP server's hook for its loop's requests: on SQLite their write steps share a
        transaction per turn of the loop (`mocksrv.state.turn`); None otherwise."""
        return self.slot.runtime.engine.turn

    def tick(self) -> None:
        """The HTTP server's hook after each turn of its loop: the state's bookkeeping queued
        for a while is committed there (`mocksrv.state.later`)."""
        later = self.slot.runtime.engine.later
        if later is not None:
            later.tick()

    def _slot_of(self, environ: dict[str, Any], path: str | None = None) -> Slot | None:
        """The tenant a request is for: named in an admin path (`/__admin/tenants/{id}/...`) or
        an unsigned request's `tenant` query parameter, else found by the access key it is
        signed with; the default tenant's otherwise. None: an admin path names a tenant there is
        none of (answered 404, never served by another tenant)."""
        tenants = self.tenants
        if path is None:
            path = environ.get("PATH_INFO", "")
        if path.startswith(TENANT_ADMIN):
            if path.count("/") < 4:  # /__admin/tenants/{id}: the tenant itself (default's API)
                return self.slot
            return tenants.get(path[len(TENANT_ADMIN) :].split("/", 1)[0])
        query = environ.get("QUERY_STRING", "")
        if not tenants.count and not self.slot.runtime.engine.shared and "tenant=" not in query:
            return self.slot  # no tenant: every request is the default tenant's
        key = signing_key(environ)
        if key:
            return tenants.by_key(key) or self.slot
        named = tenant_param(query)
        return tenants.get(named) if named else self.slot  # a tenant there is none of: 404

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if ROUTED in environ:  # the `inline` hook found the tenant, call and service just now
            runtime, call, handler = environ.pop(ROUTED)
            return self._answer(runtime, call, handler, environ, start_response)
        path = environ.get("PATH_INFO", "")
        slot = self._slot_of(environ, path)
        if slot is None:
            return _no_tenant(environ, start_response)
        runtime = slot.runtime
        if runtime.engine.shared:
            current = slot.current()
            if current is None:  # deleted by another process just now: its keys are unknown
                slot, current = self.slot, self.current()
            runtime = current
        if path.startswith("/__admin") and runtime.admin is not None:
            if runtime.engine.later is not None and not path.endswith(PROBES):
                runtime.engine.settle()  # every process's journal rows committed: reads see them
            environ["mocksrv.app"] = slot  # the admin API swaps runtimes (reset, scenarios)
            environ["mocksrv.tenants"] = self.tenants
            return runtime.admin(environ, start_response)
        if path == "/" and runtime.admin is not None and _wants_dashboard(environ):
            start_response("302 Found", [("Location", DASHBOARD), ("Content-Length", "0")])
            return [b""]
        call = Call.from_environ(environ, runtime)
        return self._answer(runtime, call, runtime.route(call), environ, start_response)

    def _answer(
        self,
        runtime: Runtime,
        call: Call,
        handler: Callable[[Call], Response],
        environ: dict[str, Any],
        start_response: StartResponse,
    ) -> Iterable[bytes]:
        """An API call's answer from its service, recorded (journal, metrics, request log)."""
        try:
            response = handler(call)
        except Exception:  # last resort: never a traceback on the wire
            log.exception("unhandled error in %s %s", call.method, call.path)
            call.outcome = "InternalError"
            response = Response(
                b'{"message":"mocksrv internal error; see the server log"}',
                status=500,
                content_type="application/json",
            )
        call.finish(response)
        runtime.record(call)
        if call.runtime.transport_fault is not None:
            wrapped = call.runtime.transport_fault(call, response, environ, start_response)
            if wrapped is not None:
                return wrapped
        return response(environ, start_response)


TENANT_ADMIN = "/__admin/tenants/"


def _no_tenant(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """The 404 for a request naming no tenant there is (its admin path, or the `tenant`
    parameter of an unsigned request such as the landing page's): nothing of any tenant runs,
    in the admin API's (and the landing page's) error shape."""
    import json

    path = environ.get("PATH_INFO", "")
    if path.startswith(TENANT_ADMIN):
        tenant_id = path[len(TENANT_ADMIN) :].split("/", 1)[0]
    else:
        tenant_id = tenant_param(environ.get("QUERY_STRING", ""))
    body = json.dumps(
        {"error": {"code": "NotFound", "message": f"no tenant {tenant_id[:80]!r}"}}, indent=2
    )
    return Response(body + "\n", status=404, content_type="application/json")(
        environ, start_response
    )


def signing_key(environ: dict[str, Any]) -> str:
    """The access key id a request is signed with (SigV4 header or presigned URL), or ""."""
    header = environ.get("HTTP_AUTHORIZATION", "")
    start = header.find("Credential=")
    if start >= 0:
        return str(header[start + 11 : header.find("/", start)])
    query = environ.get("QUERY_STRING", "")
    start = query.find("X-Amz-Credential=")
    if start >= 0:
        return str(query[start + 17 :].split("%2F", 1)[0].split("/", 1)[0])
    return ""


def tenant_param(query: str) -> str:
    """The `tenant` query parameter of an unsigned request (the landing page's), or ""."""
    if "tenant=" not in query:
        return ""
    from urllib.parse import parse_qs

    return parse_qs(query).get("tenant", [""])[0]


def create_app(
    settings: Settings | None = None,
    scenarios: list[Scenario] | None = None,
    state: Engine | None = None,
    *,
    registry: Registry = REGISTRY,
    install: bool = True,
    start: bool = True,
) -> MocksrvApp:
    """Application factory: tests pass their own settings and scenarios (and a state engine,
    or a registry with an API of their own).

    On a shared engine `install` makes `scenarios` the active ones (the state of each API whose
    scenario section is unchanged is kept); a worker process of a server that installed them
    already passes False and runs what the engine says is active. `start=False` leaves the
    runtime's background work (the promotions processor) unstarted: a supervisor about to fork."""
    settings = settings or Settings()
    engine = state or MEMORY
    if not engine.shared:
        runtime = registry.build(settings, scenarios, engine)
        if start:
            runtime.start()
        return MocksrvApp(runtime)
    from mocksrv.state import install as control

    control.prepare(engine, registry.tables())
    if not install:
        scenarios = control.stored_scenarios(engine, "") or scenarios
    runtime = registry.build(settings, scenarios, engine)
    if install:
        outcome = control.install(runtime)
        log.info(
            "state %s: %s", engine.describe(), ", ".join(f"{a} {o}" for a, o in outcome.items())
        )
    else:
        runtime.versions = control.versions(engine, "") or runtime.versions
        clock = control.stored_clock(engine, "")
        if clock is not None:
            runtime.clock.load(clock)
    if start:
        runtime.start()
    return MocksrvApp(runtime)


__all__ = ["MocksrvApp", "create_app", "sigv4"]

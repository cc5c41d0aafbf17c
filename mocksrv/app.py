"""The WSGI application factory: routes each request by SigV4 scope service, then by path."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from mocksrv import sigv4
from mocksrv.call import Call
from mocksrv.http import Response
from mocksrv.registry import REGISTRY, Registry
from mocksrv.runtime import Runtime
from mocksrv.scenario.loader import Scenario
from mocksrv.settings import Settings
from mocksrv.state.engine import MEMORY, Engine

log = logging.getLogger("mocksrv")

StartResponse = Callable[..., Any]
DASHBOARD = "/__admin/dashboard"


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
    """One WSGI app serving every API; its state lives in a Runtime that can be swapped whole."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._swap_lock = threading.Lock()

    @property
    def runtime(self) -> Runtime:
        return self._runtime

    def body_cap(self, environ: dict[str, Any]) -> int:
        """The HTTP server's hook: the most body bytes to read for a request, from its head's
        environ alone (method, path, headers): the admin API's cap under /__admin, else the cap
        of the API the request routes to. A body over it is not read; the request then comes
        with the refusal marked, and the API answers it in its own shape."""
        runtime = self._runtime
        if environ.get("PATH_INFO", "").startswith("/__admin") and runtime.admin is not None:
            return int(getattr(runtime.admin, "max_body", runtime.settings.max_body_bytes))
        call = Call.from_environ(environ, runtime)
        cap = getattr(runtime.route(call), "body_cap", None)
        return int(cap(call)) if cap is not None else runtime.settings.max_body_bytes

    def replace_runtime(self, runtime: Runtime) -> Runtime:
        with self._swap_lock:
            old, self._runtime = self._runtime, runtime
        old.close()
        return old

    _seen: int | None = None  # the SQLite control signal's `done` this process caught up with

    def current(self) -> Runtime:
        """The runtime, brought up to date with a shared engine's control: other scenarios
        (built again from the texts the engine keeps), a moved clock, faults or expectations
        changed by another process. On SQLite the engine's control signal says, from one read
        of memory shared by every process, whether the control changed since the last look (a
        query only then); on PostgreSQL each request reads the control row."""
        runtime = self._runtime
        if not runtime.engine.shared:
            return runtime
        signal = runtime.engine.signal
        if signal is None:
            return self._follow(runtime)[0]
        done = signal.done()
        begun = signal.begun()  # read after `done`: a change begun since shows as in flight
        if done == self._seen and begun == done:
            return runtime  # `begun` too: a process killed between a commit and its `end`
        runtime, read = self._follow(runtime)
        if begun != done:  # a change in flight, or one whose process died: look again next time
            signal.settle()
        elif read:
            self._seen = done
        return runtime

    def _follow(self, runtime: Runtime) -> tuple[Runtime, bool]:
        """Read the control row and follow it; (the runtime, whether the row was read)."""
        from mocksrv.state.engine import StoreError
        from mocksrv.state.install import versions

        try:
            found = versions(runtime.engine, runtime.tenant)
        except StoreError:
            return runtime, False  # the engine is unreachable: the request's own step says so
        if found is None or found == runtime.versions:
            return runtime, True
        with self._swap_lock:
            runtime = self._runtime
            if found.generation != runtime.versions.generation:
                return self._rebuild(runtime, found), True
            if found.clock != runtime.versions.clock:
                from mocksrv.state.install import stored_clock

                state = stored_clock(runtime.engine, runtime.tenant)
                if state is not None:
                    runtime.clock.load(state)
            if found.kit != runtime.versions.kit:
                for part in runtime.parts.values():
                    part.reload()
            runtime.versions = found
            return runtime, True

    def _rebuild(self, old: Runtime, found: Any) -> Runtime:
        """Another process made other scenarios active: this runtime is built on them (lock
        held)."""
        from mocksrv.state.install import stored_clock, stored_scenarios

        scenarios = stored_scenarios(old.engine, old.tenant) or old.scenarios
        new = old.registry.build(old.settings, scenarios, old.engine, tenant=old.tenant)
        state = stored_clock(old.engine, old.tenant)
        if state is not None:
            new.clock.load(state)
        new.versions = found
        new.start()
        self._runtime = new
        old.close()
        return new

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        runtime = self._runtime
        if runtime.engine.shared:
            runtime = self.current()
        path = environ.get("PATH_INFO", "")
        if path.startswith("/__admin") and runtime.admin is not None:
            environ["mocksrv.app"] = self  # the admin API swaps runtimes (reset, scenarios)
            return runtime.admin(environ, start_response)
        if path == "/" and runtime.admin is not None and _wants_dashboard(environ):
            start_response("302 Found", [("Location", DASHBOARD), ("Content-Length", "0")])
            return [b""]
        call = Call.from_environ(environ, runtime)
        handler = runtime.route(call)
        try:
            response = handler(call)
        except Exception:  # last resort: never a traceback on the wire
            log.exception("unhandled error in %s %s", call.method, path)
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

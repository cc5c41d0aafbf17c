"""One tenant's runtime, held so it can be swapped whole (a reset, a scenario switch) and kept up
to date with a shared engine's control (the default tenant's slot is the app's)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mocksrv.runtime import Runtime


class Slot:
    """`runtime` is the tenant's current runtime; the admin API swaps it (`replace_runtime`)."""

    def __init__(self, runtime: Runtime, tenant: Any = None) -> None:
        self.runtime = runtime  # a plain attribute: read on every request
        self._swap_lock = threading.Lock()
        self.tenant = tenant  # the Tenant record (None: the default tenant)

    def replace_runtime(self, runtime: Runtime) -> Runtime:
        with self._swap_lock:
            old, self.runtime = self.runtime, runtime
        old.close()
        return old

    def current(self) -> Runtime | None:
        """The runtime, brought up to date with a shared engine's control: other scenarios
        (built again from what the engine keeps), a moved clock, faults or expectations changed
        by another process. One small read per request on a SQL engine; None when the engine
        no longer has this tenant (another process deleted it)."""
        runtime = self.runtime
        if not runtime.engine.shared:
            return runtime
        from mocksrv.state.engine import StoreError
        from mocksrv.state.install import versions

        try:
            found = versions(runtime.engine, runtime.tenant)
        except StoreError:
            return runtime  # the engine is unreachable: the request's own step will say so
        if found is None:
            return None if runtime.tenant else runtime
        if found == runtime.versions:
            return runtime
        with self._swap_lock:
            runtime = self.runtime
            if found.generation != runtime.versions.generation:
                return self._rebuild(runtime, found)
            if found.clock != runtime.versions.clock:
                from mocksrv.state.install import stored_clock

                state = stored_clock(runtime.engine, runtime.tenant)
                if state is not None:
                    runtime.clock.load(state)
            if found.kit != runtime.versions.kit:
                for part in runtime.parts.values():
                    part.reload()
            runtime.versions = found
            return runtime

    def _rebuild(self, old: Runtime, found: Any) -> Runtime:
        """Another process made other scenarios active: this runtime is built on them (lock
        held)."""
        from mocksrv.state.install import stored_clock, stored_scenarios

        scenarios = stored_scenarios(old.engine, old.tenant) or old.scenarios
        new = old.registry.build(
            old.settings, scenarios, old.engine, tenant=old.tenant, keys=old.keys
        )
        state = stored_clock(old.engine, old.tenant)
        if state is not None:
            new.clock.load(state)
        new.versions = found
        new.start()
        self.runtime = new
        old.close()
        return new

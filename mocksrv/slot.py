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

    _seen: int | None = None  # the SQLite control signal's `done` this slot caught up with

    def current(self) -> Runtime | None:
        """The runtime, brought up to date with a shared engine's control: other scenarios
        (built again from what the engine keeps), a moved clock, faults or expectations changed
        by another process; None when the engine no longer has this tenant (another process
        deleted it). On SQLite the engine's control signal says, from one read of memory shared
        by every process, whether any tenant's control changed since this slot last looked (a
        query only then); on PostgreSQL each request reads the control row. The signal is one
        for the whole state, so each tenant's slot keeps its own `_seen`."""
        runtime = self.runtime
        if not runtime.engine.shared:
            return runtime
        signal = runtime.engine.signal
        if signal is None:
            return self._follow(runtime)[0]
        done = signal.done()
        begun = signal.begun()  # read after `done`: a change begun since shows as in flight
        if done == self._seen and begun == done:
            return runtime  # `begun` too: a process killed between a commit and its `end`
        found, read = self._follow(runtime)
        if begun != done:  # a change in flight, or one whose process died: look again next time
            signal.settle()
        elif read and found is not None:
            self._seen = done
        return found

    def _follow(self, runtime: Runtime) -> tuple[Runtime | None, bool]:
        """Read the control row and follow it; (the runtime or None for a deleted tenant,
        whether the row was read)."""
        from mocksrv.state.engine import StoreError
        from mocksrv.state.install import versions

        try:
            found = versions(runtime.engine, runtime.tenant)
        except StoreError:
            return runtime, False  # the engine is unreachable: the request's own step says so
        if found is None:
            return (None if runtime.tenant else runtime), True
        if found == runtime.versions:
            return runtime, True
        with self._swap_lock:
            runtime = self.runtime
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

"""Tenants: sandboxes of their own on one server. A tenant is an isolated copy of everything a
client can see or change (credentials, cards and funds, Prime uses, buckets and objects, inventory,
reports, STS sessions, journal, expectations, faults, clock, rate limits) built from its own
scenario, with fresh access keys and secrets for every identity; requests find their tenant by
the access key they are signed with. The default tenant (id "") is what a server without tenants
has.

On a SQL state the tenants are rows (their scenarios and keys) every process reads, and each
tenant's data carries its id; in memory they live in this process.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mocksrv.credentials import tenant_tag
from mocksrv.errors import TenantError
from mocksrv.slot import Slot

if TYPE_CHECKING:
    from mocksrv.runtime import Runtime
    from mocksrv.scenario.loader import Scenario

_KEY_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"


@dataclass
class Tenant:
    id: str
    name: str
    created: float  # wall-clock seconds
    expires: float | None
    sources: list[str]  # where its scenarios came from (names, files, "<admin>/...")
    keys: dict[str, tuple[str, str]] = field(repr=False)  # identity name -> (key, secret)

    def expired(self, now: float) -> bool:
        return self.expires is not None and now >= self.expires


def new_keys(runtime: Runtime) -> dict[str, tuple[str, str]]:
    """Fresh credentials for every identity of a scenario (AWS's shapes: `AKIA` and 16
    characters; 40 characters of secret)."""
    out = {}
    for ident in runtime.model.identities:
        key = "AKIA" + "".join(_KEY_CHARS[b % 32] for b in os.urandom(16))
        secret = base64.b64encode(os.urandom(30)).decode()
        out[ident.name] = (key, secret)
    return out


def new_id() -> str:
    return "t-" + "".join(secrets.choice(_ID_CHARS) for _ in range(12))


class Tenants:
    """The tenants of one app: made, found by key or id, deleted, expired; kept in the engine
    when it is shared (then every process sees the same ones)."""

    def __init__(self, default: Slot) -> None:
        self.default = default
        self._lock = threading.RLock()
        self._slots: dict[str, Slot] = {}  # by tenant id
        self._by_key: dict[str, str] = {}  # access key -> tenant id
        self._by_tag: dict[str, str] = {}  # the tag in its session keys (ASIA...) -> tenant id
        self._version = -1  # the engine's tenant_index version this process has loaded
        self.count = 0  # tenants known here (0: every request is the default tenant's)

    @property
    def engine(self) -> Any:
        return self.default.runtime.engine

    # -- finding -------------------------------------------------------------------------------

    def by_key(self, access_key: str) -> Slot | None:
        """The tenant whose identity (or STS session) signs with `access_key`; None: the
        default tenant's (or no tenant's: the API answers an unknown key)."""
        index = self._by_tag if access_key.startswith("ASIA") else self._by_key
        probe = access_key[4:10] if access_key.startswith("ASIA") else access_key
        tenant_id = index.get(probe)
        if tenant_id is None and self.engine.shared and not self._default_key(access_key):
            self.refresh()  # another process may have made it
            tenant_id = index.get(probe)
        return self.get(tenant_id) if tenant_id is not None else None

    def _default_key(self, access_key: str) -> bool:
        if access_key.startswith("ASIA"):
            return access_key[4:10] == tenant_tag("")
        return self.default.runtime.keyring.get(access_key) is not None

    def get(self, tenant_id: str) -> Slot | None:
        """The tenant's slot (its runtime built on first use); None if there is none or it
        expired (then it is deleted)."""
        with self._lock:
            slot = self._slots.get(tenant_id)
        if slot is None and self.engine.shared:
            self.refresh()
            with self._lock:
                slot = self._slots.get(tenant_id)
        if slot is None:
            return None
        if slot.tenant.expired(time.time()):
            self.delete(tenant_id)
            return None
        return slot

    def all(self) -> list[Tenant]:
        if self.engine.shared:
            self.refresh()
        now = time.time()
        with self._lock:
            found = [s.tenant for s in self._slots.values()]
        for tenant in [t for t in found if t.expired(now)]:
            self.delete(tenant.id)
        return [t for t in found if not t.expired(now)]

    # -- making and deleting -------------------------------------------------------------------

    def create(
        self, scenarios: list[Scenario], name: str, ttl: float | None, limit: int
    ) -> tuple[Tenant, Runtime]:
        """A tenant on `scenarios` (checked already) with fresh keys; TenantError at the limit."""
        self.all()  # expired ones do not count
        with self._lock:
            if len(self._slots) >= limit:
                raise TenantError(
                    409, "TenantLimitReached",
                    f"this server holds {limit} tenants at most (--max-tenants); delete one first",
                )  # fmt: skip
            default = self.default.runtime
            tenant_id = new_id()
            probe = default.registry.build(default.settings, scenarios, tenant=tenant_id)
            keys = new_keys(probe)
            probe.close()
            now = time.time()
            tenant = Tenant(tenant_id, name, now, now + ttl if ttl else None,
                            [s.source for s in scenarios], keys)  # fmt: skip
            runtime = self._build(tenant, scenarios)
            if self.engine.shared:
                self._store(tenant, runtime)
            runtime.start()
            self._add(Slot(runtime, tenant))
        return tenant, runtime

    def _build(self, tenant: Tenant, scenarios: list[Scenario]) -> Runtime:
        default = self.default.runtime
        return default.registry.build(
            default.settings, scenarios, default.engine, tenant=tenant.id, keys=tenant.keys
        )

    def _add(self, slot: Slot) -> None:
        tenant = slot.tenant
        self._slots[tenant.id] = slot
        for key, _ in tenant.keys.values():
            self._by_key[key] = tenant.id
        self._by_tag[tenant_tag(tenant.id)] = tenant.id
        self.count = len(self._slots)

    def delete(self, tenant_id: str) -> bool:
        """The tenant's runtime closed, its keys unknown from now on, its stored state gone."""
        with self._lock:
            slot = self._slots.pop(tenant_id, None)
            if slot is not None:
                self._drop_keys(slot.tenant)
            self.count = len(self._slots)
        if self.engine.shared:
            from mocksrv.state.install import forget

            forget(self.engine, tenant_id, self.default.runtime.registry.tables())
            self._bump()
        if slot is None:
            return False
        slot.runtime.close()
        self.engine.uncache(tenant_id)
        return True

    # -- a shared engine's rows ----------------------------------------------------------------

    def _store(self, tenant: Tenant, runtime: Runtime) -> None:
        from mocksrv.state.install import install

        install(runtime, keep=[], keep_clock=False, journal="clear", kit="clear")
        scenarios = json.dumps(
            [{"source": s.source, "data": s.data} for s in runtime.scenarios], default=str
        )
        with self.engine.write() as tx:
            tx.run(
                "INSERT INTO tenants VALUES (?, ?, ?, ?, ?, ?)",
                (tenant.id, tenant.name, tenant.created, tenant.expires, scenarios,
                 json.dumps({n: list(k) for n, k in tenant.keys.items()})),
            )  # fmt: skip
        self._bump()

    def _bump(self) -> None:
        with self.engine.write() as tx:
            tx.run(
                "INSERT INTO tenant_index VALUES (1, 1) ON CONFLICT (one) DO UPDATE "
                "SET version = tenant_index.version + 1"
            )

    def refresh(self) -> None:
        """Take the engine's list of tenants when it changed (made or deleted elsewhere)."""
        from mocksrv.scenario.loader import Scenario

        with self.engine.read() as tx:
            row = tx.one("SELECT version FROM tenant_index WHERE one=1")
            version = int(row[0]) if row else 0
            if version == self._version:
                return
            rows = tx.all("SELECT id, name, created, expires, scenarios, keys FROM tenants")
        with self._lock:
            seen = set()
            for tenant_id, name, created, expires, scenarios, keys in rows:
                seen.add(tenant_id)
                if tenant_id in self._slots:
                    continue
                tenant = Tenant(tenant_id, name, float(created),
                                float(expires) if expires is not None else None,
                                [s["source"] for s in json.loads(scenarios)],
                                {n: (k[0], k[1]) for n, k in json.loads(keys).items()})  # fmt: skip
                built = [Scenario(s["source"], s["data"]) for s in json.loads(scenarios)]
                runtime = self._build(tenant, built)
                from mocksrv.state.install import stored_clock, versions

                runtime.versions = versions(self.engine, tenant_id) or runtime.versions
                clock = stored_clock(self.engine, tenant_id)
                if clock is not None:
                    runtime.clock.load(clock)
                runtime.start()
                self._add(Slot(runtime, tenant))
            for gone in set(self._slots) - seen:  # deleted by another process
                slot = self._slots.pop(gone)
                self._drop_keys(slot.tenant)
                slot.runtime.close()
            self.count = len(self._slots)
            self._version = version

    def _drop_keys(self, tenant: Tenant) -> None:
        for key, _ in tenant.keys.values():
            self._by_key.pop(key, None)
        self._by_tag.pop(tenant_tag(tenant.id), None)

    def close(self) -> None:
        with self._lock:
            slots, self._slots = list(self._slots.values()), {}
            self._by_key.clear()
            self._by_tag.clear()
            self.count = 0
        for slot in slots:
            slot.runtime.close()

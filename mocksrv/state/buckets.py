"""Rate limits shared by every process of a SQL state: on SQLite a bucket in shared memory
(`mocksrv.state.rates`), else (PostgreSQL, or that table full) one token bucket row per key."""

from __future__ import annotations

import logging

from mocksrv.ratelimit import Clock, refill
from mocksrv.state.engine import Engine, Tx, retried

log = logging.getLogger("mocksrv")
_WARNED: set[str] = set()  # keys whose bucket went to the database (said once each)
TABLES = (
    "CREATE TABLE IF NOT EXISTS rate_buckets (tenant TEXT NOT NULL, name TEXT NOT NULL, "
    "tokens {real} NOT NULL, last {real} NOT NULL, PRIMARY KEY (tenant, name))",
)


class SqlTokenBuckets:
    """`TokenBuckets` over the engine: a take is one step on the key's row, committed before
    it is answered, so a limit holds across processes and replicas; on SQLite a take from the
    bucket in shared memory, under its lock, holds across the processes of the machine."""

    def __init__(self, engine: Engine, tenant: str, api: str, clock: Clock) -> None:
        self._engine = engine
        self._tenant = tenant
        self._api = api
        self._clock = clock

    def allow(self, key: object, rate: float, burst: float | None = None) -> bool:
        if rate <= 0:
            return True
        cap = burst if burst is not None else rate
        now = self._clock.seconds()
        name = f"{self._api}:{key}"
        rates = self._engine.rates
        if rates is not None:
            taken = rates.take(self._tenant, name, rate, cap, now)
            if taken is not None:
                return taken
            if name not in _WARNED and len(_WARNED) < 64:
                _WARNED.add(name)
                log.warning("state: the rate-limit table is full; %s counts in the database", name)

        def step(tx: Tx) -> bool:
            tx.bookkeeping()  # no fsync while the bucket's row is locked (PostgreSQL)
            row = tx.one(
                "SELECT tokens, last FROM rate_buckets WHERE tenant=? AND name=?{for_update}",
                (self._tenant, name),
            )
            found = (float(row[0]), float(row[1])) if row is not None else (cap, now)
            allowed, tokens, last = refill(*found, now, rate, cap)
            tx.run(
                "INSERT INTO rate_buckets VALUES (?, ?, ?, ?) ON CONFLICT (tenant, name) "
                "DO UPDATE SET tokens=excluded.tokens, last=excluded.last",
                (self._tenant, name, tokens, last),
            )
            return allowed

        return retried(self._engine, step)  # on SQLite, with other requests' (group commit)


def clear(engine: Engine, tx: Tx, tenant: str) -> None:
    """Every bucket of `tenant` gone: its limits start full again."""
    tx.run("DELETE FROM rate_buckets WHERE tenant=?", (tenant,))
    if engine.rates is not None:
        engine.rates.clear(tenant)

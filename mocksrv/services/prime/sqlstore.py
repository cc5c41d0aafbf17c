"""The Prime store on a SQL engine: one row per use (never a rewritten list), per pinned-reply
position, per call count and per auth code; each call one transaction (shared with other requests'
steps on SQLite: `mocksrv.state.batch`).

A use limit is checked and a use taken in the same transaction, under a lock on the code (SQLite
writes are serial; PostgreSQL takes an advisory lock), so no limit is ever granted twice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from mocksrv.api import StoreBase
from mocksrv.clock import later
from mocksrv.services import recorded
from mocksrv.services.prime.config import PrimeConfig
from mocksrv.services.prime.models import (
    SUCCESS,
    Reply,
    codes_of,
    count,
    new_auth_code,
    outcome,
    pinned,
    snapshot,
)
from mocksrv.state.engine import Engine, Tx, retried

TABLES = (
    "CREATE TABLE IF NOT EXISTS prime_uses (id {serial}, tenant TEXT NOT NULL, "
    "benefit TEXT NOT NULL, code TEXT NOT NULL, at {real} NOT NULL)",
    "CREATE INDEX IF NOT EXISTS prime_uses_code ON prime_uses (tenant, benefit, code, at)",
    "CREATE TABLE IF NOT EXISTS prime_replies (tenant TEXT NOT NULL, benefit TEXT NOT NULL, "
    "code TEXT NOT NULL, next {bigint} NOT NULL, PRIMARY KEY (tenant, benefit, code)){norowid}",
    "CREATE TABLE IF NOT EXISTS prime_calls (tenant TEXT NOT NULL, benefit TEXT NOT NULL, "
    "code TEXT NOT NULL, name TEXT NOT NULL, n {bigint} NOT NULL, "
    "PRIMARY KEY (tenant, benefit, code, name)){norowid}",
    "CREATE TABLE IF NOT EXISTS prime_auth (tenant TEXT NOT NULL, token TEXT NOT NULL, "
    "benefit TEXT NOT NULL, code TEXT NOT NULL, expires {real} NOT NULL, "
    "PRIMARY KEY (tenant, token)){norowid}",
)
_USED = (
    "SELECT count(*) FROM prime_uses WHERE tenant=? AND benefit=? AND code=? AND at >= ? "
    "AND at <= ?"
)
_COUNTED = (  # counters queued (`later.count`): each row's total added at once
    "INSERT INTO prime_calls VALUES {rows} ON CONFLICT (tenant, benefit, code, name) "
    "DO UPDATE SET n = prime_calls.n + excluded.n"
)
# the operation's count and its outcome's, in one statement (before the answer)
_COUNT = _COUNTED.format(rows="(?, ?, ?, ?, 1), (?, ?, ?, ?, 1)")


def _instant(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class SqlPrimeStore(StoreBase):
    """Prime's uses, reply positions, call counts and auth codes as rows of one tenant."""

    tables = TABLES

    def __init__(self, config: PrimeConfig, engine: Engine, tenant: str) -> None:
        self.config = config
        self.engine = engine
        self.tenant = tenant
        self._codes = codes_of(config)
        self.replays = recorded.SqlReplays(config.recorded, engine, tenant, "prime")

    def recorded_reply(self, key: tuple[str, ...]) -> recorded.Reply | None:
        """The next recorded reply (`prime.recorded`) for this request, if there is one."""
        return self.replays.next(key)

    def clear(self, tx: Tx) -> None:
        for table in ("prime_uses", "prime_replies", "prime_calls", "prime_auth"):
            tx.run(f"DELETE FROM {table} WHERE tenant=?", (self.tenant,))
        self.replays.clear(tx)

    def seed(self, tx: Tx) -> None:
        """The uses the scenario declares (`redemptions`)."""
        tx.many(
            "INSERT INTO prime_uses (tenant, benefit, code, at) VALUES (?, ?, ?, ?)",
            [
                (self.tenant, b, c, at.timestamp())
                for (b, c), oc in self._codes.items()
                for at in oc.redemptions
            ],
        )

    def _answer(self, tx: Tx, benefit: str, code: str, at: datetime, tz: ZoneInfo) -> Reply:
        found = self._codes.get((benefit, code))
        key = (self.tenant, benefit, code)
        if found is not None and found.replies:
            row = tx.one(
                "INSERT INTO prime_replies VALUES (?, ?, ?, 1) ON CONFLICT (tenant, benefit, code) "
                "DO UPDATE SET next = prime_replies.next + 1 RETURNING next",
                key,
            )
            reply = pinned(found, int(row[0]) - 1 if row else 0)
            assert reply is not None
            return reply

        return Reply(
            outcome(found, at, tz, lambda start: self._uses(tx, (benefit, code), start, at))
        )

    def _call(
        self, operation: str, benefit: str, code: str, at: datetime, tz: ZoneInfo
    ) -> tuple[Reply, str]:
        def step(tx: Tx) -> tuple[Reply, str]:
            tx.lock("prime", self.tenant, benefit, code)
            reply = self._answer(tx, benefit, code, at, tz)
            token = ""
            if reply.value == SUCCESS and operation == "redeem" and (benefit, code) in self._codes:
                tx.run(
                    "INSERT INTO prime_uses (tenant, benefit, code, at) VALUES (?, ?, ?, ?)",
                    (self.tenant, benefit, code, at.timestamp()),
                )
            if reply.value == SUCCESS and operation == "auth-code":
                token = new_auth_code()
                expires = later(at, self.config.auth_code_ttl).timestamp()
                tx.run(
                    "INSERT INTO prime_auth VALUES (?, ?, ?, ?, ?)",
                    (self.tenant, token, benefit, code, expires),
                )
            key = (self.tenant, benefit, code)
            tx.run(_COUNT, (*key, operation, *key, f"{operation}:{reply.value}"))
            return reply, token

        return retried(self.engine, step)  # on SQLite, with other requests' (group commit)

    def verify(self, benefit: str, code: str, at: datetime, tz: ZoneInfo) -> Reply:
        """A read, when the code has no pinned `replies` to step through: verify changes
        nothing but its call counters, which SQLite commits after the answer (`later`). The
        uses are read only for a code with a use limit (the rules ask for them last)."""
        later = self.engine.later
        key = (benefit, code)
        found = self._codes.get(key)
        if later is None or (found is not None and found.replies):
            return self._call("verify", benefit, code, at, tz)[0]
        reply = Reply(outcome(found, at, tz, lambda start: self._used(key, start, at)))
        later.count(_COUNTED, (self.tenant, benefit, code, "verify"),
                    (self.tenant, benefit, code, f"verify:{reply.value}"))  # fmt: skip
        return reply

    def _used(self, key: tuple[str, str], start: datetime | None, at: datetime) -> int:
        """The code's uses from `start` up to `at`, in a read of their own."""
        with self.engine.read() as tx:
            return self._uses(tx, key, start, at)

    def _uses(self, tx: Tx, key: tuple[str, str], start: datetime | None, at: datetime) -> int:
        """The code's uses from `start` (None: ever) up to `at`, in `tx`."""
        since = start.timestamp() if start is not None else float("-inf")
        row = tx.one(_USED, (self.tenant, *key, since, at.timestamp()))
        return int(row[0]) if row else 0

    def redeem(self, benefit: str, code: str, at: datetime, tz: ZoneInfo) -> Reply:
        return self._call("redeem", benefit, code, at, tz)[0]

    def auth_code(self, benefit: str, code: str, at: datetime, tz: ZoneInfo) -> tuple[Reply, str]:
        return self._call("auth-code", benefit, code, at, tz)

    def snapshot(self, now: datetime) -> dict[str, object]:
        t = (self.tenant,)
        uses: dict[tuple[str, str], list[datetime]] = {}
        calls: dict[tuple[str, str], dict[str, int]] = {}
        with self.engine.read() as tx:
            for b, c, at in tx.all("SELECT benefit, code, at FROM prime_uses WHERE tenant=?", t):
                uses.setdefault((b, c), []).append(_instant(at))
            replies = {
                (b, c): int(n)
                for b, c, n in tx.all(
                    "SELECT benefit, code, next FROM prime_replies WHERE tenant=?", t
                )
            }
            for b, c, name, n in tx.all(
                "SELECT benefit, code, name, n FROM prime_calls WHERE tenant=?", t
            ):
                calls.setdefault((b, c), {})[name] = int(n)
            auth = [
                (token, (b, c, _instant(e)))
                for token, b, c, e in tx.all(
                    "SELECT token, benefit, code, expires FROM prime_auth WHERE tenant=? "
                    "AND expires > ?",
                    (*t, now.timestamp()),
                )
            ]
        for stats in calls.values():  # the memory store's order: operation, then its outcome
            ordered = dict(sorted(stats.items(), key=lambda kv: (":" in kv[0], kv[0])))
            stats.clear()
            stats.update(ordered)
        out = snapshot(self._codes, uses, replies, calls, auth, now)
        if self.replays.table:
            out["recorded"] = self.replays.snapshot()
        return out


__all__ = ["SqlPrimeStore", "count"]

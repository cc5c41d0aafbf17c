"""Promo-code inventory on a SQL engine: a row per code, a row per member's assignment, and the
counts per pool kept beside them in the same transactions.

A landing claim takes the oldest available code of the pool and gives it to the member in one
transaction (PostgreSQL skips rows another claim holds; SQLite's writes are serial), and a member
is one row: two claims never give one code twice, nor one member two codes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mocksrv.services.promotions.inventory import (
    ASSIGNED,
    AVAILABLE,
    RECENT_ASSIGNMENTS,
    REDEEMED,
    Pool,
)
from mocksrv.state.engine import Conflict, Engine, Tx, retried

TABLES = (
    "CREATE TABLE IF NOT EXISTS promo_codes (tenant TEXT NOT NULL, env TEXT NOT NULL, "
    "promotion TEXT NOT NULL, code TEXT NOT NULL, state INTEGER NOT NULL, seq {bigint} NOT NULL, "
    "PRIMARY KEY (tenant, env, promotion, code)){norowid}",
    "CREATE INDEX IF NOT EXISTS promo_codes_next ON promo_codes (tenant, env, promotion, state, "
    "seq)",
    "CREATE TABLE IF NOT EXISTS promo_members (tenant TEXT NOT NULL, env TEXT NOT NULL, "
    "promotion TEXT NOT NULL, member TEXT NOT NULL, code TEXT NOT NULL, at {bigint} NOT NULL, "
    "PRIMARY KEY (tenant, env, promotion, member)){norowid}",
    "CREATE TABLE IF NOT EXISTS promo_counts (tenant TEXT NOT NULL, env TEXT NOT NULL, "
    "promotion TEXT NOT NULL, available {bigint} NOT NULL, assigned {bigint} NOT NULL, "
    "redeemed {bigint} NOT NULL, members {bigint} NOT NULL, next_seq {bigint} NOT NULL, "
    "PRIMARY KEY (tenant, env, promotion)){norowid}",
)
_COUNTS = (
    "SELECT available, assigned, redeemed, members, next_seq FROM promo_counts "
    "WHERE tenant=? AND env=? AND promotion=?"
)


class SqlInventory:
    """The pools of one tenant."""

    def __init__(self, engine: Engine, tenant: str) -> None:
        self.engine = engine
        self.tenant = tenant

    def clear(self, tx: Tx) -> None:
        for table in ("promo_codes", "promo_members", "promo_counts"):
            tx.run(f"DELETE FROM {table} WHERE tenant=?", (self.tenant,))

    def seed(self, tx: Tx, pools: Iterable[tuple[str, str, list[str]]]) -> None:
        """Every configured pool, with the codes the scenario preloads."""
        for env, promotion, codes in pools:
            tx.run(
                "INSERT INTO promo_counts VALUES (?, ?, ?, 0, 0, 0, 0, 0) ON CONFLICT DO NOTHING",
                (self.tenant, env, promotion),
            )
            self.add_new(tx, env, promotion, codes)

    # -- the pipeline's commit -----------------------------------------------------------------

    def load(self, env: str, promotion: str) -> Pool:
        """A pool as the pipeline checks a file against it: each code's state (no queue)."""
        pool = Pool(name=f"{env}|{promotion}")
        with self.engine.read() as tx:
            rows = tx.all(
                "SELECT code, state FROM promo_codes WHERE tenant=? AND env=? AND promotion=?",
                (self.tenant, env, promotion),
            )
            counts = tx.one(_COUNTS, (self.tenant, env, promotion))
        pool.state = dict(rows)
        if counts is not None:
            pool.counts = [int(counts[0]), int(counts[1]), int(counts[2])]
        return pool

    def add_new(self, tx: Tx, env: str, promotion: str, codes: list[str]) -> None:
        """Accepted new codes become available, in upload order."""
        if not codes:
            return
        key = (self.tenant, env, promotion)
        row = tx.one(_COUNTS + "{for_update}", key)
        first = int(row[4]) if row is not None else 0
        tx.many(
            "INSERT INTO promo_codes VALUES (?, ?, ?, ?, ?, ?)",
            ((*key, code, AVAILABLE, first + i) for i, code in enumerate(codes)),
        )
        tx.run(
            "INSERT INTO promo_counts VALUES (?, ?, ?, ?, 0, 0, 0, ?) ON CONFLICT "
            "(tenant, env, promotion) DO UPDATE SET available = promo_counts.available + "
            "excluded.available, next_seq = excluded.next_seq",
            (*key, len(codes), first + len(codes)),
        )

    def mark_redeemed(self, tx: Tx, env: str, promotion: str, codes: Iterable[str]) -> None:
        """Accepted redeemed codes leave whatever state they were in (as of this commit)."""
        key = (self.tenant, env, promotion)
        moved = [0, 0]  # from available, from assigned
        for code in codes:
            row = tx.one(
                "SELECT state FROM promo_codes WHERE tenant=? AND env=? AND promotion=? "
                "AND code=?{for_update}",
                (*key, code),
            )
            if row is None or row[0] == REDEEMED:
                continue
            tx.run(
                "UPDATE promo_codes SET state=? WHERE tenant=? AND env=? AND promotion=? AND code=?",
                (REDEEMED, *key, code),
            )
            moved[0 if row[0] == AVAILABLE else 1] += 1
        tx.run(
            "UPDATE promo_counts SET available = available - ?, assigned = assigned - ?, "
            "redeemed = redeemed + ? WHERE tenant=? AND env=? AND promotion=?",
            (moved[0], moved[1], sum(moved), *key),
        )

    # -- the landing page ----------------------------------------------------------------------

    def claim(self, env: str, promotion: str, member: str) -> tuple[str | None, bool]:
        """The member's code: the one given before, else the oldest available. (code, is_new)"""
        key = (self.tenant, env, promotion)

        def step(tx: Tx) -> tuple[str | None, bool]:
            row = tx.one(
                "SELECT code FROM promo_members WHERE tenant=? AND env=? AND promotion=? "
                "AND member=?",
                (*key, member),
            )
            if row is not None:
                return str(row[0]), False
            row = tx.one(
                "SELECT code FROM promo_codes WHERE tenant=? AND env=? AND promotion=? AND "
                "state=? ORDER BY seq LIMIT 1{skip_locked}",
                (*key, AVAILABLE),
            )
            if row is None:
                return None, False
            code = str(row[0])
            taken = tx.run(
                "UPDATE promo_codes SET state=? WHERE tenant=? AND env=? AND promotion=? "
                "AND code=? AND state=?",
                (ASSIGNED, *key, code, AVAILABLE),
            )
            counts = tx.one(_COUNTS + "{for_update}", key)
            order = int(counts[3]) if counts is not None else 0
            added = tx.run(
                "INSERT INTO promo_members VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (*key, member, code, order),
            )
            if not taken or not added:
                raise Conflict(member)  # another claim won the code or the member: again
            tx.run(
                "UPDATE promo_counts SET available = available - 1, assigned = assigned + 1, "
                "members = members + 1 WHERE tenant=? AND env=? AND promotion=?",
                key,
            )
            return code, True

        return retried(self.engine, step)

    # -- views -------------------------------------------------------------------------------

    def summary(self, env: str, promotion: str, tx: Tx | None = None) -> dict[str, int]:
        if tx is None:
            with self.engine.read() as read:
                return self.summary(env, promotion, read)
        row = tx.one(_COUNTS, (self.tenant, env, promotion))
        counts = [int(v) for v in row[:3]] if row is not None else [0, 0, 0]
        return dict(zip(("available", "assigned", "redeemed"), counts, strict=True))

    def snapshot(self) -> list[dict[str, Any]]:
        out = []
        with self.engine.read() as tx:
            pools = tx.all(
                "SELECT env, promotion, available, assigned, redeemed, members FROM promo_counts "
                "WHERE tenant=? ORDER BY env, promotion",
                (self.tenant,),
            )
            for env, promotion, available, assigned, redeemed, members in pools:
                recent = tx.all(
                    "SELECT member, code FROM promo_members WHERE tenant=? AND env=? AND "
                    "promotion=? ORDER BY at DESC LIMIT ?",
                    (self.tenant, env, promotion, RECENT_ASSIGNMENTS),
                )
                out.append(
                    {
                        "environment": env,
                        "promotionId": promotion,
                        "available": int(available),
                        "assigned": int(assigned),
                        "redeemed": int(redeemed),
                        "members": int(members),
                        "assignments": [{"member": m, "code": c} for m, c in reversed(recent)],
                    }
                )
        return out

"""Promo-code inventory per (environment, promotion): available, assigned, redeemed; one lock."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from itertools import islice

AVAILABLE, ASSIGNED, REDEEMED, PENDING = 0, 1, 2, 3
RECENT_ASSIGNMENTS = 50  # per pool, in the admin state view


@dataclass
class Pool:
    """The codes of one promotion in one environment. `state` maps code -> state; `queue` holds
    available codes in upload order (entries that left AVAILABLE are skipped lazily)."""

    state: dict[str, int] = field(default_factory=dict)
    queue: deque[str] = field(default_factory=deque)
    members: dict[str, str] = field(default_factory=dict)  # member -> assigned code
    counts: list[int] = field(default_factory=lambda: [0, 0, 0])
    name: str = ""  # "env|promotion"

    def summary(self) -> dict[str, int]:
        return {"available": self.counts[0], "assigned": self.counts[1], "redeemed": self.counts[2]}


class Inventory:
    """All pools of one runtime. The pipeline stages new codes as PENDING (so a duplicate within
    the file is found by the same lookup) and commits or rolls them back as a whole."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._pools: dict[tuple[str, str], Pool] = {}

    def pool(self, env: str, promotion: str) -> Pool:
        """The pool, created on first use; call with `lock` held."""
        key = (env, promotion)
        found = self._pools.get(key)
        if found is None:
            found = self._pools[key] = Pool(name=f"{env}|{promotion}")
        return found

    def commit_new(self, pool: Pool, staged: list[str]) -> None:
        """PENDING -> AVAILABLE for the accepted codes of a new-codes file (lock held)."""
        pool.state.update(dict.fromkeys(staged, AVAILABLE))
        pool.queue.extend(staged)
        pool.counts[AVAILABLE] += len(staged)

    def commit_redeemed(self, pool: Pool, staged: dict[str, int]) -> None:
        """Mark accepted redeemed codes REDEEMED (lock held)."""
        state, counts = pool.state, pool.counts
        for code in staged:
            counts[state[code]] -= 1
            state[code] = REDEEMED
            counts[REDEEMED] += 1

    def claim(self, env: str, promotion: str, member: str) -> tuple[str | None, bool]:
        """The member's code: the one given before, else the next available. (code, is_new)."""
        with self.lock:
            pool = self.pool(env, promotion)
            code = pool.members.get(member)
            if code is not None:
                return code, False
            while pool.queue:
                code = pool.queue.popleft()
                if pool.state.get(code) == AVAILABLE:
                    pool.state[code] = ASSIGNED
                    pool.counts[AVAILABLE] -= 1
                    pool.counts[ASSIGNED] += 1
                    pool.members[member] = code
                    return code, True
            return None, False

    def summary(self, env: str, promotion: str) -> dict[str, int]:
        with self.lock:
            return self.pool(env, promotion).summary()

    def snapshot(self) -> list[dict[str, object]]:
        with self.lock:
            return [
                {
                    "environment": env,
                    "promotionId": promo,
                    **pool.summary(),
                    "members": len(pool.members),
                    # the newest landing-page assignments (dicts keep insertion order)
                    "assignments": [
                        {"member": m, "code": c}
                        for m, c in islice(reversed(pool.members.items()), RECENT_ASSIGNMENTS)
                    ][::-1],
                }
                for (env, promo), pool in sorted(self._pools.items())
            ]

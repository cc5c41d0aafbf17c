"""Prime offer-code rules (outcomes are values), the store interface and the memory engine's
store; uses, pinned-reply positions, auth codes and call counts are the state."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from mocksrv.api import StoreBase
from mocksrv.clock import iso, later
from mocksrv.services import recorded
from mocksrv.services.prime.config import OfferCode, PrimeConfig

SUCCESS = "SUCCESS"
INVALID = "INVALID_OFFER_CODE"
EXCEEDED = "FAILURE:DENIED:EXCEEDED_USAGE_LIMIT"
INACTIVE = "FAILURE:DENIED:DEAL_INACTIVE"
UTC_ZONE = ZoneInfo("UTC")


def period_start(at: datetime, period: str, tz: ZoneInfo) -> datetime | None:
    """Start of the period containing `at`, in the caller's zone (weeks start on Monday)."""
    local = at.astimezone(tz)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        start = midnight
    elif period == "week":
        start = midnight - timedelta(days=local.weekday())
    elif period == "month":
        start = midnight.replace(day=1)
    elif period == "year":
        start = midnight.replace(month=1, day=1)
    else:
        return None  # lifetime
    # rebuild through the zone so DST offsets of the boundary itself are right
    return datetime(start.year, start.month, start.day, tzinfo=tz).astimezone(UTC)


@dataclass
class Reply:
    """What a call answers: an outcome message or the name of a Prime error."""

    value: str


Used = Callable[[datetime | None], int]  # uses since a period's start (None: ever) up to `at`


def outcome(code: OfferCode | None, at: datetime, tz: ZoneInfo, used: Used) -> str:
    """The verify rules, in order, as of `at` in the caller's zone; `used` counts the uses."""
    if code is None or code.revoked or (code.expires_at and at >= code.expires_at):
        return INVALID
    if (code.active_from and at < code.active_from) or (
        code.active_until and at >= code.active_until
    ):
        return INACTIVE
    if code.days_of_week is not None and at.astimezone(tz).weekday() not in code.days_of_week:
        return INACTIVE
    if code.limit_uses is not None and (
        used(period_start(at, code.limit_period, tz)) >= code.limit_uses
    ):
        return EXCEEDED
    return SUCCESS


def pinned(code: OfferCode | None, index: int) -> Reply | None:
    """The pinned reply of call number `index` (from 0), if the code pins its replies."""
    if code is None or not code.replies:
        return None
    return Reply(code.replies[min(index, len(code.replies) - 1)])


def uses_between(redemptions: list[datetime], start: datetime | None, at: datetime) -> int:
    return sum(1 for r in redemptions if (start is None or r >= start) and r <= at)


def usage_view(
    code: OfferCode, now: datetime, redemptions: list[datetime], next_index: int
) -> dict[str, object]:
    """Uses in the current period and what a call would answer now (UTC), for the admin."""
    used = None
    if code.limit_uses is not None:
        used = uses_between(redemptions, period_start(now, code.limit_period, UTC_ZONE), now)
    reply = pinned(code, next_index)
    return {
        "limit": (
            {"uses": code.limit_uses, "period": code.limit_period}
            if code.limit_uses is not None
            else None
        ),
        "usedThisPeriod": used,
        "outcomeNow": reply.value
        if reply is not None
        else outcome(code, now, UTC_ZONE, lambda s: uses_between(redemptions, s, now)),
        "pinnedReplies": bool(code.replies),
    }


def count(stats: dict[str, int], operation: str, result: str) -> None:
    """One more call of `operation` that answered `result`, in a code's call counts."""
    stats[operation] = stats.get(operation, 0) + 1
    stats[f"{operation}:{result}"] = stats.get(f"{operation}:{result}", 0) + 1


class PrimeStore(Protocol):
    """What the Prime service and the admin API call on a store (memory or SQL)."""

    config: PrimeConfig

    def verify(self, benefit: str, code: str, at: datetime, tz: ZoneInfo) -> Reply: ...

    def redeem(self, benefit: str, code: str, at: datetime, tz: ZoneInfo) -> Reply: ...

    def auth_code(
        self, benefit: str, code: str, at: datetime, tz: ZoneInfo
    ) -> tuple[Reply, str]: ...

    def snapshot(self, now: datetime) -> dict[str, object]: ...

    def recorded_reply(self, key: tuple[str, ...]) -> recorded.Reply | None: ...


def new_auth_code() -> str:
    return secrets.token_hex(16).upper()


def codes_of(config: PrimeConfig) -> dict[tuple[str, str], OfferCode]:
    return {(b.id, c.code): c for b in config.benefits.values() for c in b.codes.values()}


class MemoryPrimeStore(StoreBase):
    """The memory engine's Prime store; every change under one lock."""

    def __init__(self, config: PrimeConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._codes = codes_of(config)
        self._uses = {key: list(c.redemptions) for key, c in self._codes.items()}
        self._reply_index: dict[tuple[str, str], int] = {}
        self._auth_codes: dict[str, tuple[str, str, datetime]] = {}
        self._calls: dict[tuple[str, str], dict[str, int]] = {}
        self.replays = recorded.Replays(config.recorded)

    def recorded_reply(self, key: tuple[str, ...]) -> recorded.Reply | None:
        """The next recorded reply (`prime.recorded`) for this request, if there is one."""
        return self.replays.next(key)

    def _answer(self, key: tuple[str, str], at: datetime, tz: ZoneInfo) -> Reply:
        """The reply of one call (lock held): a pinned one, else the rules' outcome."""
        found = self._codes.get(key)
        if found is not None and found.replies:
            index = self._reply_index.get(key, 0)
            self._reply_index[key] = index + 1
            reply = pinned(found, index)
            assert reply is not None
            return reply
        uses = self._uses.get(key, [])
        return Reply(outcome(found, at, tz, lambda start: uses_between(uses, start, at)))

    def verify(self, benefit: str, code: str, at: datetime, tz: ZoneInfo) -> Reply:
        key = (benefit, code)
        with self._lock:
            reply = self._answer(key, at, tz)
            count(self._calls.setdefault(key, {}), "verify", reply.value)
            return reply

    def redeem(self, benefit: str, code: str, at: datetime, tz: ZoneInfo) -> Reply:
        """Re-run the verify checks as of `at`; on SUCCESS consume one use at `at`."""
        key = (benefit, code)
        with self._lock:
            reply = self._answer(key, at, tz)
            if reply.value == SUCCESS and key in self._codes:
                self._uses[key].append(at)
            count(self._calls.setdefault(key, {}), "redeem", reply.value)
            return reply

    def auth_code(self, benefit: str, code: str, at: datetime, tz: ZoneInfo) -> tuple[Reply, str]:
        key = (benefit, code)
        with self._lock:
            reply = self._answer(key, at, tz)
            token = ""
            if reply.value == SUCCESS:
                token = new_auth_code()
                self._auth_codes[token] = (benefit, code, later(at, self.config.auth_code_ttl))
            count(self._calls.setdefault(key, {}), "auth-code", reply.value)
            return reply, token

    def snapshot(self, now: datetime) -> dict[str, object]:
        with self._lock:
            out = snapshot(
                self._codes,
                {k: list(v) for k, v in self._uses.items()},
                dict(self._reply_index),
                {k: dict(v) for k, v in self._calls.items()},
                list(self._auth_codes.items()),
                now,
            )
        if self.replays.table:
            out["recorded"] = self.replays.snapshot()
        return out


def snapshot(
    codes: dict[tuple[str, str], OfferCode],
    uses: dict[tuple[str, str], list[datetime]],
    replies: dict[tuple[str, str], int],
    calls: dict[tuple[str, str], dict[str, int]],
    auth: list[tuple[str, tuple[str, str, datetime]]],
    now: datetime,
) -> dict[str, object]:
    """State view for the admin API: uses and call counts per code, live auth codes."""
    offer_codes = []
    for (bid, c), oc in sorted(codes.items()):
        found = sorted(uses.get((bid, c), []))
        offer_codes.append(
            {
                "benefit": bid,
                "code": c,
                "redemptions": [iso(r) for r in found],
                "calls": dict(calls.get((bid, c), {})),
                **usage_view(oc, now, found, replies.get((bid, c), 0)),
            }
        )
    unknown = [
        {"benefit": b, "code": c, "calls": dict(v)}
        for (b, c), v in sorted(calls.items())
        if (b, c) not in codes
    ]
    live = [
        {"authCode": t, "benefit": b, "code": c, "expiresAt": iso(e)}
        for t, (b, c, e) in auth
        if e > now
    ]
    return {"offerCodes": offer_codes, "unknownCodes": unknown, "authCodes": live}

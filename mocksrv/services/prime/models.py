"""Prime offer-code state and rules: outcomes are values; uses, replies and auth codes are state."""

from __future__ import annotations

import copy
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from mocksrv.clock import iso, later, parse_instant
from mocksrv.services import recorded
from mocksrv.services.prime.config import OfferCode, PrimeConfig
from mocksrv.state.sink import NULL_SINK, Sink

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


class PrimeBackend:
    """Offer-code rules and state for one runtime; every mutation under one lock."""

    def __init__(self, config: PrimeConfig) -> None:
        self.config = config
        self.sink: Sink = NULL_SINK  # durable state (serve --state), else memory only
        self._lock = threading.Lock()
        self._codes = {
            (b.id, c.code): copy.deepcopy(c)
            for b in config.benefits.values()
            for c in b.codes.values()
        }
        self._reply_index: dict[tuple[str, str], int] = {}
        self._auth_codes: dict[str, tuple[str, str, datetime]] = {}
        self._calls: dict[tuple[str, str], dict[str, int]] = {}
        self.replays = recorded.Replays(config.recorded)

    def recorded_reply(self, key: tuple[str, ...]) -> recorded.Reply | None:
        """The next recorded reply (`prime.recorded`) for this request, if there is one."""
        return self.replays.next(key, self.sink)

    def _outcome(self, code: OfferCode | None, at: datetime, tz: ZoneInfo) -> str:
        if code is None or code.revoked or (code.expires_at and at >= code.expires_at):
            return INVALID
        if (code.active_from and at < code.active_from) or (
            code.active_until and at >= code.active_until
        ):
            return INACTIVE
        if code.days_of_week is not None and at.astimezone(tz).weekday() not in code.days_of_week:
            return INACTIVE
        if code.limit_uses is not None:
            start = period_start(at, code.limit_period, tz)
            used = sum(1 for r in code.redemptions if (start is None or r >= start) and r <= at)
            if used >= code.limit_uses:
                return EXCEEDED
        return SUCCESS

    def _pinned(self, key: tuple[str, str], code: OfferCode | None) -> Reply | None:
        if code is None or not code.replies:
            return None
        i = self._reply_index.get(key, 0)
        self._reply_index[key] = i + 1
        return Reply(code.replies[min(i, len(code.replies) - 1)])

    def _count(self, key: tuple[str, str], operation: str, outcome: str) -> None:
        stats = self._calls.setdefault(key, {})
        stats[operation] = stats.get(operation, 0) + 1
        stats[f"{operation}:{outcome}"] = stats.get(f"{operation}:{outcome}", 0) + 1
        if self.sink.durable:  # under the lock, with the use or reply it counts
            self._save(key, stats)

    def _save(self, key: tuple[str, str], stats: dict[str, int]) -> None:
        name = "|".join(key)
        with self.sink.batch():
            self.sink.put("calls", name, stats)
            if key in self._reply_index:
                self.sink.put("reply", name, self._reply_index[key])
            code = self._codes.get(key)
            if code is not None:
                self.sink.put("uses", name, [r.isoformat() for r in code.redemptions])

    def restore(self, rows: list[tuple[str, str, Any]]) -> None:
        """Uses, call counts, reply positions and live auth codes from the state database."""
        with self._lock:
            for kind, name, value in rows:
                if kind == recorded.ROW_KIND:
                    self.replays.restore(name, value)
                    continue
                if kind == "auth":
                    self._auth_codes[name] = (value[0], value[1], parse_instant(value[2]))
                    continue
                key = tuple(name.split("|", 1))
                if len(key) != 2:
                    continue
                pair = (key[0], key[1])
                if kind == "calls":
                    self._calls[pair] = dict(value)
                elif kind == "reply":
                    self._reply_index[pair] = int(value)
                elif kind == "uses" and pair in self._codes:
                    self._codes[pair].redemptions = [parse_instant(r) for r in value]

    def verify(self, benefit: str, code: str, at: datetime, tz: ZoneInfo) -> Reply:
        key = (benefit, code)
        with self._lock, self.sink.batch():  # a call's effects commit together
            found = self._codes.get(key)
            reply = self._pinned(key, found) or Reply(self._outcome(found, at, tz))
            self._count(key, "verify", reply.value)
            return reply

    def redeem(self, benefit: str, code: str, at: datetime, tz: ZoneInfo) -> Reply:
        """Re-run the verify checks as of `at`; on SUCCESS consume one use at `at`."""
        key = (benefit, code)
        with self._lock, self.sink.batch():  # a call's effects commit together
            found = self._codes.get(key)
            reply = self._pinned(key, found) or Reply(self._outcome(found, at, tz))
            if reply.value == SUCCESS and found is not None:
                found.redemptions.append(at)
            self._count(key, "redeem", reply.value)
            return reply

    def auth_code(self, benefit: str, code: str, at: datetime, tz: ZoneInfo) -> tuple[Reply, str]:
        key = (benefit, code)
        with self._lock, self.sink.batch():  # a call's effects commit together
            found = self._codes.get(key)
            reply = self._pinned(key, found) or Reply(self._outcome(found, at, tz))
            token = ""
            if reply.value == SUCCESS:
                token = secrets.token_hex(16).upper()
                expires = later(at, self.config.auth_code_ttl)
                self._auth_codes[token] = (benefit, code, expires)
                if self.sink.durable:
                    self.sink.put("auth", token, [benefit, code, expires.isoformat()])
            self._count(key, "auth-code", reply.value)
            return reply, token

    def _usage_view(
        self, key: tuple[str, str], code: OfferCode, now: datetime
    ) -> dict[str, object]:
        """Uses in the current period and what a call would answer now (UTC; lock held)."""
        used = None
        if code.limit_uses is not None:
            start = period_start(now, code.limit_period, UTC_ZONE)
            used = sum(1 for r in code.redemptions if (start is None or r >= start) and r <= now)
        if code.replies:
            i = self._reply_index.get(key, 0)
            next_reply = code.replies[min(i, len(code.replies) - 1)]
        else:
            next_reply = self._outcome(code, now, UTC_ZONE)
        return {
            "limit": (
                {"uses": code.limit_uses, "period": code.limit_period}
                if code.limit_uses is not None
                else None
            ),
            "usedThisPeriod": used,
            "outcomeNow": next_reply,
            "pinnedReplies": bool(code.replies),
        }

    def snapshot(self, now: datetime) -> dict[str, object]:
        """State view for the admin API: uses and call counts per code, live auth codes."""
        with self._lock:
            codes = []
            for (bid, c), oc in sorted(self._codes.items()):
                codes.append(
                    {
                        "benefit": bid,
                        "code": c,
                        "redemptions": [iso(r) for r in oc.redemptions],
                        "calls": dict(self._calls.get((bid, c), {})),
                        **self._usage_view((bid, c), oc, now),
                    }
                )
            unknown = [
                {"benefit": b, "code": c, "calls": dict(v)}
                for (b, c), v in sorted(self._calls.items())
                if (b, c) not in self._codes
            ]
            auth = [
                {"authCode": t, "benefit": b, "code": c, "expiresAt": iso(e)}
                for t, (b, c, e) in self._auth_codes.items()
                if e > now
            ]
        out = {"offerCodes": codes, "unknownCodes": unknown, "authCodes": auth}
        if self.replays.table:
            out["recorded"] = self.replays.snapshot()
        return out

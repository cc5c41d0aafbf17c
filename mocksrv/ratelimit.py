"""Token buckets per key (access key, operation), for throttling Decisions, and the log line
that says which limit rejected a request. Both run on the clock they are given (the runtime's
scenario clock): a test moves that clock instead of sleeping."""

from __future__ import annotations

import logging
import threading
from typing import Protocol

log = logging.getLogger("mocksrv")
LOG_EVERY_SECONDS = 60.0


class Clock(Protocol):
    def seconds(self) -> float: ...


def refill(
    tokens: float, last: float, now: float, rate: float, cap: float
) -> tuple[bool, float, float]:
    """One take from a bucket holding `tokens` at `last`, refilled at `rate` per second up to
    `cap` by `now`: whether a token was taken, the tokens left and the new refill time (a clock
    set back refills nothing until it passes `last`). Every engine's buckets use this rule."""
    tokens = min(cap, tokens + max(0.0, now - last) * rate)
    last = max(last, now)
    if tokens < 1.0:
        return False, tokens, last
    return True, tokens - 1.0, last


class TokenBuckets:
    """`allow(key, rate, burst)` takes one token; refills continuously at `rate` per second of
    the clock's time (a clock set back refills nothing until it passes the last refill)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[object, tuple[float, float]] = {}

    def allow(self, key: object, rate: float, burst: float | None = None) -> bool:
        if rate <= 0:
            return True
        cap = burst if burst is not None else rate
        now = self._clock.seconds()
        with self._lock:
            allowed, tokens, last = refill(*self._buckets.get(key, (cap, now)), now, rate, cap)
            self._buckets[key] = (tokens, last)
            return allowed


class RejectionLog:
    """Logs a rate-limit rejection at most once per (limit, access key) and minute of the clock."""

    def __init__(self, clock: Clock, every: float = LOG_EVERY_SECONDS) -> None:
        self._clock = clock
        self.every = every
        self._lock = threading.Lock()
        self._last: dict[tuple[str, str], float] = {}

    def rejected(self, limit: str, rate: str, access_key: str, operation: str, fix: str) -> None:
        now = self._clock.seconds()
        with self._lock:
            last = self._last.get((limit, access_key))
            if last is not None and abs(now - last) < self.every:
                return
            self._last[(limit, access_key)] = now
        log.warning(
            "rate limit %s (%s) rejected %s for access key %s; %s "
            "(this message repeats at most once a minute per key)",
            limit, rate, operation, access_key, fix,
        )  # fmt: skip

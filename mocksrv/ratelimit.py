"""Token buckets per key (access key, operation), for throttling Decisions, and the log line
that says which limit rejected a request."""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger("mocksrv")
LOG_EVERY_SECONDS = 60.0


class TokenBuckets:
    """`allow(key, rate, burst)` takes one token; refills continuously at `rate` per second."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[object, tuple[float, float]] = {}

    def allow(self, key: object, rate: float, burst: float | None = None) -> bool:
        if rate <= 0:
            return True
        cap = burst if burst is not None else rate
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (cap, now))
            tokens = min(cap, tokens + (now - last) * rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return False
            self._buckets[key] = (tokens - 1.0, now)
            return True

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()


class RejectionLog:
    """Logs a rate-limit rejection at most once per (limit, access key) and minute."""

    def __init__(self, every: float = LOG_EVERY_SECONDS) -> None:
        self.every = every
        self._lock = threading.Lock()
        self._last: dict[tuple[str, str], float] = {}

    def rejected(self, limit: str, rate: str, access_key: str, operation: str, fix: str) -> None:
        now = time.monotonic()
        with self._lock:
            last = self._last.get((limit, access_key))
            if last is not None and now - last < self.every:
                return
            self._last[(limit, access_key)] = now
        log.warning(
            "rate limit %s (%s) rejected %s for access key %s; %s "
            "(this message repeats at most once a minute per key)",
            limit, rate, operation, access_key, fix,
        )  # fmt: skip

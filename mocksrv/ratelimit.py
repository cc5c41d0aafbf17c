"""Token buckets per key (access key, operation), for throttling Decisions."""

from __future__ import annotations

import threading
import time


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

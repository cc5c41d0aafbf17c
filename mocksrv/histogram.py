"""A latency histogram with fixed buckets, cheap to feed from many threads (for the metrics)."""

from __future__ import annotations

import threading
from bisect import bisect_left

# seconds: upper bounds of the buckets, Prometheus's `le`; a sandbox answers in well under 10 ms
BOUNDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def bucket_of(seconds: float) -> int:
    """The index of the first bucket holding `seconds` (len(BOUNDS): only +Inf does)."""
    return bisect_left(BOUNDS, seconds)


class Histogram:
    """Counts per bucket (not cumulative), their sum and count, under one lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = [0] * (len(BOUNDS) + 1)
        self._sum = 0.0

    def observe(self, seconds: float) -> None:
        index = bisect_left(BOUNDS, seconds)
        with self._lock:
            self._counts[index] += 1
            self._sum += seconds

    def read(self) -> tuple[list[int], float]:
        """(counts per bucket, +Inf last; sum of the observations)."""
        with self._lock:
            return list(self._counts), self._sum

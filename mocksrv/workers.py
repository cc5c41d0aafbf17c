"""An elastic pool of daemon threads that serve connections holding complete requests.

Threads start on demand up to `limit` (so a request that sleeps, e.g. on a latency fault, never
holds up another one), and threads beyond `keep` retire after `retire_after` seconds without work.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("mocksrv.http")


class Workers:
    def __init__(
        self, run: Callable[[Any], None], *, keep: int, limit: int, retire_after: float = 30.0
    ) -> None:
        self._run = run
        self._keep = max(1, keep)
        self._limit = max(self._keep, limit)
        self._retire_after = retire_after
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0  # threads waiting for work minus items queued (threads are fungible)
        self._count = 0
        self._closed = False

    @property
    def count(self) -> int:
        return self._count

    def submit(self, item: Any) -> None:
        with self._lock:
            if self._closed:
                return
            self._queue.put(item)
            if self._idle > 0 or self._count >= self._limit:
                self._idle -= 1  # a waiting thread takes it, or (below 0) the first one free
                return
            self._count += 1
        threading.Thread(target=self._loop, name="mocksrv-worker", daemon=True).start()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            count = self._count
        for _ in range(count):
            self._queue.put(None)

    def _loop(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self._retire_after)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty() and self._count > self._keep:
                        self._idle -= 1
                        self._count -= 1
                        return
                continue
            if item is None:
                return
            try:
                self._run(item)
            except Exception:  # a worker never dies loudly
                log.exception("serving a connection failed")
            with self._lock:
                self._idle += 1

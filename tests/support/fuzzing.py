"""Shared by the fuzz tests: the budget, a counting WSGI wrapper and a traceback collector."""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from typing import Any

from mocksrv.app import MocksrvApp


def budget(default: int) -> int:
    """Examples per fuzzed target: MOCKSRV_FUZZ_EXAMPLES, or a short CI default."""
    return int(os.environ.get("MOCKSRV_FUZZ_EXAMPLES") or default)


class Counting:
    """The app, counting answers by status class (`start_server(..., wrap=Counting)`); `runtime`
    passes through for ServerThread."""

    def __init__(self, app: MocksrvApp) -> None:
        self.app = app
        self.statuses: Counter[int] = Counter()
        self._lock = threading.Lock()

    @property
    def runtime(self) -> Any:
        return self.app.runtime

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        def counted(status: str, headers: Any, *exc: Any) -> Any:
            with self._lock:
                self.statuses[int(status[:3])] += 1
            return start_response(status, headers, *exc)

        return self.app(environ, counted)

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        return sum(n for code, n in self.statuses.items() if code >= 500)


class Tracebacks(logging.Handler):
    """Every log record with a traceback or at ERROR (the server logs one for any 500)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.levelno >= logging.ERROR:
            self.records.append(record)

    def __enter__(self) -> Tracebacks:
        logging.getLogger().addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger().removeHandler(self)

"""The process's log: text or JSON lines on stderr, and the request log's cheap path into it.

`configure` installs one handler on the root logger. Request lines (`mocksrv.requests`, one per
API request at `info`) reach it through `SINK.put`: the request thread appends a tuple, and a
writer thread formats what piled up and writes it in one go, a few times a second. Any other
record first writes out the request lines before it, so the order holds.
"""

from __future__ import annotations

import atexit
import json
import logging
import re
import sys
import threading
import time
from collections import deque
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii as _quote
from typing import IO, Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FORMATS = ("text", "json")
REQUESTS = "mocksrv.requests"
FLUSH_SECONDS = 0.1
MAX_PENDING = 100_000  # request lines held between two writes at most; more are dropped, counted

# (wall time, api, operation, identity, outcome, status, latency s, request id, method, path,
#  signature detail)
Item = tuple[float, str, str, str, str, int, float, str, str, str, str]


_PLAIN = re.compile(r"[!#-~]+").fullmatch  # printable ASCII, no space, no double quote
_MS = [f"{i:03d}" for i in range(1000)]  # milliseconds as written, made once


def quoted(value: Any) -> str:
    """logfmt: bare when plain, else a JSON string (quotes, spaces and control characters
    escaped: a client's path cannot forge a line); "-" when empty."""
    if not isinstance(value, str):
        return str(value)
    return value if _PLAIN(value) else _quote(value) if value else "-"


def request_message(item: Item) -> str:
    """The message of a request line in text: `api=prime operation=verify ... path=/v1/...`.
    Written out by hand: this runs once per request."""
    _, api, op, ident, outcome, status, latency, rid, method, path, detail = item
    plain = op + ident + outcome + path  # the API, method and request id are always plain
    if plain.isascii() and plain.isprintable() and " " not in plain and '"' not in plain:
        line = (
            f"api={api or '-'} operation={op or '-'} identity={ident or '-'} "
            f"outcome={outcome or '-'} status={status} latency_ms={latency * 1000:.3f} "
            f"request_id={rid} method={method} path={path}"
        )
    else:
        q = quoted
        line = (
            f"api={q(api)} operation={q(op)} identity={q(ident)} outcome={q(outcome)} "
            f"status={status} latency_ms={latency * 1000:.3f} request_id={rid} "
            f"method={q(method)} path={q(path)}"
        )
    return f"{line} signature={_quote(detail)}" if detail else line


def request_json(item: Item, stamp: str) -> str:
    """A request line as one JSON object (keys as the journal names them); `stamp` its time."""
    _, api, op, ident, outcome, status, latency, rid, method, path, detail = item
    message = _quote(f"{api or '-'} {op or '-'} {status} {outcome or '-'}")
    line = (
        f'{{"time":"{stamp}","level":"INFO","logger":"{REQUESTS}","message":{message},'
        f'"api":{_quote(api)},"operation":{_quote(op)},'
        + (f'"identity":{_quote(ident)},' if ident else "")
        + f'"outcome":{_quote(outcome)},"status":{status},"latencyMs":{latency * 1000:.3f},'
        f'"requestId":"{rid}","method":{_quote(method)},"path":{_quote(path)}'
    )
    return f'{line},"signature":{_quote(detail)}}}' if detail else line + "}"


def _iso(wall: float) -> str:
    return (
        datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    )


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": _iso(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["traceback"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=True, separators=(",", ":"))


class LineHandler(logging.StreamHandler):
    """The root handler: records as they come, request lines in batches (see the module doc)."""

    def __init__(self, stream: IO[str], fmt: str) -> None:
        super().__init__(stream)
        self.json = fmt == "json"
        self.setFormatter(JsonFormatter() if self.json else logging.Formatter(TEXT_FORMAT))
        self._pending: deque[Item] = deque()
        self._wake = threading.Event()
        self._second = -1
        self._stamp = ""
        self.dropped = 0
        threading.Thread(target=self._writer, name="mocksrv-log", daemon=True).start()

    def put(self, item: Item) -> None:
        """A request line (from any thread; the writer formats and writes it soon)."""
        if len(self._pending) >= MAX_PENDING:
            self.dropped += 1
            return
        self._pending.append(item)
        if not self._wake.is_set():
            self._wake.set()

    def emit(self, record: logging.LogRecord) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write_pending()
        super().emit(record)

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write_pending()
            super().flush()

    def _writer(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(FLUSH_SECONDS)  # gather what comes meanwhile into one write
            self._wake.clear()
            self.flush()

    def _write_pending(self) -> None:
        pending, lines = self._pending, []
        while pending:
            item = pending.popleft()
            if self.json:
                lines.append(request_json(item, self._stamp_of(item[0])))
            else:
                wall = item[0]
                if int(wall) != self._second:
                    self._prefix(wall)
                stamp = f"{self._stamp},{_MS[int(wall * 1000) % 1000]}"
                lines.append(f"{stamp} INFO {REQUESTS}: {request_message(item)}")
        if self.dropped:
            lines.append(f"{self._prefix(time.time())} WARNING mocksrv: {self.dropped} request "
                         "log lines dropped (the log could not keep up)")  # fmt: skip
            self.dropped = 0
        if lines:
            self.stream.write("\n".join(lines) + "\n")

    def _prefix(self, wall: float) -> str:
        """`asctime` as logging.Formatter writes it (local time, milliseconds after a comma)."""
        second = int(wall)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(second))
        return f"{self._stamp},{_MS[int(wall * 1000) % 1000]}"

    def _stamp_of(self, wall: float) -> str:
        """The JSON lines' time: UTC, ISO 8601 with milliseconds."""
        second = int(wall)
        if second != self._second:
            self._second = second
            self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._stamp}.{_MS[int(wall * 1000) % 1000]}Z"


SINK: LineHandler | None = None


def configure(level: str, fmt: str = "text", stream: IO[str] | None = None) -> LineHandler:
    """The process's logging (`mocksrv serve` and `mocksrv run`): one handler on the root logger."""
    global SINK
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    handler = LineHandler(stream or sys.stderr, fmt)
    root.addHandler(handler)
    root.setLevel(level.upper())
    SINK = handler
    atexit.register(handler.flush)
    return handler

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
MAX_PENDING = 20_000  # request lines held between two writes at most; more are dropped, counted
MAX_PATH = 1024  # characters of a path a pending line keeps (a client's 60 KB path is cut)

# (started, ended: perf_counter times; api, operation, identity, outcome, status, request id,
#  method, path, signature detail)
Item = tuple[float, float, str, str, str, str, int, str, str, str, str]


_PLAIN = re.compile(r"[!#-~]+").fullmatch  # printable ASCII, no space, no double quote
_MS = [f"{i:03d}" for i in range(1000)]  # milliseconds as written, made once


def quoted(value: Any) -> str:
    """logfmt: bare when plain (or empty), else a JSON string (quotes, spaces and control
    characters escaped: a client's path cannot forge a line)."""
    if not isinstance(value, str):
        return str(value)
    return value if not value or _PLAIN(value) else _quote(value)


SHARED = 1024  # the shared part of this many distinct lines is kept, made once (see _Shared)


def _failed(api: str, status: int, detail: str) -> bool:
    """Lines that also carry the method and path: errors, and requests no API claimed."""
    return status >= 400 or not api or bool(detail)


class _Shared(dict[tuple[str, str, str, str, int], str]):
    """The part of a request line that many lines share (API, operation, identity, outcome and
    status), made once per distinct combination: most of a line's cost otherwise."""

    def __init__(self, make: Any) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, key: tuple[str, str, str, str, int]) -> str:
        text = self.make(*key)
        if len(self) < SHARED:
            self[key] = text
        return text


def _text_shared(api: str, op: str, ident: str, outcome: str, status: int) -> str:
    return (
        f"api={quoted(api)} operation={quoted(op)} identity={quoted(ident)} "
        f"outcome={quoted(outcome)} status={status}"
    )


def _json_shared(api: str, op: str, ident: str, outcome: str, status: int) -> str:
    message = _quote(f"{api or '-'} {op or '-'} {status} {outcome or '-'}")
    who = f'"identity":{_quote(ident)},' if ident else ""
    return (
        f'"message":{message},"api":{_quote(api)},"operation":{_quote(op)},{who}'
        f'"outcome":{_quote(outcome)},"status":{status}'
    )


def request_message(item: Item, shared: _Shared | None = None) -> str:
    """The message of a request line in text (logfmt): `api=prime operation=verify
    identity=prime-partner outcome=SUCCESS status=200 latency_ms=0.812 request_id=...`, and for
    an error also `method=`, `path=` and a signature failure's `signature=`. A value with
    spaces, quotes or control characters is a JSON string: a client's path cannot forge a line."""
    started, ended, api, op, ident, outcome, status, rid, method, path, detail = item
    middle = (shared or _Shared(_text_shared))[(api, op, ident, outcome, status)]
    line = f"{middle} latency_ms={(ended - started) * 1000:.3f} request_id={rid}"
    if _failed(api, status, detail):
        line += f" method={quoted(method)} path={quoted(path)}"
        if detail:
            line += f" signature={_quote(detail)}"
    return line


def request_json(item: Item, stamp: str, shared: _Shared | None = None) -> str:
    """A request line as one JSON object (keys as the journal names them); `stamp` its time."""
    started, ended, api, op, ident, outcome, status, rid, method, path, detail = item
    middle = (shared or _Shared(_json_shared))[(api, op, ident, outcome, status)]
    line = (
        f'{{"time":"{stamp}","level":"INFO","logger":"{REQUESTS}",{middle},'
        f'"latencyMs":{(ended - started) * 1000:.3f},"requestId":"{rid}"'
    )
    if _failed(api, status, detail):
        line += f',"method":{_quote(method)},"path":{_quote(path)}'
        if detail:
            line += f',"signature":{_quote(detail)}'
    return line + "}"


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
        self.requests = True  # request lines pass the level (set by configure)
        self._armed = False  # the writer has been woken for what is pending
        self._shared = _Shared(_json_shared if self.json else _text_shared)
        self._second = -1
        self._stamp = ""
        self.dropped = 0
        threading.Thread(target=self._writer, name="mocksrv-log", daemon=True).start()

    def put(self, item: Item) -> None:
        """A request line (from any thread; the writer formats and writes it soon)."""
        pending = self._pending
        if len(pending) >= MAX_PENDING:
            self.dropped += 1
            return
        if len(item[9]) > MAX_PATH:  # so pending lines are bounded by bytes, not count alone
            path = item[9]
            cut = f"{path[:MAX_PATH]}...[{len(path) - MAX_PATH} characters cut]"
            item = (*item[:9], cut, item[10])
        pending.append(item)
        if not self._armed:
            self._armed = True
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
            self._armed = False
            self.flush()

    def _write_pending(self) -> None:
        pending = self._pending
        items = [pending.popleft() for _ in range(len(pending))]
        epoch = time.time() - time.perf_counter()  # the items' times are perf_counter's
        lines = self._json_lines(items, epoch) if self.json else self._text_lines(items, epoch)
        if self.dropped:
            lines.append(f"{self._prefix(time.time())} WARNING mocksrv: {self.dropped} request "
                         "log lines dropped (the log could not keep up)")  # fmt: skip
            self.dropped = 0
        if lines:
            self.stream.write("\n".join(lines) + "\n")

    def _text_lines(self, items: list[Item], epoch: float) -> list[str]:
        """request_message's work, inlined: this runs once per request."""
        lines, ms, shared = [], _MS, self._shared
        for item in items:
            started, ended, api, op, ident, outcome, status, rid, method, path, detail = item
            wall = ended + epoch
            if int(wall) != self._second:
                self._prefix(wall)
            text = (
                f"{self._stamp},{ms[int(wall * 1000) % 1000]} INFO mocksrv.requests: "
                f"{shared[(api, op, ident, outcome, status)]} "
                f"latency_ms={(ended - started) * 1000:.3f} request_id={rid}"
            )
            if status >= 400 or not api or detail:  # _failed, inlined
                text += f" method={quoted(method)} path={quoted(path)}"
                if detail:
                    text += f" signature={_quote(detail)}"
            lines.append(text)
        return lines

    def _json_lines(self, items: list[Item], epoch: float) -> list[str]:
        return [request_json(i, self._stamp_of(i[1] + epoch), self._shared) for i in items]

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
    # decided once here rather than asked per request (logging's own check is a call)
    handler.requests = logging.getLogger(REQUESTS).isEnabledFor(logging.INFO)
    SINK = handler
    atexit.register(handler.flush)
    return handler

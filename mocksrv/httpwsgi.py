"""From a parsed request to the WSGI app and back to response bytes (mocksrv's HTTP/1.1 server).

Response header names keep the case the app gave them. A header whose name is not a token or whose
value holds CR, LF or NUL is never sent (it would split the response): it is dropped and logged.
"""

from __future__ import annotations

import io
import logging
import re
import sys
import time
from collections.abc import Callable, Iterable
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote_to_bytes

from mocksrv.http import BODY_REFUSED, FIELD_REFUSED
from mocksrv.http1 import Request

log = logging.getLogger("mocksrv.http")

SOCKET_KEY = "mocksrv.socket"  # environ: the client socket (transport faults reset it)
REASONS = {400: "Bad Request", 408: "Request Timeout", 413: "Content Too Large"}
REASONS |= {431: "Request Header Fields Too Large", 501: "Not Implemented"}
REASONS |= {505: "HTTP Version Not Supported"}
_BAD_NAME = re.compile(r"[^!#$%&'*+\-.^_`|~0-9A-Za-z]")
_BAD_VALUE = re.compile(r"[\r\n\x00]")

App = Callable[..., Iterable[bytes]]


class DropConnection(Exception):
    """Raised by the app (transport faults) to close the connection without an answer."""


_date_cache: tuple[int, str] = (0, "")


def http_date() -> str:
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]


def environ_of(req: Request, server: Any, sock: Any, addr: Any) -> dict[str, Any]:
    """The WSGI environ of a request; `wsgi.input` is the body's bytes in a BytesIO, or the
    temporary file of a large body (seekable), and a refused body or header field is marked."""
    body = req.body
    if body.__class__ is bytes:
        stream: Any = io.BytesIO(body)
        size = len(body)
    else:
        stream, size = body, req.size
    raw = req.target.decode("latin-1")
    if raw.startswith(("http://", "https://")):  # absolute form: keep the path only
        rest = raw.split("://", 1)[1]
        raw = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
    path, _, query = raw.partition("?")
    path = path.split("#", 1)[0]
    environ: dict[str, Any] = {
        "REQUEST_METHOD": req.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
        "QUERY_STRING": query.split("#", 1)[0],
        "REQUEST_URI": raw,
        "RAW_URI": raw,
        "SERVER_NAME": server.server_name,
        "SERVER_PORT": str(server.effective_port),
        "SERVER_PROTOCOL": req.version,
        "REMOTE_ADDR": str(addr[0]) if addr else "",
        "REMOTE_PORT": str(addr[1]) if addr else "",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": getattr(server, "url_scheme", "http"),
        "wsgi.input": stream,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
        SOCKET_KEY: sock,
    }
    environ.update(req.fields)
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    environ["CONTENT_LENGTH"] = str(size) if size else environ.get("CONTENT_LENGTH", "")
    if req.refused_body is not None:
        environ[BODY_REFUSED] = req.refused_body
    if req.refused_field is not None:
        environ[FIELD_REFUSED] = req.refused_field
    return environ


def respond(app: App, req: Request, environ: dict[str, Any]) -> tuple[bytes, bool]:
    """Run the app: (bytes to send, whether the connection may stay open)."""
    state: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        state["status"], state["headers"] = status, headers
        return lambda data: None

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    if "status" not in state:
        raise DropConnection("the app answered nothing")
    keep = req.keep_alive
    head, declared = response_head(state["status"], state["headers"], len(body), keep)
    if req.method == "HEAD":
        return head, keep
    truncated = declared is not None and declared != len(body)
    return head + body, keep and not truncated


def response_head(
    status: str, headers: list[tuple[str, str]], size: int, keep: bool
) -> tuple[bytes, int | None]:
    lines = [f"HTTP/1.1 {status}"]
    declared = None
    for name, value in headers:
        lower = name.lower()
        if lower == "content-length":
            declared = int(value)
        elif lower not in ("connection", "transfer-encoding"):
            lines.append(f"{name}: {value}")
    lines.append(f"Content-Length: {size if declared is None else declared}")
    lines.append(f"Date: {http_date()}")
    if not keep:
        lines.append("Connection: close")
    text = "\r\n".join(lines)
    breaks = len(lines) - 1  # one scan each: any CR, LF or NUL inside a line shows up here
    if text.count("\n") != breaks or text.count("\r") != breaks or "\x00" in text:
        return response_head(status, _safe(headers), size, keep)
    return (text + "\r\n\r\n").encode("latin-1"), declared


def _safe(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    out = []
    for name, value in headers:
        if _BAD_VALUE.search(value) or _BAD_NAME.search(name) or not name:
            log.warning("response header %r dropped: CR, LF or NUL would split the response", name)
        else:
            out.append((name, value))
    return out


def error_bytes(status: int, message: str) -> bytes:
    body = ('{"message":"' + message.replace("\\", "\\\\").replace('"', '\\"') + '"}').encode()
    head = (
        f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nDate: {http_date()}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body

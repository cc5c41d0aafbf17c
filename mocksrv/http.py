"""A minimal WSGI response for the emulated APIs' hot paths (werkzeug's is far heavier per call).

It keeps the small part of werkzeug's `Response` interface that mocksrv uses: `status_code`,
`status`, `headers[...]`, `get_data()`, and calling it as a WSGI app.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

# WSGI environ keys set by mocksrv's HTTP server (mocksrv.httpwsgi) for what it did not read
BODY_REFUSED = "mocksrv.body_refused"  # the cap (bytes) the body exceeds; the body was not read
FIELD_REFUSED = "mocksrv.field_refused"  # a header field over MAX_FIELD (its name; it was dropped)
# set by the app's `inline` hook on a request answered on the loop whose write may wait for the
# turn's end (the server serves it as a request of the turn: `mocksrv.state.turn`)
PARKS = "mocksrv.parks"
MAX_FIELD = 64 * 1024  # bytes of one header field (name, value, ": " and CRLF) the server keeps
_REASONS = {s.value: f"{s.value} {s.phrase}" for s in HTTPStatus}
# what may not appear in a header value sent back: CR, LF, NUL and the other controls (tab may)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def has_control(text: str) -> bool:
    """True if `text` holds a control character that must never be echoed into a header."""
    return _CONTROL.search(text) is not None


def xml_escape(text: str) -> str:
    """Escape &, < and > for XML text (xml.sax.saxutils.escape without its import cost)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Response:
    """A fully buffered response: bytes body, status, headers in insertion order."""

    __slots__ = ("_body", "headers", "status_code")

    def __init__(
        self,
        body: bytes | str = b"",
        status: int = 200,
        content_type: str | None = None,
        headers: dict[str, str] | list[tuple[str, str]] | None = None,
    ) -> None:
        self._body = body.encode() if isinstance(body, str) else body
        self.status_code = status
        self.headers: dict[str, str] = {}
        if content_type:
            self.headers["Content-Type"] = content_type
        if headers:
            self.headers.update(headers)

    @property
    def status(self) -> str:
        return _REASONS.get(self.status_code) or f"{self.status_code} UNKNOWN"

    def get_data(self) -> bytes:
        return self._body

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        headers = list(self.headers.items())
        if "Content-Length" not in self.headers and "content-length" not in self.headers:
            headers.append(("Content-Length", str(len(self._body))))
        start_response(self.status, headers)
        if environ.get("REQUEST_METHOD") == "HEAD":
            return [b""]
        return [self._body]

"""Recent request/answer pairs for the dashboard's journal, bounded by bytes, by request id.

The journal keeps what every call was (API, operation, outcome); this keeps what was sent and
answered, for the newest calls only: each body is cut at `BODY_BYTES` and the whole buffer at
`TOTAL_BYTES`, oldest dropped first. Formatting happens on read, so a request costs one tuple.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mocksrv.call import Call

BODY_BYTES = 16 * 1024
HEADER_BYTES = 16 * 1024
SIGNATURE_CHARS = 16 * 1024  # each of the canonical request and string-to-sign
TOTAL_BYTES = 8 * 1024 * 1024
LONG_PATH = 2048  # a longer request target: the headers are copied, the environ not kept
HEADER_ESTIMATE = 2048  # bytes counted per call for its headers and environ (not measured per call)
# credentials a client sent or an answer carried: shown cut, never whole
_SECRET_HEADERS = frozenset({"x-amz-security-token", "authorization-token"})
_SECRET_XML = re.compile(rb"(<(SecretAccessKey|SessionToken)>)([^<]{4})[^<]*(</\2>)")


def _cut(data: bytes, limit: int) -> tuple[bytes, int]:
    return (data if len(data) <= limit else data[:limit]), len(data)


class Exchanges:
    """request id -> (request headers, body, response status, headers, body, SigV4 computed)."""

    def __init__(self, total_bytes: int = TOTAL_BYTES) -> None:
        self.total_bytes = total_bytes
        self._items: OrderedDict[str, tuple[Any, ...]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def record(self, call: Call) -> None:
        """Keep references, not copies, on the usual path (`item_of`)."""
        item = item_of(call)
        if item is None:
            return
        size = item[-1]
        with self._lock:
            self._items[call.request_id] = item
            self._bytes += size
            while self._bytes > self.total_bytes and self._items:
                _, old = self._items.popitem(last=False)
                self._bytes -= old[-1]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def adopt(self, other: Exchanges) -> None:
        with other._lock:
            items = list(other._items.items())
        with self._lock:
            for key, item in items:
                self._items[key] = item
                self._bytes += item[-1]

    def get(self, request_id: str) -> dict[str, Any] | None:
        with self._lock:
            item = self._items.get(request_id)
        return _format(item) if item is not None else None

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "size": len(self._items),
                "bytes": self._bytes,
                "capacityBytes": self.total_bytes,
            }


def item_of(call: Call) -> tuple[Any, ...] | None:
    """What `call` sent and got back, as references (no copies on the usual path, a small body):
    the environ its header view is read from when someone opens the call, the bodies cut at
    BODY_BYTES with their sizes, the status, the answer's headers, the SigV4 texts, and the bytes
    it holds (last)."""
    response = call.response
    if response is None:
        return None
    req_body, req_size = call.peek_body(BODY_BYTES)
    res_body, res_size = _cut(response.get_data(), BODY_BYTES)
    # a large body or a long path: copy the headers now, so the environ (holding the body
    # and the path three times over) is not kept
    small = req_size <= BODY_BYTES and len(call.environ.get("REQUEST_URI") or "") <= LONG_PATH
    headers: Any = call.environ if small else call.headers.items()
    computed = _cut_text(call.signature_computed) if call.signature_computed else None
    size = len(req_body) + len(res_body) + HEADER_ESTIMATE
    if not small:
        size += sum(len(k) + len(v) for k, v in headers)
    if computed:
        size += sum(len(v) for v in computed.values())
    return (headers, req_body, req_size, response.status_code, response.headers, res_body,
            res_size, computed, size)  # fmt: skip


def exchange_of(call: Call) -> dict[str, Any] | None:
    """What `Exchanges.get` would answer for `call`, formatted now (a SQL state keeps it with
    the journal row; the environ cannot outlive the request there)."""
    response = call.response
    if response is None:
        return None
    req_body, req_size = call.peek_body(BODY_BYTES)
    res_body, res_size = _cut(response.get_data(), BODY_BYTES)
    computed = _cut_text(call.signature_computed) if call.signature_computed else None
    item = (call.headers.items(), req_body, req_size, response.status_code, response.headers,
            res_body, res_size, computed, 0)  # fmt: skip
    return _format(item)


def _format(item: tuple[Any, ...]) -> dict[str, Any]:
    headers, req_body, req_size, status, res_headers, res_body, res_size, computed, _ = item
    if isinstance(headers, dict):  # the environ
        from mocksrv.call import Headers

        headers = Headers(headers).items()
    out: dict[str, Any] = {
        "request": {
            "headers": _headers(headers),
            "body": _text(req_body),
            "bodyBytes": req_size,
            "bodyTruncated": req_size > len(req_body),
        },
        "response": {
            "status": status,
            "headers": _headers(list(res_headers.items())),
            "body": _text(_SECRET_XML.sub(rb"\1\3...\4", res_body)),
            "bodyBytes": res_size,
            "bodyTruncated": res_size > len(res_body),
        },
        "signature": computed or None,
    }
    return out


def _cut_text(computed: dict[str, str] | None) -> dict[str, str] | None:
    if not computed:
        return None
    return {
        k: v if len(v) <= SIGNATURE_CHARS else v[:SIGNATURE_CHARS] + f"... [{len(v)} characters]"
        for k, v in computed.items()
    }


def _headers(items: list[tuple[str, str]]) -> list[list[str]]:
    out, used = [], 0
    for name, value in items:
        if name.lower() in _SECRET_HEADERS and len(value) > 8:
            value = value[:8] + "..."
        used += len(name) + len(value)
        if used > HEADER_BYTES:
            out.append(["...", "(more headers not kept)"])
            break
        out.append([name, value])
    return out


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")

"""One HTTP/1.1 connection's requests, parsed strictly (RFC 9112) by llhttp through httptools.

llhttp, the C parser of Node.js, does the framing: methods, request targets, versions, header names
and values (no CTL, no obs-fold), Content-Length (ASCII digits, no overflow, no duplicates),
chunk sizes (HEXDIG with optional chunk-ext) and Content-Length beside Transfer-Encoding. On top of
it this module holds mocksrv's own rules: size limits (431, 413), HTTP/1.1 needs exactly one Host,
only HTTP/1.0 and 1.1 (505), only the chunked transfer coding (501), `Expect: 100-continue`, and
deadlines (a request head must arrive within HEAD_TIMEOUT in all; a body must keep moving).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import httptools

MAX_TARGET = 65536  # request target
MAX_FIELD = 65536  # one header line
MAX_HEADERS = 100
MAX_HEAD = 256 * 1024  # request line and all headers
MAX_CHUNK_LINE = 65536  # a chunk-size line with its extensions
HEAD_TIMEOUT = 10.0  # seconds from a request's first byte to its last header, not re-armed
BODY_TIMEOUT = 10.0  # seconds a body may go without BODY_STEP more bytes
BODY_STEP = 1024
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"

IDLE, HEAD, BODY = 0, 1, 2
_FRAMING = frozenset((b"host", b"content-length", b"transfer-encoding", b"expect"))
_KEYS: dict[bytes, str] = {}  # header name -> WSGI environ key, for the names seen most


def _environ_key(name: bytes) -> str:
    key = name.decode("latin-1").upper().replace("-", "_")
    if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        key = "HTTP_" + key
    if len(_KEYS) < 512:  # bounded: random names from a fuzzer must not grow it
        _KEYS[name] = key
    return key


class BadRequest(Exception):
    """Malformed or refused framing: answered with `status`, then the connection closes."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(slots=True)
class Request:
    method: str
    target: bytes
    version: str  # "HTTP/1.1"
    fields: dict[str, str]  # header fields as WSGI environ keys (HTTP_X_AMZ_DATE, CONTENT_TYPE)
    body: bytes
    keep_alive: bool


_STATUS_OF = {
    "Invalid HTTP version": (505, "HTTP version not supported"),
    "Request has invalid `Transfer-Encoding`": (501, "Unsupported Transfer-Encoding"),
}


class Parser:
    """Feeds received bytes to llhttp; complete requests (or the error that ends the connection)
    queue up in `ready`, in order. `phase` and `deadline` drive the server's timeouts."""

    def __init__(
        self,
        max_body: int,
        send: Any,
        idle_timeout: float,
        head_timeout: float = HEAD_TIMEOUT,
        body_timeout: float = BODY_TIMEOUT,
    ) -> None:
        self.max_body = max_body
        self.idle_timeout = idle_timeout
        self.head_timeout = head_timeout
        self.body_timeout = body_timeout
        self.send = send  # for 100 Continue
        self.ready: deque[Request | BadRequest] = deque()
        self.failed = False
        self._llhttp = httptools.HttpRequestParser(self)
        self._error: BadRequest | None = None
        self._idle()

    # -- state -----------------------------------------------------------------------------

    def _idle(self) -> None:
        self.phase = IDLE
        self.deadline = time.monotonic() + self.idle_timeout
        self._target = b""
        self._fields: dict[str, str] = {}
        self._count = 0
        self._hosts = 0
        self._length: bytes | None = None
        self._coding: bytes | None = None  # Transfer-Encoding
        self._expect = False
        self._head_bytes = 0  # bytes received while the head was incomplete
        self._head_size = 0  # the header fields parsed so far
        self._body: list[bytes] = []
        self._body_size = 0
        self._chunked = False
        self._framing = 0  # chunk-line bytes seen (chunked bodies)
        self._chunks = 0
        self._step_at = 0

    def feed(self, data: bytes) -> None:
        if self.failed:
            return
        if self.phase == IDLE:
            self.phase = HEAD
            self.deadline = time.monotonic() + self.head_timeout
        before = self._body_size
        try:
            self._llhttp.feed_data(data)
        except httptools.HttpParserUpgrade:
            # Upgrade or CONNECT: the request is served as a plain one, then the connection closes
            self.fail(BadRequest(400, "Protocol upgrade is not supported"), quiet=bool(self.ready))
            return
        except httptools.HttpParserError as exc:
            self.fail(self._error or self._map(exc))
            return
        if self.phase == HEAD:  # a head still incomplete: what llhttp holds for it is bounded too
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD + len(data):
                self.fail(BadRequest(431, "Request header fields too large"))
        elif self.phase == BODY and self._chunked:
            self._framing += len(data) - (self._body_size - before)
            # one receive may also hold the head or earlier pipelined requests: hence the 2x
            if self._framing > 2 * MAX_CHUNK_LINE + 32 * self._chunks:
                self.fail(BadRequest(400, "Chunk line too long"))

    def fail(self, error: BadRequest, *, quiet: bool = False) -> None:
        """End the connection after the queued requests; `quiet` closes without an answer."""
        self.failed = True
        if not quiet:
            self.ready.append(error)

    @staticmethod
    def _map(exc: Exception) -> BadRequest:
        message = str(exc)
        if isinstance(exc, httptools.HttpParserInvalidMethodError):
            return BadRequest(400, "Invalid method")
        if isinstance(exc, httptools.HttpParserInvalidURLError):
            return BadRequest(400, "Invalid request target")
        status, text = _STATUS_OF.get(message, (400, message or "Malformed request"))
        if "Content-Length" in message:
            text = "Invalid Content-Length: " + message
        return BadRequest(status, text)

    def _raise(self, status: int, message: str) -> None:
        self._error = BadRequest(status, message)
        raise self._error

    # -- llhttp callbacks ------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.phase == IDLE:  # a pipelined request that follows another in the same receive
            self.phase = HEAD
            self.deadline = time.monotonic() + self.head_timeout

    def on_url(self, part: bytes) -> None:
        self._target += part
        if len(self._target) > MAX_TARGET:
            self._raise(400, "Request target too long")

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.phase == BODY:
            return  # trailer fields are read and ignored
        size = len(name) + len(value) + 4
        self._head_size += size
        self._count += 1
        if self._count > MAX_HEADERS or size > MAX_FIELD or self._head_size > MAX_HEAD:
            self._raise(431, "Request header fields too large")
        value = value.strip(b" \t")
        lower = name.lower()
        if lower in _FRAMING:
            self._note_framing(lower, value)
        if b"_" in name:  # WSGI maps - and _ alike: drop _ names so they cannot spoof others
            return
        key = _KEYS.get(name) or _environ_key(name)
        text = value.decode("latin-1")
        fields = self._fields
        fields[key] = fields[key] + ", " + text if key in fields else text

    def _note_framing(self, lower: bytes, value: bytes) -> None:
        if lower == b"host":
            self._hosts += 1
        elif lower == b"content-length":
            self._length = value
        elif lower == b"transfer-encoding":
            self._coding = value if self._coding is None else self._coding + b", " + value
        else:
            self._expect = value.lower() == b"100-continue"

    def on_headers_complete(self) -> None:
        version = self._llhttp.get_http_version()
        if version not in ("1.1", "1.0"):
            self._raise(505, "HTTP version not supported")
        if version == "1.1" and self._hosts != 1:
            self._raise(400, "HTTP/1.1 needs exactly one Host header")
        size, coding = 0, self._coding
        if self._length is not None:
            if not self._length.isdigit():
                self._raise(400, "Invalid Content-Length")
            size = int(self._length)
        chunked = coding is not None
        if coding is not None and coding.lower() != b"chunked":
            self._raise(501, "Unsupported Transfer-Encoding")
        if size > self.max_body:
            self._raise(413, "Request body too large")
        self.phase = BODY
        self._chunked = chunked
        self.deadline = time.monotonic() + self.body_timeout
        if self._expect and (size or chunked):
            self.send(CONTINUE)

    def on_chunk_header(self) -> None:
        self._chunks += 1

    def on_body(self, part: bytes) -> None:
        self._body.append(part)
        self._body_size += len(part)
        if self._body_size > self.max_body:
            self._raise(413, "Request body too large")
        if self._body_size - self._step_at >= BODY_STEP:
            self._step_at = self._body_size
            self.deadline = time.monotonic() + self.body_timeout

    def on_message_complete(self) -> None:
        llhttp = self._llhttp
        self.ready.append(
            Request(
                llhttp.get_method().decode("ascii"),
                self._target,
                "HTTP/" + llhttp.get_http_version(),
                self._fields,
                b"".join(self._body),
                llhttp.should_keep_alive(),
            )
        )
        self._idle()

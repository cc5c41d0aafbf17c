"""One HTTP/1.1 connection's requests, parsed strictly (RFC 9112) by llhttp through httptools.

llhttp, the C parser of Node.js, does the framing: methods, request targets, versions, header names
and values (no CTL, no obs-fold), Content-Length (ASCII digits, no overflow, no duplicates),
chunk sizes (HEXDIG with optional chunk-ext) and Content-Length beside Transfer-Encoding. On top of
it this module holds mocksrv's own rules: size limits (431), HTTP/1.1 needs exactly one Host,
only HTTP/1.0 and 1.1 (505), only the chunked transfer coding (501), `Expect: 100-continue`, and
deadlines (a request head must arrive within HEAD_TIMEOUT in all; a body must keep moving).

Bodies are read under a cap known before they are held: up to FREE_BODY bytes without asking, and
past that the app's cap for this request (`body_cap`, asked once from the head alone). A body over
its cap is not read: the request goes to the app marked `refused_body`, so the API answers in its
own shape, and the connection then closes. A header field over MAX_FIELD is dropped and marked
`refused_field` in the same way. A body up to SPOOL bytes is held in memory; a larger one goes to
a temporary file as it arrives, which the server closes when the request ends.
"""

from __future__ import annotations

import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

import httptools

from mocksrv.http import MAX_FIELD  # one header line (a longer one reaches the app as a refusal)

MAX_TARGET = 65536  # request target
MAX_HEADERS = 100
MAX_HEAD = 256 * 1024  # request line and all headers
MAX_CHUNK_LINE = 65536  # a chunk-size line with its extensions
HEAD_TIMEOUT = 10.0  # seconds from a request's first byte to its last header, not re-armed
BODY_TIMEOUT = 10.0  # seconds a body may go without BODY_STEP more bytes
BODY_STEP = 1024
FREE_BODY = 64 * 1024  # body bytes read without asking the app for the request's cap
SPOOL = 1024 * 1024  # body bytes held in memory; a larger body goes to a temporary file
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


class _Refused(Exception):
    """Raised in an llhttp callback to stop parsing a body over its cap."""


@dataclass(slots=True)
class Request:
    method: str
    target: bytes
    version: str  # "HTTP/1.1"
    fields: dict[str, str]  # header fields as WSGI environ keys (HTTP_X_AMZ_DATE, CONTENT_TYPE)
    body: bytes | IO[bytes]  # the bytes, or a temporary file at its start (a body over SPOOL)
    keep_alive: bool
    size: int = 0  # the body's length (set by the parser; bytes bodies also have len())
    refused_body: int | None = None  # the cap the body exceeds: it was not read
    refused_field: str | None = None  # the name of a header field over MAX_FIELD (dropped)


_STATUS_OF = {
    "Invalid HTTP version": (505, "HTTP version not supported"),
    "Request has invalid `Transfer-Encoding`": (501, "Unsupported Transfer-Encoding"),
}


class Parser:
    """Feeds received bytes to llhttp; complete requests (or the error that ends the connection)
    queue up in `ready`, in order. `phase` and `deadline` drive the server's timeouts."""

    # slots: over 30 attributes an instance dict stops sharing its keys, and every attribute
    # access on the hot path gets slower (measured: 5 % more instructions per request)
    __slots__ = (
        "max_body", "body_cap", "_free", "idle_timeout", "head_timeout", "body_timeout", "send",
        "ready", "failed", "_llhttp", "_error", "phase", "deadline", "_target", "_fields",
        "_count", "_hosts", "_length", "_coding", "_expect", "_head_bytes", "_head_size",
        "_body", "_body_size", "_spool", "_cap", "_asked", "_refusing", "_refused_field",
        "_chunked", "_framing", "_chunks", "_step_at",
    )  # fmt: skip

    def __init__(
        self,
        max_body: int,
        send: Any,
        idle_timeout: float,
        head_timeout: float = HEAD_TIMEOUT,
        body_timeout: float = BODY_TIMEOUT,
        body_cap: Callable[[Request], int] | None = None,
    ) -> None:
        self.max_body = max_body  # the cap when `body_cap` is not given, and the most it may say
        self.body_cap = body_cap  # the app's cap for a request, from its head (a Request, no body)
        self._free = min(FREE_BODY, max_body)
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
        self._spool: IO[bytes] | None = None
        self._cap = self._free  # until the app is asked; then its cap for this request
        self._asked = False
        self._refusing = False
        self._refused_field: str | None = None
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
            if self._refusing:  # the app answers it (in its API's shape), then the connection ends
                self.ready.append(
                    self._head(refused_body=self._cap, refused_field=self._refused_field)
                )
                self.failed = True
                return
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

    def close(self) -> None:
        """Let go of what the connection holds (a body in progress, queued requests' files)."""
        self._release()
        for item in self.ready:
            if isinstance(item, Request) and not isinstance(item.body, bytes):
                item.body.close()
        self.ready.clear()

    def _release(self) -> None:
        self._body = []
        if self._spool is not None:
            self._spool.close()
            self._spool = None

    def _head(self, **extra: Any) -> Request:
        llhttp = self._llhttp
        method, version = llhttp.get_method().decode("ascii"), "HTTP/" + llhttp.get_http_version()
        return Request(method, self._target, version, self._fields, b"", False, **extra)

    def _over_cap(self, size: int) -> None:
        """`size` body bytes (declared or received) passed the cap in force: ask the app for
        this request's cap the first time, and refuse the body if it is over that too."""
        if not self._asked:
            self._asked = True
            cap = self.body_cap(self._head()) if self.body_cap is not None else self.max_body
            self._cap = min(cap, self.max_body)
            if size <= self._cap:
                return
        self._release()
        self._refusing = True
        raise _Refused()

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
        if self._count > MAX_HEADERS or self._head_size > MAX_HEAD:
            self._raise(431, "Request header fields too large")
        lower = name.lower()
        if size > MAX_FIELD:  # the app answers it in its API's shape; framing stays ours
            if lower in _FRAMING:
                self._raise(431, "Request header fields too large")
            self._refused_field = self._refused_field or lower.decode("latin-1")
            return
        value = value.strip(b" \t")
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
        self.phase = BODY
        self._chunked = chunked
        self.deadline = time.monotonic() + self.body_timeout
        if size > self._cap:  # refused before a byte of the body is read (no 100 Continue)
            self._over_cap(size)
        if self._expect and (size or chunked):
            self.send(CONTINUE)

    def on_chunk_header(self) -> None:
        self._chunks += 1

    def on_body(self, part: bytes) -> None:
        size = self._body_size = self._body_size + len(part)
        if size > self._cap:  # a chunked body (a declared length was checked with the head)
            self._over_cap(size)
        if self._spool is not None:
            self._spool.write(part)
        else:
            self._body.append(part)
            if size > SPOOL:  # large: to a file as it arrives, never one bytes object
                # closed when the request ends (the server) or the connection does (close())
                self._spool = tempfile.TemporaryFile()  # noqa: SIM115
                self._spool.writelines(self._body)
                self._body = []
        if size - self._step_at >= BODY_STEP:
            self._step_at = size
            self.deadline = time.monotonic() + self.body_timeout

    def on_message_complete(self) -> None:
        llhttp = self._llhttp
        body: bytes | IO[bytes]
        if self._spool is not None:
            body, self._spool = self._spool, None
            body.seek(0)
        else:
            body = b"".join(self._body)
        self.ready.append(
            Request(
                llhttp.get_method().decode("ascii"),
                self._target,
                "HTTP/" + llhttp.get_http_version(),
                self._fields,
                body,
                llhttp.should_keep_alive(),
                self._body_size,
                None,
                self._refused_field,
            )
        )
        self._idle()

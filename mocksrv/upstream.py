"""The client side of HTTP/1.1 for `mocksrv record` and `mocksrv conform`: targets, connections to
them (a CA bundle, `--connect-to`), and whole messages read off a socket as the bytes received."""

from __future__ import annotations

import re
import select
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import urlsplit

MAX_HEAD = 64 * 1024  # request or status line and all headers
MAX_LINE = 8 * 1024  # a chunk-size line or a trailer line
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_TOKEN = re.compile(rb"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


class WireError(Exception):
    """A message that cannot be read: `status` is the answer a server gives for it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Target:
    """Where requests go: the scheme, and the host name and port the URL names (the name is
    also the TLS server name and the certificate's)."""

    scheme: str
    host: str
    port: int

    @property
    def netloc(self) -> str:
        default = 443 if self.scheme == "https" else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.netloc}"


def parse_target(text: str) -> Target:
    """`https://host[:port]` (or http); ValueError says what is wrong."""
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {text!r}")
    if parts.path not in ("", "/") or parts.query or parts.username:
        raise ValueError(f"give the scheme, host and port only, not a path or user: {text!r}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ValueError(f"bad port in {text!r}") from None
    return Target(parts.scheme, parts.hostname.lower(), port)


def parse_connect_to(text: str) -> tuple[str, tuple[str, int]]:
    """`NAME=ADDRESS:PORT`: connections for host NAME go to ADDRESS:PORT instead."""
    name, sep, where = text.partition("=")
    addr, colon, port = where.rpartition(":")
    if not sep or not name or not colon or not addr or not port.isdigit():
        raise ValueError(f"expected NAME=ADDRESS:PORT, not {text!r}")
    if not 0 < int(port) < 65536:
        raise ValueError(f"port must be 1-65535: {text!r}")
    return name.strip().lower(), (addr.strip("[]"), int(port))


class Connector:
    """Opens connections to targets: TCP to the target's address (or the `--connect-to` one),
    TLS with the target's host name as server name, checked against the system's CAs or a
    bundle."""

    def __init__(
        self,
        connect_to: dict[str, tuple[str, int]] | None = None,
        ca_bundle: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.connect_to = dict(connect_to or {})
        self.timeout = timeout
        self.context = ssl.create_default_context(cafile=ca_bundle)
        self.context.set_alpn_protocols(["http/1.1"])

    def address(self, target: Target) -> tuple[str, int]:
        return self.connect_to.get(target.host, (target.host, target.port))

    def open(self, target: Target) -> socket.socket:
        """A connected socket (OSError, ssl.SSLError on failure)."""
        sock = socket.create_connection(self.address(target), timeout=min(self.timeout, 10.0))
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if target.scheme == "https":
                sock = self.context.wrap_socket(sock, server_hostname=target.host)
            sock.settimeout(self.timeout)
        except BaseException:
            sock.close()
            raise
        return sock


class Message(NamedTuple):
    """One HTTP message: `raw` is every byte received for it, framing included."""

    raw: bytes
    start: str  # the request line or the status line
    headers: list[tuple[str, str]]  # names and values as received, in order
    body: bytes  # the content (a chunked body decoded)

    def header(self, name: str) -> str | None:
        lower = name.lower()
        return next((v for k, v in self.headers if k.lower() == lower), None)

    @property
    def method(self) -> str:
        return self.start.split(" ", 1)[0]

    @property
    def target(self) -> str:
        return self.start.split(" ")[1]

    @property
    def status(self) -> int:
        return int(self.start.split(" ")[1])


class Reader:
    """Buffered reads of one socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""
        self.eof = False

    def _fill(self) -> bool:
        if self.eof:
            return False
        data = self.sock.recv(65536)
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def until(self, mark: bytes, limit: int, status: int) -> bytes | None:
        """Bytes up to and including `mark`; None at EOF before any byte."""
        while True:
            at = self.buf.find(mark)
            if at >= 0:
                out, self.buf = self.buf[: at + len(mark)], self.buf[at + len(mark) :]
                return out
            if len(self.buf) > limit:
                raise WireError(status, "header section too large")
            if not self._fill():
                if not self.buf:
                    return None
                raise WireError(400, "connection closed in the middle of a message")

    def exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise WireError(400, "connection closed in the middle of a body")
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def rest(self, limit: int) -> bytes:
        while self._fill():
            if len(self.buf) > limit:
                raise WireError(502, "body too large")
        out, self.buf = self.buf, b""
        return out


def _head(raw: bytes) -> tuple[str, list[tuple[str, str]]]:
    lines = raw[:-4].split(b"\r\n")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.match(name) or b"\n" in value or b"\r" in value:
            raise WireError(400, "malformed header line")
        headers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
    return lines[0].decode("latin-1"), headers


def _body(reader: Reader, headers: list[tuple[str, str]], max_body: int) -> tuple[bytes, bytes]:
    """(raw body bytes, content) by Transfer-Encoding or Content-Length; (b"", b"") if neither."""
    coding = [v.strip().lower() for k, v in headers if k.lower() == "transfer-encoding"]
    lengths = {v.strip() for k, v in headers if k.lower() == "content-length"}
    if coding:
        if coding != ["chunked"] or lengths:
            raise WireError(501, "only the chunked transfer coding is supported")
        return _chunked(reader, max_body)
    if len(lengths) > 1 or any(not n.isdigit() for n in lengths):
        raise WireError(400, "bad Content-Length")
    size = int(lengths.pop()) if lengths else 0
    if size > max_body:
        raise WireError(413, f"body over {max_body} bytes")
    data = reader.exact(size)
    return data, data


def _chunked(reader: Reader, max_body: int) -> tuple[bytes, bytes]:
    raw, content = [], []
    total = 0
    while True:
        line = reader.until(b"\r\n", MAX_LINE, 400)
        if line is None:
            raise WireError(400, "connection closed in a chunked body")
        raw.append(line)
        size_text = line.split(b";", 1)[0].strip()
        if not size_text or not re.fullmatch(rb"[0-9A-Fa-f]{1,16}", size_text):
            raise WireError(400, "bad chunk size")
        size = int(size_text, 16)
        if size == 0:
            break
        total += size
        if total > max_body:
            raise WireError(413, f"body over {max_body} bytes")
        chunk = reader.exact(size + 2)
        if chunk[-2:] != b"\r\n":
            raise WireError(400, "chunk not followed by CRLF")
        raw.append(chunk)
        content.append(chunk[:-2])
    while True:  # trailer fields, then the empty line
        line = reader.until(b"\r\n", MAX_LINE, 400)
        if line is None:
            raise WireError(400, "connection closed in a chunked body")
        raw.append(line)
        if line == b"\r\n":
            return b"".join(raw), b"".join(content)


def read_request(
    reader: Reader, max_body: int, on_continue: Callable[[], None] | None = None
) -> Message | None:
    """The next request (None: the client closed the connection between requests)."""
    head = reader.until(b"\r\n\r\n", MAX_HEAD, 431)
    if head is None:
        return None
    start, headers = _head(head)
    parts = start.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[0].isalpha():
        raise WireError(400, "malformed request line")
    expect = next((v for k, v in headers if k.lower() == "expect"), "")
    if expect.lower() == "100-continue" and on_continue is not None and not reader.buf:
        on_continue()
    raw_body, body = _body(reader, headers, max_body)
    return Message(head + raw_body, start, headers, body)


def read_response(reader: Reader, method: str, max_body: int) -> Message:
    """The final response to a request made with `method` (1xx interim answers are dropped)."""
    while True:
        head = reader.until(b"\r\n\r\n", MAX_HEAD, 502)
        if head is None:
            raise WireError(502, "the target closed the connection without answering")
        start, headers = _head(head)
        parts = start.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise WireError(502, "malformed status line from the target")
        status = int(parts[1])
        if 100 <= status < 200:
            continue
        if method == "HEAD" or status in (204, 304):
            return Message(head, start, headers, b"")
        framed = any(k.lower() in ("content-length", "transfer-encoding") for k, _ in headers)
        if framed:
            raw_body, body = _body(reader, headers, max_body)
        else:  # delimited by the end of the connection
            raw_body = body = reader.rest(max_body)
        return Message(head + raw_body, start, headers, body)


def closes(message: Message) -> bool:
    """True if the connection ends after `message` (Connection: close, or HTTP/1.0 without
    keep-alive)."""
    connection = (message.header("connection") or "").lower()
    if "close" in connection:
        return True
    old = message.start.endswith(" HTTP/1.0") or message.start.startswith("HTTP/1.0 ")
    return old and "keep-alive" not in connection


class Link:
    """Kept connections to targets, one per target: a request's bytes go out as given, its answer
    comes back whole. A connection the target closed meanwhile is opened anew before sending."""

    def __init__(self, connector: Connector, max_body: int) -> None:
        self.connector, self.max_body = connector, max_body
        self._held: dict[Target, tuple[socket.socket, Reader]] = {}

    def exchange(self, target: Target, raw: bytes, method: str) -> tuple[Message, bool]:
        """Send `raw` (one whole request) and read the answer: (answer, whether the target's
        connection ended with it). OSError or WireError when the target does not answer."""
        held = self._held.get(target)
        if held is not None and _stale(held[0]):
            self._drop(target)
            held = None
        if held is None:
            sock = self.connector.open(target)
            held = self._held[target] = (sock, Reader(sock))
        sock, reader = held
        try:
            sock.sendall(raw)
            response = read_response(reader, method, self.max_body)
        except BaseException:
            self._drop(target)
            raise
        ended = reader.eof or closes(response)
        if ended:
            self._drop(target)
        return response, ended

    def _drop(self, target: Target) -> None:
        held = self._held.pop(target, None)
        if held is not None:
            held[0].close()

    def close(self) -> None:
        for target in list(self._held):
            self._drop(target)


def _stale(sock: socket.socket) -> bool:
    """True if a kept connection was closed by the target (readable with nothing asked)."""
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)

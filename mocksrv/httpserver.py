"""A lean threaded HTTP/1.1 WSGI server: one thread per connection, the app runs inline.

Why not waitress (still available with `--server waitress`): profiling showed two thirds of the CPU
per request in waitress's pure-Python header parser, its asyncore loop and the hand-off between its
I/O thread and its workers. Here a connection's thread reads the request with C-level buffered
`readline`, calls the app and writes the answer with one `sendall`; header names keep the case the
app gave them; a connection can be dropped or reset on purpose (transport faults).
"""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from email.utils import formatdate
from typing import Any
from urllib.parse import unquote_to_bytes

log = logging.getLogger("mocksrv.http")

MAX_LINE = 65536  # request line or one header line
MAX_HEADERS = 100
HANDSHAKE_TIMEOUT = 10.0  # seconds for a TLS handshake
MAX_HEADER_BYTES = 256 * 1024
SOCKET_KEY = "mocksrv.socket"  # environ: the client socket (transport faults reset it)
_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_REASONS = {400: "Bad Request", 413: "Content Too Large", 431: "Request Header Fields Too Large"}
_REASONS |= {501: "Not Implemented", 505: "HTTP Version Not Supported"}


class DropConnection(Exception):
    """Raised by the app (transport faults) to close the connection without an answer."""


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


_date_cache: tuple[int, str] = (0, "")


def http_date() -> str:
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]


class LeanServer:
    """Accepts on one socket; each connection is served by its own daemon thread."""

    def __init__(
        self,
        app: Callable[..., Iterable[bytes]],
        host: str,
        port: int,
        *,
        idle_timeout: float = 180.0,
        max_body: int = 5 * 1024**3,
        max_connections: int = 1000,
        ssl_context: Any = None,
    ) -> None:
        self.app = app
        self.ssl_context = ssl_context
        self.url_scheme = "https" if ssl_context is not None else "http"
        self.idle_timeout = idle_timeout
        self.max_body = max_body
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.create_server((host, port), family=family, backlog=1024)
        self.effective_port = self.socket.getsockname()[1]
        self.server_name = host
        self._slots = threading.BoundedSemaphore(max_connections)
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False

    def run(self) -> None:
        """Accept until close(); returns then."""
        while not self._closed:
            try:
                conn, addr = self.socket.accept()
            except OSError:
                if self._closed:
                    return
                continue
            if not self._slots.acquire(timeout=5):
                conn.close()
                continue
            with self._lock:
                self._conns.add(conn)
            threading.Thread(
                target=self._serve, args=(conn, addr), name="mocksrv-conn", daemon=True
            ).start()

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self.socket.shutdown(socket.SHUT_RDWR)
        self.socket.close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def _serve(self, conn: socket.socket, addr: Any) -> None:
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.ssl_context is not None:
                conn.settimeout(HANDSHAKE_TIMEOUT)
                raw, conn = conn, self.ssl_context.wrap_socket(conn, server_side=True)
                with self._lock:  # close() shuts down what is in the set
                    self._conns.discard(raw)
                    self._conns.add(conn)
            conn.settimeout(self.idle_timeout)
            Connection(self, conn, addr).serve()
        except (OSError, DropConnection):
            pass
        except Exception:  # never let a connection thread die loudly
            log.exception("connection from %s failed", addr)
        finally:
            with self._lock:
                self._conns.discard(conn)
            with contextlib.suppress(OSError):
                conn.close()
            self._slots.release()


class Connection:
    """One keep-alive connection: read a request, answer it, repeat."""

    def __init__(self, server: LeanServer, sock: socket.socket, addr: Any) -> None:
        self.server = server
        self.sock = sock
        self.rfile = sock.makefile("rb", buffering=65536)
        self.addr = addr

    def serve(self) -> None:
        try:
            while not self.server._closed:
                try:
                    environ = self._read_request()
                except BadRequest as exc:
                    self._send_error(exc.status, str(exc))
                    return
                if environ is None:
                    return
                if not self._respond(environ):
                    return
        finally:
            self.rfile.close()

    # -- reading ---------------------------------------------------------------------------

    def _read_request(self) -> dict[str, Any] | None:
        line = self.rfile.readline(MAX_LINE + 1)
        while line in (b"\r\n", b"\n"):  # tolerate blank lines between requests (RFC 9112)
            line = self.rfile.readline(MAX_LINE + 1)
        if not line:
            return None
        if len(line) > MAX_LINE or not line.endswith(b"\n"):
            raise BadRequest(400, "Request line too long")
        parts = line.split()
        if len(parts) != 3:
            raise BadRequest(400, "Malformed request line")
        method, target, version = parts
        if not version.startswith(b"HTTP/1."):
            raise BadRequest(505, "Only HTTP/1.x is supported")
        environ = self._base_environ(method, target, version)
        self._read_headers(environ)
        body = self._read_body(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body)) if body else environ.get("CONTENT_LENGTH", "")
        return environ

    def _base_environ(self, method: bytes, target: bytes, version: bytes) -> dict[str, Any]:
        raw = target.decode("latin-1")
        if raw.startswith(("http://", "https://")):  # absolute form: keep the path only
            rest = raw.split("://", 1)[1]
            raw = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
        path, _, query = raw.partition("?")
        path = path.split("#", 1)[0]
        return {
            "REQUEST_METHOD": method.decode("latin-1"),
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
            "QUERY_STRING": query.split("#", 1)[0],
            "REQUEST_URI": raw,
            "RAW_URI": raw,
            "SERVER_NAME": self.server.server_name,
            "SERVER_PORT": str(self.server.effective_port),
            "SERVER_PROTOCOL": version.decode("latin-1"),
            "REMOTE_ADDR": str(self.addr[0]) if self.addr else "",
            "REMOTE_PORT": str(self.addr[1]) if self.addr else "",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": self.server.url_scheme,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
            SOCKET_KEY: self.sock,
        }

    def _read_headers(self, environ: dict[str, Any]) -> None:
        total = 0
        for _ in range(MAX_HEADERS + 1):
            line = self.rfile.readline(MAX_LINE + 1)
            total += len(line)
            if len(line) > MAX_LINE or total > MAX_HEADER_BYTES:
                raise BadRequest(431, "Request header fields too large")
            if line in (b"\r\n", b"\n"):
                return
            if not line:
                raise BadRequest(400, "Incomplete request headers")
            name, sep, value = line.partition(b":")
            if not sep or not name or not _TOKEN.issuperset(name):
                raise BadRequest(400, "Invalid header line")
            if b"_" in name:  # WSGI maps - and _ alike: drop _ names so they cannot spoof others
                continue
            key = name.decode("latin-1").upper().replace("-", "_")
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                key = "HTTP_" + key
            text = value.strip(b" \t\r\n").decode("latin-1")
            if key in environ:
                if key == "CONTENT_LENGTH":
                    raise BadRequest(400, "Duplicate Content-Length")
                environ[key] += ", " + text
            else:
                environ[key] = text
        raise BadRequest(431, "Too many request headers")

    def _read_body(self, environ: dict[str, Any]) -> bytes:
        te = environ.pop("HTTP_TRANSFER_ENCODING", "").strip().lower()
        length = environ.get("CONTENT_LENGTH", "")
        if te and length:
            raise BadRequest(400, "Both Transfer-Encoding and Content-Length")
        if te and te != "chunked":
            raise BadRequest(501, "Unsupported Transfer-Encoding")
        if length and not length.isdigit():
            raise BadRequest(400, "Invalid Content-Length")
        size = int(length) if length else 0
        if size > self.server.max_body:
            raise BadRequest(413, "Request body too large")
        if (te or size) and environ.get("HTTP_EXPECT", "").lower() == "100-continue":
            self.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if te:
            return self._read_chunked()
        if not size:
            return b""
        body = self.rfile.read(size)
        if len(body) < size:
            raise OSError("client closed during the body")
        return body

    def _read_chunked(self) -> bytes:
        out = io.BytesIO()
        while True:
            line = self.rfile.readline(MAX_LINE + 1)
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise BadRequest(400, "Invalid chunk size") from None
            if size < 0 or out.tell() + size > self.server.max_body:
                raise BadRequest(413, "Request body too large")
            if size == 0:
                while self.rfile.readline(MAX_LINE + 1) not in (b"\r\n", b"\n", b""):
                    pass  # trailers are ignored
                return out.getvalue()
            out.write(self.rfile.read(size))
            self.rfile.readline(MAX_LINE + 1)  # the CRLF after the chunk

    # -- answering -------------------------------------------------------------------------

    def _respond(self, environ: dict[str, Any]) -> bool:
        """Run the app and send its answer; False when the connection must close."""
        state: dict[str, Any] = {}

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            state["status"], state["headers"] = status, headers
            return lambda data: None

        result = self.server.app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        if "status" not in state:
            raise DropConnection("the app answered nothing")
        keep = self._keep_alive(environ)
        head, declared = self._head(state["status"], state["headers"], len(body), keep)
        head_only = environ["REQUEST_METHOD"] == "HEAD"
        self.sock.sendall(head if head_only else head + body)
        truncated = not head_only and declared is not None and declared != len(body)
        return keep and not truncated

    @staticmethod
    def _keep_alive(environ: dict[str, Any]) -> bool:
        connection = environ.get("HTTP_CONNECTION", "").lower()
        if environ["SERVER_PROTOCOL"] == "HTTP/1.0":
            return "keep-alive" in connection
        return "close" not in connection

    @staticmethod
    def _head(
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
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), declared

    def _send_error(self, status: int, message: str) -> None:
        body = ('{"message":"' + message + '"}').encode()
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        with contextlib.suppress(OSError):
            self.sock.sendall(head.encode() + body)

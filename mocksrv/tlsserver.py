"""The HTTPS listener (`serve --tls-port`): mocksrv's HTTP/1.1 server with TLS on its sockets.

It is a `LeanServer` of its own (its own loop and workers beside the plain server's), with three
differences, all because TLS records are not bytes:
- the handshake runs on a handshake worker (10 s at most), not in the loop;
- the loop never reads a TLS socket (a partial record would make it wait): a readable connection
  goes to a worker, which reads and parses what arrived and gives it back if the request is not
  complete yet, so idle and slow clients still hold no thread;
- answers written by the loop (a 408 after a deadline) go through TLS, not to the descriptor.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
from typing import Any

from mocksrv.httpserver import LINGER, Conn, LeanServer
from mocksrv.httpwsgi import App
from mocksrv.workers import Workers

log = logging.getLogger("mocksrv.http")
HANDSHAKE_TIMEOUT = 10.0  # seconds for the whole TLS handshake
HANDSHAKES = 256  # handshakes in progress at once; more wait in the backlog of the pool


class TLSConn(Conn):
    __slots__ = ()

    def send(self, data: bytes) -> None:
        with contextlib.suppress(OSError):
            self.sock.send(data)


class TLSServer(LeanServer):
    url_scheme = "https"

    def __init__(
        self, app: App, host: str, port: int, context: ssl.SSLContext, **options: Any
    ) -> None:
        super().__init__(app, host, port, **options)
        self.context = context
        self._handshakes = Workers(self._handshake, keep=1, limit=HANDSHAKES)

    def close(self) -> None:
        self._handshakes.close()
        super().close()

    def _accept(self) -> None:
        for _ in range(64):
            try:
                sock, addr = self.socket.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("accept failed: %s", exc)
                return
            if len(self._all) >= self.max_connections and not self._evict():
                sock.close()
                continue
            self._handshakes.submit((sock, addr))

    def _handshake(self, item: tuple[socket.socket, Any]) -> None:
        sock, addr = item
        try:
            sock.settimeout(HANDSHAKE_TIMEOUT)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            tls = self.context.wrap_socket(sock, server_side=True)
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError; a timeout too
            log.debug("TLS handshake with %s failed: %s", addr, exc)
            with contextlib.suppress(OSError):
                sock.close()
            return
        tls.settimeout(LINGER)
        conn = TLSConn(tls, addr, self)
        with self._lock:
            self._all.add(conn)
        self._park(conn)  # the loop registers it

    def _register(self, conn: Conn) -> None:
        pending = isinstance(conn.sock, ssl.SSLSocket) and conn.sock.pending()
        if pending:  # decrypted bytes already read: the descriptor may never become readable
            self.workers.submit(conn)
            return
        super()._register(conn)

    def _readable(self, conn: Conn) -> None:
        if conn.closing:  # an error answer was sent: no draining through TLS, just close
            self._drop(conn)
            return
        self._unregister(conn)
        self.workers.submit(conn)  # the worker reads, parses, answers or gives it back

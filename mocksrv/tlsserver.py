"""The HTTPS listener (`serve --tls-port`): mocksrv's HTTP/1.1 server with TLS on its sockets.

It is a `LeanServer` of its own (its own loop and workers beside the plain server's), with three
differences, all because TLS records are not bytes:
- the handshake runs on the loop, non-blocking: each connection's handshake advances when its
  socket is ready (`SSLWantReadError`/`SSLWantWriteError` say which way) and is given up after
  HANDSHAKE_TIMEOUT, so a client that stalls mid-handshake costs a socket, never a thread, and
  cannot hold a new client up;
- the loop never reads a TLS socket once handshaken (a partial record would make it wait): a
  readable connection goes to a worker, which reads and parses what arrived and gives it back if
  the request is not complete yet, so idle and slow clients still hold no thread;
- answers written by the loop (a 408 after a deadline) go through TLS, not to the descriptor.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import ssl
import time
from typing import Any

from mocksrv.httpserver import ACCEPT_BATCH, LINGER, Conn, LeanServer
from mocksrv.httpwsgi import App

log = logging.getLogger("mocksrv.http")
HANDSHAKE_TIMEOUT = 10.0  # seconds for the whole TLS handshake


class TLSConn(Conn):
    __slots__ = ()

    def send(self, data: bytes) -> None:
        with contextlib.suppress(OSError):
            self.sock.send(data)


class Handshake:
    """A connection whose TLS handshake is in progress on the loop."""

    __slots__ = ("tls", "addr", "deadline", "events")

    def __init__(self, tls: ssl.SSLSocket, addr: Any) -> None:
        self.tls, self.addr = tls, addr
        self.deadline = time.monotonic() + HANDSHAKE_TIMEOUT
        self.events = selectors.EVENT_READ  # what the selector waits for on its socket


class TLSServer(LeanServer):
    url_scheme = "https"

    def __init__(
        self, app: App, host: str, port: int, context: ssl.SSLContext, **options: Any
    ) -> None:
        super().__init__(app, host, port, **options)
        self.context = context
        self._handshakes: set[Handshake] = set()  # owned by the loop thread alone

    def _accept(self) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                sock, addr = self.socket.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("accept failed: %s", exc)
                return
            if len(self._all) + len(self._handshakes) >= self.max_connections and not (
                self._evict()
            ):
                sock.close()
                continue
            try:
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                tls = self.context.wrap_socket(
                    sock, server_side=True, do_handshake_on_connect=False
                )
            except (OSError, ValueError) as exc:
                log.debug("TLS set-up with %s failed: %s", addr, exc)
                sock.close()
                continue
            shake = Handshake(tls, addr)
            self._handshakes.add(shake)
            self._selector.register(tls, selectors.EVENT_READ, shake)

    def _evict(self) -> bool:
        """At the connection cap: the oldest unfinished handshake goes first, then the
        longest-idle connection."""
        if self._handshakes:
            self._end(min(self._handshakes, key=lambda h: h.deadline))
            return True
        return super()._evict()

    def _readable(self, conn: Any) -> None:
        if conn.__class__ is Handshake:
            self._advance(conn)
            return
        if conn.closing:  # an error answer was sent: no draining through TLS, just close
            self._drop(conn)
            return
        self._unregister(conn)
        self.workers.submit(conn)  # the worker reads, parses, answers or gives it back

    def _advance(self, shake: Handshake) -> None:
        """One step of a handshake, as far as the bytes that arrived allow."""
        tls = shake.tls
        try:
            tls.do_handshake()
        except ssl.SSLWantReadError:
            self._wait(shake, selectors.EVENT_READ)
            return
        except ssl.SSLWantWriteError:  # our flight did not fit the send buffer
            self._wait(shake, selectors.EVENT_WRITE)
            return
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError; a reset too
            log.debug("TLS handshake with %s failed: %s", shake.addr, exc)
            self._end(shake)
            return
        self._end(shake, keep=True)
        tls.settimeout(LINGER)  # blocking with a timeout from now on, as plain connections
        conn = TLSConn(tls, shake.addr, self)
        with self._lock:
            self._all.add(conn)
        self._register(conn)

    def _wait(self, shake: Handshake, events: int) -> None:
        if shake.events != events:
            shake.events = events
            self._selector.modify(shake.tls, events, shake)

    def _end(self, shake: Handshake, *, keep: bool = False) -> None:
        self._handshakes.discard(shake)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(shake.tls)
        if not keep:
            with contextlib.suppress(OSError):
                shake.tls.close()

    def _sweep(self, now: float) -> None:
        super()._sweep(now)
        for shake in [h for h in self._handshakes if now >= h.deadline]:
            log.debug("TLS handshake with %s timed out", shake.addr)
            self._end(shake)

    def _shutdown(self) -> None:
        for shake in list(self._handshakes):
            self._end(shake)
        super()._shutdown()

    def _register(self, conn: Conn) -> None:
        pending = isinstance(conn.sock, ssl.SSLSocket) and conn.sock.pending()
        if pending:  # decrypted bytes already read: the descriptor may never become readable
            self.workers.submit(conn)
            return
        super()._register(conn)

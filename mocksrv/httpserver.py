"""mocksrv's HTTP/1.1 WSGI server: one event loop for connections, worker threads for requests.

- One thread runs a `selectors` loop (epoll on Linux) that accepts, reads and parses (llhttp via
  httptools, see `mocksrv.http1`). A connection costs no thread while it is idle or still sending
  its request, so idle keep-alive clients and slow senders cannot lock anyone out.
- A request the app's `inline(environ)` hook allows (a short call that never sleeps) is answered
  on the loop itself (`mocksrv.httpinline`); on SQLite the writes of a turn's requests share a
  transaction (the app's `turn` hook). An answer the client's socket cannot take at once, and
  every other request, goes to a worker.
- A connection holding a complete request goes to a worker thread (`mocksrv.workers`), which runs
  the app and answers with one `sendall`. The worker then waits up to LINGER for the client's next
  request and serves it inline (a busy keep-alive client never pays a hand-off); otherwise it gives
  the connection back to the loop.
- Deadlines: idle keep-alive `idle_timeout`; a request head within 10 s of its first byte in all; a
  body must keep moving (see `mocksrv.http1`). Malformed framing gets a 4xx/5xx answer, then close.
- Bodies: past 64 KiB the app's `body_cap(environ)` hook (the head's environ, no body) gives the
  request's cap; a body over it is not read, the app answers the request marked as refused, and
  the connection then closes. Large bodies are spooled to a temporary file, closed after the answer.
- At the open-connection cap, the longest-idle connection is closed to admit a new one.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from mocksrv.http1 import BODY_TIMEOUT, HEAD, HEAD_TIMEOUT, IDLE, BadRequest, Request
from mocksrv.httpconn import Conn, raise_nofile_limit, send_all
from mocksrv.httpinline import answer_inline
from mocksrv.httpwsgi import (
    SOCKET_KEY,
    App,
    DropConnection,
    environ_of,
    error_bytes,
    http_date,
    respond,
)
from mocksrv.workers import Workers

__all__ = ["SOCKET_KEY", "DropConnection", "LeanServer", "http_date"]
log = logging.getLogger("mocksrv.http")

LINGER = 0.5  # seconds a worker waits for a keep-alive client's next request before parking it
SWEEP = 0.5  # seconds between deadline checks
CLOSING = 2.0  # seconds to drain a client's unread bytes after an error answer (no RST)
ACCEPT_BATCH = 64  # connections accepted per loop turn, so reading is not starved
RECV = 65536
_LISTEN, _WAKE = object(), object()


class LeanServer:
    def __init__(
        self,
        app: App,
        host: str,
        port: int,
        *,
        idle_timeout: float = 180.0,
        max_body: int = 5 * 1024**3,
        threads: int = 8,
        max_workers: int = 1000,
        max_connections: int | None = None,
        reuse_port: bool = False,
        body_cap: Callable[[dict[str, Any]], int] | None = None,
        inline: Callable[[dict[str, Any]], bool] | None = None,
        tick: Callable[[], None] | None = None,
        turn: Any = None,
    ) -> None:
        self.app = app
        self.inline = inline  # the app's hook: may this request be answered on the loop?
        self.tick = tick  # the app's hook, after each turn of the loop (the state's commits)
        # the app's hook for the requests answered on the loop: `turn.serve(fn, conn)` runs
        # `fn(conn)` and may return before it is done (its write parked); `turn.end()`, after
        # each turn, finishes them (`mocksrv.state.turn`: group commit per turn)
        self.turn = turn
        self.body_cap = body_cap  # the app's hook: a request's body cap from its head's environ
        self.idle_timeout = idle_timeout
        self.head_timeout = HEAD_TIMEOUT  # tests shorten these
        self.body_timeout = BODY_TIMEOUT
        self.max_body = max_body
        nofile = raise_nofile_limit()
        self.max_connections = max_connections or max(64, nofile - 128)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # reuse_port: several processes listen on one port, the kernel spreads connections
        self.socket = socket.create_server(
            (host, port), family=family, backlog=4096, reuse_port=reuse_port
        )
        self.socket.setblocking(False)
        self.effective_port = self.socket.getsockname()[1]
        self.server_name = host
        self.workers = Workers(self._work, keep=threads, limit=max_workers)
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._parked: deque[Conn] = deque()
        self._loop_conns: set[Conn] = set()  # registered with the selector
        self._all: set[Conn] = set()
        self._lock = threading.Lock()
        self._closed = False

    def cap_of(self, head: Request) -> int:
        """The body cap of a request (its head alone), asked of the app once past 64 KiB."""
        try:
            return int(self.body_cap(environ_of(head, self, None, None)))  # type: ignore[misc]
        except Exception:  # the transport must not fail on the app's bug: the server's own cap
            log.exception("the app's body cap failed; using %d bytes", self.max_body)
            return self.max_body

    # -- the loop --------------------------------------------------------------------------

    def run(self) -> None:
        """Serve until close(); returns then."""
        sel = self._selector
        sel.register(self.socket, selectors.EVENT_READ, _LISTEN)
        sel.register(self._wake_r, selectors.EVENT_READ, _WAKE)
        next_sweep = time.monotonic() + SWEEP
        try:
            while not self._closed:
                for key, _ in sel.select(SWEEP):
                    if key.data is _LISTEN:
                        self._accept()
                    elif key.data is _WAKE:
                        self._unpark()
                    else:
                        self._readable(key.data)
                if self.turn is not None:
                    self.turn.end()
                if self.tick is not None:
                    self.tick()
                now = time.monotonic()
                if now >= next_sweep:
                    self._sweep(now)
                    next_sweep = now + SWEEP
        finally:
            self._shutdown()

    def stop_soon(self) -> None:
        """From a signal handler: the loop ends after its turn (run() returns). Nothing else
        happens here: the handler may have interrupted this thread anywhere, holding any lock."""
        self._closed = True
        self._wake()

    def close(self) -> None:
        self._closed = True
        self._wake()
        with self._lock:
            conns = list(self._all)
        for conn in conns:  # unblocks workers; the loop closes its own in _shutdown
            with contextlib.suppress(OSError):
                conn.sock.shutdown(socket.SHUT_RDWR)
        self.workers.close()

    def _shutdown(self) -> None:
        for conn in list(self._loop_conns):
            self._drop(conn)
        with self._lock:
            rest, self._all = list(self._all), set()
        for conn in rest + list(self._parked):  # workers still holding one see OSError
            with contextlib.suppress(OSError):
                conn.sock.close()
        with contextlib.suppress(Exception):
            self._selector.close()
        for sock in (self.socket, self._wake_r, self._wake_w):
            sock.close()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _accept(self) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                sock, addr = self.socket.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. EMFILE: leave the rest in the backlog for now
                log.warning("accept failed: %s", exc)
                return
            if len(self._all) >= self.max_connections and not self._evict():
                sock.close()
                continue
            # One timeout for the socket's whole life: changing it costs an ioctl that releases the
            # GIL, which under load is a thread switch per request. The loop reads only what the
            # selector reported readable, so the timeout never makes the loop wait.
            sock.settimeout(LINGER)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = Conn(sock, addr, self)
            with self._lock:
                self._all.add(conn)
            self._register(conn)

    def _evict(self) -> bool:
        """Close the longest-idle connection the loop holds; False if there is none."""
        idle = [c for c in self._loop_conns if c.parser.phase == IDLE and not c.closing]
        if not idle:
            return False
        self._drop(min(idle, key=lambda c: c.last))
        return True

    def _register(self, conn: Conn) -> None:
        self._loop_conns.add(conn)
        self._selector.register(conn.sock, selectors.EVENT_READ, conn)

    def _unregister(self, conn: Conn) -> None:
        self._loop_conns.discard(conn)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(conn.sock)

    def _readable(self, conn: Conn) -> None:
        try:
            data = conn.sock.recv(RECV)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        if conn.closing:
            return  # draining what the client still sends after an error answer
        conn.last = time.monotonic()
        conn.parser.feed(data)
        if conn.parser.ready and (self.inline is None or not answer_inline(self, conn)):
            self._unregister(conn)
            self.workers.submit(conn)

    def _sweep(self, now: float) -> None:
        for conn in list(self._loop_conns):
            if conn.closing:
                if now >= conn.closing:
                    self._drop(conn)
                continue
            parser = conn.parser
            if now < parser.deadline:
                continue
            if parser.phase == IDLE:
                self._drop(conn)
            else:
                what = "header" if parser.phase == HEAD else "body"
                self._error_close(conn, BadRequest(408, f"Request {what} timeout"))

    def _error_close(self, conn: Conn, error: BadRequest) -> None:
        """Answer `error`, then close gracefully: stop sending, drain what the client sends."""
        conn.send(error_bytes(error.status, str(error)))
        self._lingering_close(conn)

    def _lingering_close(self, conn: Conn) -> None:
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._drop(conn)
            return
        conn.closing = time.monotonic() + CLOSING

    def _unpark(self) -> None:
        with contextlib.suppress(OSError):
            while self._wake_r.recv(4096):
                pass
        while self._parked:
            conn = self._parked.popleft()
            if self._closed:
                self._drop(conn)
            else:
                self._register(conn)

    def _drop(self, conn: Conn) -> None:
        self._unregister(conn)
        self._forget(conn)

    # -- workers ---------------------------------------------------------------------------

    def _park(self, conn: Conn) -> None:
        """Hand the connection back to the loop (from a worker)."""
        if self._closed:
            return self._forget(conn)
        self._parked.append(conn)
        self._wake()
        if self._closed:  # the loop may have ended between the check and the append
            self._forget(conn)

    def _work(self, conn: Conn) -> None:
        try:
            self._serve(conn)
        except (OSError, DropConnection):
            self._forget(conn)
        except Exception:
            log.exception("connection from %s failed", conn.addr)
            self._forget(conn)

    def _forget(self, conn: Conn) -> None:
        with self._lock:
            self._all.discard(conn)
        conn.parser.close()  # a body in progress (memory or file) goes now, not at a later gc
        with contextlib.suppress(OSError):
            conn.sock.close()

    def _serve(self, conn: Conn) -> None:
        """Answer the queued requests, then serve keep-alive requests while they come quickly."""
        parser, sock = conn.parser, conn.sock
        if conn.pending:  # the rest of an answer begun on the loop
            data, conn.pending = conn.pending, b""
            self._send_all(sock, data)
            if conn.close_after:
                return self._forget(conn)
        while True:
            while parser.ready:
                item = parser.ready.popleft()
                if isinstance(item, BadRequest):
                    self._send_all(sock, error_bytes(item.status, str(item)))
                    return self._close_after_error(conn)
                if not self._answer(conn, item):
                    if item.refused_body is not None:  # the client may still be sending it
                        return self._close_after_error(conn)
                    return self._forget(conn)
            if parser.failed:  # e.g. an Upgrade request: served, then close
                return self._forget(conn)
            try:
                data = sock.recv(RECV)  # waits up to LINGER (the socket's timeout)
            except TimeoutError:
                return self._park(conn)
            if not data:
                return self._forget(conn)
            conn.last = time.monotonic()
            parser.feed(data)
            if not parser.ready:  # a request begun but not complete: the loop holds slow senders
                return self._park(conn)

    def _answer(self, conn: Conn, req: Request) -> bool:
        if conn.parser.failed and not conn.parser.ready:  # the last request before a close
            req.keep_alive = False
        environ = environ_of(req, self, conn.sock, conn.addr)
        try:
            data, keep = respond(self.app, req, environ)
        finally:
            if req.body.__class__ is not bytes:  # a spooled body: its file goes with the request
                req.body.close()  # type: ignore[union-attr]
        self._send_all(conn.sock, data)
        return keep

    def _send_all(self, sock: socket.socket, data: bytes) -> None:
        send_all(sock, data, self.idle_timeout, LINGER)

    def _close_after_error(self, conn: Conn) -> None:
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            return self._forget(conn)
        conn.closing = time.monotonic() + CLOSING
        self._park(conn)

"""The recording proxy: each client request is forwarded to its target as the bytes received (so
the signature the client computed over its Host, path, query, headers and body stays valid), the
target's answer goes back to the client as received, and the pair goes to the recording."""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable

from mocksrv.httpwsgi import error_bytes
from mocksrv.upstream import (
    CONTINUE,
    Connector,
    Link,
    Message,
    Reader,
    Target,
    WireError,
    closes,
    read_request,
)

log = logging.getLogger("mocksrv.record")
IDLE_TIMEOUT = 180.0  # seconds a client connection may wait between requests
MAX_CONNECTIONS = 256

Record = Callable[[Message, Message, Target, float], None]


class Proxy:
    """Listens on a plain port and, optionally, a TLS port (mocksrv's server certificate, which
    names the real AGCOD, Prime, S3 and STS hosts); a connection thread per client."""

    def __init__(
        self,
        targets: list[Target],
        connector: Connector,
        record: Record,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: tuple[int, ssl.SSLContext] | None = None,
        max_body: int = 64 * 1024 * 1024,
    ) -> None:
        self.targets = targets
        self.by_host = {t.host: t for t in reversed(targets)}  # the first target of a name wins
        self.connector, self.record, self.max_body = connector, record, max_body
        self.plain = socket.create_server((host, port))
        self.tls_socket: socket.socket | None = None
        self.context: ssl.SSLContext | None = None
        if tls is not None:
            try:
                self.tls_socket = socket.create_server((host, tls[0]))
            except OSError:
                self.plain.close()
                raise
            self.context = tls[1]
        self.host = host
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._threads: list[threading.Thread] = []
        self._workers: list[threading.Thread] = []

    @property
    def port(self) -> int:
        return int(self.plain.getsockname()[1])

    @property
    def tls_port(self) -> int | None:
        return int(self.tls_socket.getsockname()[1]) if self.tls_socket else None

    def start(self) -> Proxy:
        for sock, tls in ((self.plain, False), (self.tls_socket, True)):
            if sock is not None:
                t = threading.Thread(target=self._accept, args=(sock, tls), daemon=True)
                t.start()
                self._threads.append(t)
        return self

    def close(self) -> None:
        self._closed = True
        for sock in (self.plain, self.tls_socket):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        with self._lock:
            threads = self._threads + self._workers
        deadline = time.monotonic() + 10  # a call waiting for the target may finish first
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def target_for(self, host: str | None) -> Target:
        """The target named by the request's Host (without its port), else the first one."""
        name = (host or "").strip().lower()
        if name.startswith("["):
            name = name.split("]", 1)[0] + "]"
        elif name.count(":") == 1:
            name = name.split(":", 1)[0]
        return self.by_host.get(name, self.targets[0])

    # -- connections ---------------------------------------------------------------------------

    def _accept(self, listener: socket.socket, tls: bool) -> None:
        while not self._closed:
            try:
                sock, addr = listener.accept()
            except OSError:
                return
            with self._lock:
                full = len(self._conns) >= MAX_CONNECTIONS
                if not full:
                    self._conns.add(sock)
            if full:
                sock.close()
                continue
            worker = threading.Thread(target=self._serve, args=(sock, tls), daemon=True)
            with self._lock:
                self._workers = [t for t in self._workers if t.is_alive()] + [worker]
            worker.start()

    def _serve(self, sock: socket.socket, tls: bool) -> None:
        link = Link(self.connector, self.max_body)
        client = sock
        try:
            client.settimeout(IDLE_TIMEOUT)
            if tls:
                assert self.context is not None
                client.settimeout(10.0)
                client = self.context.wrap_socket(sock, server_side=True)
                client.settimeout(IDLE_TIMEOUT)
            self._exchanges(client, link)
        except (OSError, ValueError) as exc:  # resets, timeouts, failed handshakes
            log.debug("client connection ended: %s", exc)
        finally:
            link.close()
            with self._lock:
                self._conns.discard(sock)
            client.close()

    def _exchanges(self, client: socket.socket, link: Link) -> None:
        reader = Reader(client)
        while not self._closed:
            try:
                request = read_request(reader, self.max_body, lambda: client.sendall(CONTINUE))
            except WireError as err:
                client.sendall(error_bytes(err.status, str(err)))
                return
            if request is None:
                return
            target = self.target_for(request.header("host"))
            started = time.perf_counter()
            try:
                response, ended = link.exchange(target, request.raw, request.method)
            except (OSError, WireError) as exc:
                log.warning("%s to %s failed: %s", request.method, target.url, exc)
                client.sendall(error_bytes(502, f"the target {target.url} did not answer: {exc}"))
                return
            try:  # written before the client has the answer: a stop never loses an answered call
                self.record(request, response, target, started)
            except Exception:  # the client still gets its answer
                log.exception("cannot record %s to %s", request.method, target.url)
            client.sendall(response.raw)
            if ended or closes(request) or closes(response):
                return


def urls(proxy: Proxy) -> list[str]:
    """The proxy's URLs, for the banner."""
    shown = "127.0.0.1" if proxy.host in ("0.0.0.0", "") else proxy.host
    out = [f"http://{shown}:{proxy.port}"]
    if proxy.tls_port is not None:
        out.append(f"https://{shown}:{proxy.tls_port}")
    return out

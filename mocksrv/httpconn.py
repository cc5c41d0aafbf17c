"""The connection side of mocksrv's HTTP server (`mocksrv.httpserver`): a client connection,
the open-file limit, and a write that never waits."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from typing import TYPE_CHECKING, Any

from mocksrv.http1 import Parser

if TYPE_CHECKING:
    from mocksrv.httpserver import LeanServer

log = logging.getLogger("mocksrv.http")


def raise_nofile_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; return the soft limit now in force."""
    try:
        import resource
    except ImportError:  # not on this platform
        return 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft if soft != resource.RLIM_INFINITY else 1 << 20
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (OSError, ValueError):
        log.warning("cannot raise the open-file limit from %d to %d", soft, target)
        return soft
    return target


class Conn:
    """A client connection; owned by the loop or by one worker at a time, never both."""

    __slots__ = ("sock", "addr", "parser", "closing", "last", "pending", "close_after")

    def __init__(self, sock: socket.socket, addr: Any, server: LeanServer) -> None:
        self.sock = sock
        self.addr = addr
        self.parser = Parser(
            server.max_body,
            self.send,
            server.idle_timeout,
            server.head_timeout,
            server.body_timeout,
            server.cap_of if server.body_cap is not None else None,
        )
        self.closing = 0.0  # when set: the deadline of a lingering close
        self.last = time.monotonic()
        self.pending = b""  # the rest of an answer begun on the loop, for a worker to send
        self.close_after = False  # ... and then close the connection

    def send(self, data: bytes) -> None:
        """A short write that never waits (`100 Continue`, an error answer from the loop): the
        descriptor is non-blocking underneath its timeout, and a client whose receive buffer is
        full of unread answers must not stall the loop; what does not fit is dropped."""
        with contextlib.suppress(OSError):
            os.write(self.sock.fileno(), data)


def write_now(sock: socket.socket, data: bytes) -> int:
    """What of `data` the socket takes now, never waiting (the descriptor is non-blocking under
    its timeout): the loop must not stall on a client that does not read."""
    try:
        return os.write(sock.fileno(), data)
    except BlockingIOError:
        return 0


def send_all(sock: socket.socket, data: bytes, idle_timeout: float, linger: float) -> None:
    """sendall, but a client that reads nothing for `idle_timeout` is given up on (each send
    waits at most `linger`, the socket's timeout)."""
    try:
        sent = sock.send(data)
    except TimeoutError:
        sent = 0
    if sent == len(data):  # the usual case: all at once
        return
    view, stalled = memoryview(data)[sent:], 0.0
    while view:
        try:
            sent = sock.send(view)
        except TimeoutError:
            stalled += linger
            if stalled >= idle_timeout:
                raise
            continue
        view, stalled = view[sent:], 0.0

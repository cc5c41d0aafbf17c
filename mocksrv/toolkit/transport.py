"""Transport faults on the wire: connection reset, empty response, truncated response."""

from __future__ import annotations

import logging
import socket
import struct
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from mocksrv.httpserver import SOCKET_KEY, DropConnection
from mocksrv.toolkit.faults import TRANSPORT_KEY

if TYPE_CHECKING:
    from mocksrv.call import Call
    from mocksrv.http import Response

log = logging.getLogger("mocksrv")


def _drop_exception(environ: dict[str, Any]) -> type[Exception]:
    """What makes the serving WSGI server close the connection without writing anything."""
    if SOCKET_KEY in environ:  # mocksrv's own server
        return DropConnection
    # waitress closes the channel silently (no 500 page) on its own ClientDisconnected
    try:
        from waitress.channel import ClientDisconnected
    except ImportError:  # another server: any exception before start_response
        return DropConnection
    return ClientDisconnected


def _socket_of(environ: dict[str, Any]) -> socket.socket | None:
    """The client socket: mocksrv's server puts it in the environ; under waitress its channel is
    the owner of client_disconnected."""
    own = environ.get(SOCKET_KEY)
    if isinstance(own, socket.socket):
        return own
    probe = environ.get("waitress.client_disconnected")
    channel = getattr(probe, "__self__", None)
    sock = getattr(channel, "socket", None)
    return sock if isinstance(sock, socket.socket) else None


def apply(
    call: Call, response: Response, environ: dict[str, Any], start_response: Callable[..., Any]
) -> Iterable[bytes] | None:
    """`runtime.transport_fault`: None unless a fault marked this call for a transport action."""
    mode = environ.get(TRANSPORT_KEY)
    if mode is None:
        return None
    if mode == "truncated_response":
        return _truncated(response, environ, start_response)
    sock = _socket_of(environ)
    if mode == "connection_reset" and sock is not None:
        try:  # SO_LINGER 0: close() sends RST instead of FIN
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            log.debug("cannot set SO_LINGER for a reset", exc_info=True)
    raise _drop_exception(environ)(f"mocksrv fault: {mode}")


def _truncated(
    response: Response, environ: dict[str, Any], start_response: Callable[..., Any]
) -> Iterable[bytes]:
    """Headers announce the whole body; half of it is sent, then the connection closes."""
    body = response.get_data() or b'{"message":"truncated"}'
    headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
    headers.append(("Content-Length", str(len(body))))
    start_response(response.status, headers)
    return [body[: len(body) // 2]]

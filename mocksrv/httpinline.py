"""Requests answered on the event loop of mocksrv's HTTP server (`mocksrv.httpserver`).

A request the app's `inline(environ)` hook allows is answered on the loop itself: no hand-off to
a worker thread, whose two thread switches per request and the GIL's hand-offs between threads
cost more than the call. One the hook marks `PARKS` (its write step may wait for the end of the
loop's turn, to commit with the turn's other writes) is served through the app's `turn` hook:
`turn.serve` runs it and may return before it is done; the loop's `turn.end()` finishes it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from mocksrv.http import PARKS
from mocksrv.http1 import Request
from mocksrv.httpconn import Conn, write_now
from mocksrv.httpwsgi import DropConnection, environ_of, respond

if TYPE_CHECKING:
    from mocksrv.httpserver import LeanServer

log = logging.getLogger("mocksrv.http")


def answer_inline(server: LeanServer, conn: Conn) -> bool:
    """Answer the connection's complete requests here while the `inline` hook allows each.
    True: done (answered, or dropped); False: the rest goes to a worker: a request the hook
    refuses or out of the ordinary (an error to answer, a spooled or refused body, the last
    request before a close), or an answer the socket could not take at once (`pending`)."""
    parser = conn.parser
    while parser.ready:
        req = parser.ready[0]
        if not isinstance(req, Request) or parser.failed or server.inline is None:
            return False
        if req.refused_body is not None or req.body.__class__ is not bytes:
            return False
        try:
            environ = environ_of(req, server, conn.sock, conn.addr)
            inline = server.inline(environ)
        except Exception:  # the hook must never stop the loop: a worker answers instead
            log.exception("the inline hook failed on a request from %s", conn.addr)
            return False
        if not inline:
            return False
        parser.ready.popleft()
        if environ.get(PARKS) and server.turn is not None:
            server.turn.serve(_answer_parked, (server, conn, req, environ))
            return True
        done = _answer_one(server, conn, req, environ)
        if done is not None:
            return done
    return True


def _answer_one(
    server: LeanServer, conn: Conn, req: Request, environ: dict[str, Any]
) -> bool | None:
    """One request answered on the loop: None, the connection goes on; else as
    `answer_inline` returns."""
    try:
        data, keep = respond(server.app, req, environ)
        sent = write_now(conn.sock, data)
    except (OSError, DropConnection):
        server._drop(conn)
        return True
    except Exception:
        log.exception("connection from %s failed", conn.addr)
        server._drop(conn)
        return True
    if sent < len(data):
        conn.pending, conn.close_after = data[sent:], not keep
        return False
    if not keep:
        server._drop(conn)
        return True
    return None


def _answer_parked(args: tuple[LeanServer, Conn, Request, dict[str, Any]]) -> None:
    """A request of the loop's turn (`turn.serve`; its write may wait for the turn's end):
    answered, then the connection's next requests as on the loop."""
    server, conn, req, environ = args
    done = _answer_one(server, conn, req, environ)
    if done is None:
        done = answer_inline(server, conn)
    if not done:
        server._unregister(conn)
        server.workers.submit(conn)

"""Serving the app in this process: mocksrv's HTTP/1.1 server (an event loop with llhttp parsing
and worker threads, `mocksrv.httpserver`), or waitress."""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from mocksrv.app import MocksrvApp
from mocksrv.settings import Settings

log = logging.getLogger("mocksrv")
IDLE_TIMEOUT = 180  # seconds; the Prime docs tell partners to keep connections alive that long


def _channel_class() -> Any:
    from waitress.channel import HTTPChannel

    class Channel(HTTPChannel):
        """waitress 3.0 answers `Expect: 100-continue` on a request whose body is already complete
        (`Content-Length: 0`, e.g. boto3 or `aws s3 cp` of an empty file) with 100 Continue and then
        marks the request incomplete, so it is never served. Such a request needs no 100."""

        def send_continue(self) -> None:
            if self.request is not None and self.request.completed:
                self.request.expect_continue = False
                return
            super().send_continue()

    return Channel


def make_server(app: MocksrvApp, settings: Settings, *, reuse_port: bool = False) -> Any:
    """Bind the listening sockets now (port 0 picks a free port) and return the server.
    `reuse_port`: one of several processes listening on the same ports (`serve --workers`)."""
    if settings.server == "waitress":
        plain = _waitress(app, settings)
    else:
        from mocksrv.httpserver import LeanServer

        options = _lean_options(app, settings) | {"reuse_port": reuse_port}
        plain = LeanServer(app, settings.host, settings.port, **options)
    if settings.tls_port is None:
        return plain
    if settings.server == "waitress":
        plain.close()
        raise ValueError("--tls-port needs the built-in server, not waitress")
    from mocksrv.tls import ensure_certs, server_context
    from mocksrv.tlsserver import TLSServer

    context = server_context(ensure_certs(settings.ca_dir))
    try:
        options = _lean_options(app, settings) | {"reuse_port": reuse_port}
        tls = TLSServer(app, settings.host, settings.tls_port, context, **options)
    except BaseException:
        plain.close()
        raise
    return Listeners(plain, tls)


def _lean_options(app: Any, settings: Settings) -> dict[str, Any]:
    return {
        "idle_timeout": IDLE_TIMEOUT,
        "max_body": settings.max_s3_body_bytes,
        "threads": settings.threads,
        # each request's body cap from its head (a test may wrap the app in one without it)
        "body_cap": getattr(app, "body_cap", None),
        # which requests may be answered on the event loop (the same: a test's bare app has none)
        "inline": getattr(app, "inline", None),
        "tick": getattr(app, "tick", None),
        "turn": getattr(app, "turn", None),
    }


class Listeners:
    """The plain HTTP server and the HTTPS one (each its own loop), serving the same app."""

    def __init__(self, plain: Any, tls: Any) -> None:
        self.plain, self.tls = plain, tls
        self.effective_port = plain.effective_port
        self.tls_port = tls.effective_port

    def run(self) -> None:
        thread = threading.Thread(target=self._run_tls, name="mocksrv-tls", daemon=True)
        thread.start()
        self.plain.run()

    def _run_tls(self) -> None:
        with contextlib.suppress(Exception):  # ends once close() closed its socket
            self.tls.run()

    def stop_soon(self) -> None:
        """From a signal handler: both loops end after their turn (see LeanServer.stop_soon)."""
        self.tls.stop_soon()
        self.plain.stop_soon()

    def close(self) -> None:
        self.tls.close()
        self.plain.close()


def _waitress(app: MocksrvApp, settings: Settings) -> Any:
    from waitress import create_server

    # waitress warns "Task queue depth is N" whenever more requests are in flight than threads are
    # idle: routine for a sandbox under load, and formatting and writing that warning on every such
    # request cost several per cent of the CPU. It stays visible with --log-level debug.
    if settings.log_level != "debug":
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    server = create_server(
        app,
        host=settings.host,
        port=settings.port,
        threads=settings.threads,
        ident="mocksrv",
        channel_timeout=IDLE_TIMEOUT,
        connection_limit=1000,
        max_request_body_size=settings.max_s3_body_bytes,
        # keep X-Forwarded-* as sent: clients may sign them, and mocksrv trusts no proxy headers
        clear_untrusted_proxy_headers=False,
        expose_tracebacks=False,
        asyncore_use_poll=True,
    )
    server.channel_class = _channel_class()
    return server


def server_url(server: Any, host: str) -> str:
    port = server.effective_port
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def tls_url(server: Any, host: str) -> str | None:
    """The HTTPS listener's URL (by the loopback address), or None without --tls-port."""
    port = getattr(server, "tls_port", None)
    if port is None:
        return None
    return server_url(server, host).rsplit(":", 1)[0].replace("http:", "https:") + f":{port}"


class ServerThread:
    """The server on a background thread, for `mocksrv run`, the pytest plugin and tests."""

    def __init__(self, app: MocksrvApp, settings: Settings, server: Any = None) -> None:
        self.app = app
        self.server = server if server is not None else make_server(app, settings)
        self.url = server_url(self.server, settings.host)
        self.tls_url = tls_url(self.server, settings.host)
        self.port = int(self.server.effective_port)
        self._thread = threading.Thread(target=self._run, name="mocksrv-server", daemon=True)

    def _run(self) -> None:
        # the loop ends with EBADF once stop() closed the sockets
        with contextlib.suppress(Exception):
            self.server.run()

    def start(self) -> ServerThread:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self.server.close()
        if hasattr(self.server, "task_dispatcher"):  # waitress
            for channel in list(self.server._map.values()):
                try:
                    channel.close()
                except Exception:
                    log.debug("closing channel failed", exc_info=True)
            self.server.task_dispatcher.shutdown(timeout=timeout)
        self._thread.join(timeout)
        self.app.runtime.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

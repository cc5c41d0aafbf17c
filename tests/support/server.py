"""Starting mocksrv for a test, the two ways tests/README.md describes (the third, the pytest
plugin's `mocksrv` fixtures, needs nothing from here):

- `start_server`: a real server on a free port of this process (a background thread), for tests
  of the wire and for clients that open their own sockets (boto3, the aws CLI, curl, a browser).
- `InProcess`: the same WSGI app without a socket, called by a requests session, for tests of what
  an API answers where the wire is not what is tested. The request reaches the app through
  mocksrv's own environ builder and the answer comes back as the bytes mocksrv's server would
  send, so only the socket and the HTTP parser are left out.

`Servers` starts either kind and stops all it started; tests/conftest.py gives it as the
`server_factory` (one test) and `module_server_factory` (one module) fixtures.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

from mocksrv.app import MocksrvApp, create_app
from mocksrv.http1 import Request
from mocksrv.httpwsgi import DropConnection, environ_of, respond
from mocksrv.registry import load_files
from mocksrv.server import ServerThread
from mocksrv.settings import Settings


def _app(scenarios: list[str] | None, settings: dict[str, Any]) -> tuple[MocksrvApp, Settings]:
    cfg = Settings(**{"host": "127.0.0.1", "port": 0, **settings})
    return create_app(cfg, load_files(scenarios) if scenarios else None), cfg


def start_server(
    scenarios: list[str] | None = None,
    *,
    wrap: Callable[[MocksrvApp], Any] | None = None,
    **settings: Any,
) -> ServerThread:
    """A real server on 127.0.0.1 and a free port, on these scenario files (none: the embedded
    default) and Settings; `wrap` puts a WSGI wrapper (with a `runtime` property) around the app."""
    app, cfg = _app(scenarios, settings)
    return ServerThread(wrap(app) if wrap else app, cfg).start()


class InProcess:
    """The app of a server that is never started: `session()` calls it without a socket.

    Like a ServerThread it has `url` (for signing and for building request URLs), `app` (its
    runtime: clock, stores) and `stop()`.
    """

    url = "http://localhost"  # a loopback name: the admin API answers it as on a real server

    def __init__(self, scenarios: list[str] | None = None, **settings: Any) -> None:
        self.app, _ = _app(scenarios, settings)

    def session(self) -> requests.Session:
        s = requests.Session()
        s.mount(self.url, _WSGIAdapter(self.app))
        return s

    def stop(self) -> None:
        self.app.runtime.close()


def session_to(server: ServerThread | InProcess) -> requests.Session:
    """A requests session to a real server (over its socket) or to an InProcess app."""
    return server.session() if isinstance(server, InProcess) else requests.Session()


class Servers:
    """The servers a test (or a module) started; `stop_all()` stops them all."""

    def __init__(self) -> None:
        self._started: list[ServerThread | InProcess] = []

    def __call__(
        self,
        scenarios: list[str] | None = None,
        *,
        wrap: Callable[[MocksrvApp], Any] | None = None,
        **settings: Any,
    ) -> ServerThread:
        """A real server on a free port (see start_server)."""
        srv = start_server(scenarios, wrap=wrap, **settings)
        self._started.append(srv)
        return srv

    def in_process(self, scenarios: list[str] | None = None, **settings: Any) -> InProcess:
        app = InProcess(scenarios, **settings)
        self._started.append(app)
        return app

    def stop_all(self) -> None:
        while self._started:
            self._started.pop().stop()


_SERVER = SimpleNamespace(server_name="localhost", effective_port=80, url_scheme="http")


class _WSGIAdapter(BaseAdapter):
    """requests -> mocksrv's environ builder -> the app -> the response bytes -> requests."""

    def __init__(self, app: MocksrvApp) -> None:
        super().__init__()
        self.app = app

    def send(self, request: requests.PreparedRequest, *args: Any, **kw: Any) -> requests.Response:
        """The request through the app; timeouts, TLS and proxies do not apply in-process."""
        body: Any = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        elif not isinstance(body, bytes):
            body = b"".join(body)  # an iterable body: requests would send it chunked
        fields: dict[str, str] = {}
        headers = {"Host": urlsplit(request.url or "").netloc, **request.headers}
        for name, value in headers.items():
            if "_" in name:  # as mocksrv's parser: such names could spoof dashed ones
                continue
            key = name.upper().replace("-", "_")
            key = key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key
            text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
            fields[key] = text.strip(" \t")
        req = Request(
            str(request.method), request.path_url.encode("latin-1"), "HTTP/1.1", fields, body, True
        )
        try:
            data, _ = respond(self.app, req, environ_of(req, _SERVER, None, ("127.0.0.1", 0)))
        except DropConnection as exc:
            raise requests.ConnectionError(f"in-process: {exc}", request=request) from exc
        return self._response(request, data)

    def _response(self, request: requests.PreparedRequest, data: bytes) -> requests.Response:
        head, _, body = data.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        _, code, reason = (status_line.split(" ", 2) + [""])[:3]
        r = requests.Response()
        r.status_code, r.reason = int(code), reason
        r.headers = CaseInsensitiveDict()
        for line in lines:
            name, _, value = line.partition(":")
            value = value.strip()
            r.headers[name] = f"{r.headers[name]}, {value}" if name in r.headers else value
        r._content, r.raw = body, io.BytesIO(body)
        r._content_consumed = True  # type: ignore[attr-defined]
        r.encoding = get_encoding_from_headers(r.headers)
        r.url, r.request = str(request.url), request
        r.connection = self  # type: ignore[assignment]
        return r

    def close(self) -> None:
        pass

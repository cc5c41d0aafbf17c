"""A stand-in for a real service that answers a little differently: an HTTPS server with mocksrv's
certificate (so it answers under the real host names) in front of a mocksrv, forwarding each
request unchanged (Host and signature included) and rewriting parts of the answers. Written with
the standard library's http.server and http.client, not with mocksrv's code."""

from __future__ import annotations

import http.client
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# (request method, request path, status, headers, body) -> (status, headers, body)
Rewrite = Callable[
    [str, str, int, list[tuple[str, str]], bytes], tuple[int, list[tuple[str, str]], bytes]
]


class StandIn:
    def __init__(self, backend_port: int, ca_dir: Path, rewrite: Rewrite) -> None:
        handler = _handler(backend_port, rewrite)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(ca_dir / "server.pem", ca_dir / "server-key.pem")
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def _handler(backend_port: int, rewrite: Rewrite) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            conn = http.client.HTTPConnection("127.0.0.1", backend_port, timeout=30)
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                conn.putheader(name, value)
            conn.endheaders(body or None)
            resp = conn.getresponse()
            data = resp.read()
            headers = [(k, v) for k, v in resp.getheaders() if k.lower() != "content-length"]
            conn.close()
            status, headers, data = rewrite(self.command, self.path, resp.status, headers, data)
            lines = [f"HTTP/1.1 {status} {http.client.responses.get(status, 'Status')}"]
            lines += [f"{k}: {v}" for k, v in headers] + [f"Content-Length: {len(data)}"]
            self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data)

        do_GET = do_POST = do_PUT = do_HEAD = _forward

    return Handler

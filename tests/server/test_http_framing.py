"""Strict HTTP/1.1 framing (RFC 9112) on the wire: every malformed request gets a 4xx/5xx answer
and the connection closes; nothing is dropped silently, nothing leaves a traceback (issue 10: D1,
D13, D14)."""

from __future__ import annotations

import logging
import socket

import pytest

from tests.support.wire import VERIFY, exchange, port_of, raw_request, signed_verify

POST = b"POST /GetAvailableFunds HTTP/1.1\r\nHost: x\r\n"
CHUNKED = POST + b"Transfer-Encoding: chunked\r\n\r\n"


@pytest.fixture
def port(mocksrv) -> int:
    """The port of the plugin's session server (reset before each test), for raw sockets."""
    return port_of(mocksrv.url)


def status_of(out: bytes) -> bytes:
    assert out, "the server closed the connection without an answer"
    return out.split(b" ", 2)[1]


@pytest.mark.parametrize(
    ("data", "status"),
    [
        # D1: Content-Length must be ASCII digits of bounded length
        (POST + b"Content-Length: \xb2\r\n\r\n", b"400"),
        (POST + b"Content-Length: " + b"9" * 5000 + b"\r\n\r\n", b"400"),
        (POST + b"Content-Length: +3\r\n\r\nabc", b"400"),
        (POST + b"Content-Length: 3, 3\r\n\r\nabc", b"400"),
        (POST + b"Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc", b"400"),
        (POST + b"Content-Length: 99999999999999999999\r\n\r\n", b"400"),
        # D14: chunk sizes are HEXDIG only
        (CHUNKED + b"1_0\r\n" + b"a" * 16 + b"\r\n0\r\n\r\n", b"400"),
        (CHUNKED + b"0x3\r\nabc\r\n0\r\n\r\n", b"400"),
        (CHUNKED + b"+3\r\nabc\r\n0\r\n\r\n", b"400"),
        (CHUNKED + b"3 \r\nabc\r\n0\r\n\r\n", b"400"),
        (CHUNKED + b"fffffffffffffffffffff\r\n", b"400"),
        # D14: versions, Host, header values
        (b"GET / HTTP/1.9\r\nHost: x\r\n\r\n", b"505"),
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", b"505"),
        (b"GET / HTTP/1.1x\r\nHost: x\r\n\r\n", b"400"),
        (b"GET / http/1.1\r\nHost: x\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", b"400"),  # D13: a bare CR
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n folded\r\n\r\n", b"400"),  # obs-fold
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-A : b\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\r\n X-A: b\r\nHost: x\r\n\r\n", b"400"),
        (b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", b"400"),
        (b"GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n", b"400"),
        # transfer codings
        (
            POST + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            b"400",
        ),
        (POST + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", b"501"),
        # limits
        (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", b"400"),
        (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 101 + b"\r\n", b"431"),
    ],
)
def test_malformed_framing_gets_an_answer_then_close(port, caplog, data, status):
    with caplog.at_level(logging.WARNING):
        out = exchange(port, data)
    assert status_of(out) == status, out[:300]
    assert b"\r\nConnection: close\r\n" in out.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_many_headers_total_over_the_head_cap_is_431(port):
    data = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(
        b"X-%d: %s\r\n" % (i, b"v" * 4000) for i in range(80)
    )
    assert status_of(exchange(port, data + b"\r\n")) == b"431"


def test_a_200_kib_chunk_line_is_refused_not_desynchronised(port):
    ext = b";x=" + b"y" * 200_000
    data = CHUNKED + b"3" + ext + b"\r\nabc\r\n0\r\n\r\n"
    out = exchange(port, data)
    assert status_of(out) == b"400" and b"Chunk line too long" in out


def test_a_chunk_extension_within_bounds_is_accepted(port):
    data = b"POST /__admin/health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
    data += b"Connection: close\r\n\r\n3;name=value\r\nabc\r\n0\r\n\r\n"
    out = exchange(port, data)
    assert status_of(out) != b"400", out[:300]


def test_a_good_request_before_a_malformed_one_is_answered_first(mocksrv, port):
    good = raw_request("GET", VERIFY, signed_verify(mocksrv.url))
    out = exchange(port, good + b"GET / HTTP/1.9\r\nHost: x\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\n\r\nHTTP/1.1 505 HTTP Version Not Supported\r\n" in out.replace(
        b'{"message":"SUCCESS"}', b""
    )


def test_the_error_reaches_a_client_that_keeps_sending(port):
    """A lingering close: the server stops reading only after the answer is out, so the client
    sees the 400 rather than a reset even when it sent more than the server read."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(POST + b"Content-Length: \xb2\r\n\r\n" + b"z" * 200_000)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    assert status_of(out) == b"400"


def test_http10_without_host_is_served(port):
    out = exchange(port, b"GET /__admin/health HTTP/1.0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200 ") and b"Connection: close" in out


def test_the_server_never_sends_a_header_with_cr_lf_or_nul(caplog):
    """Defence in depth (D13): whatever the app puts in a header, the response is not split."""
    import threading

    from mocksrv.httpserver import LeanServer

    def app(environ, start_response):
        start_response(
            "200 OK",
            [
                ("x-amz-request-id", "a\rInjected: 1"),
                ("X-Lf", "b\nInjected: 2"),
                ("X-Nul", "c\x00d"),
                ("Bad\rName", "e"),
                ("X-Fine", "kept"),
            ],
        )
        return [b"ok"]

    server = LeanServer(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        with caplog.at_level(logging.WARNING, logger="mocksrv.http"):
            out = exchange(
                server.effective_port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            )
    finally:
        server.close()
        thread.join(5)
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and body == b"ok"
    assert b"\r\nX-Fine: kept" in head
    assert b"Injected" not in out and b"\x00" not in out
    assert all(b"\r" not in line and b"\n" not in line for line in head.split(b"\r\n"))
    assert len([r for r in caplog.records if "dropped" in r.getMessage()]) == 4


def test_an_upgrade_request_is_answered_as_plain_http_then_closed(port):
    out = exchange(
        port,
        b"GET /__admin/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n",
    )
    assert out.startswith(b"HTTP/1.1 200 ") and b"\r\nConnection: close\r\n" in out

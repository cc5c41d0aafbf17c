"""AGCOD and Prime calls are answered on the server's event loop, without a hand-off to a worker
thread; the loop never waits on a client's socket for them (an answer the socket cannot take at
once goes to a worker, which sends the rest), and anything that may sleep goes to a worker."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import requests

from tests.support.cli import Serve
from tests.support.state import agcod_state, create, funds, prime
from tests.support.wire import VERIFY, exchange, port_of, raw_request, signed_verify

SUCCESS = b'{"message":"SUCCESS"}'


def test_a_client_that_sends_many_requests_and_reads_nothing_stalls_no_one(server_factory):
    srv = server_factory()
    port = port_of(srv.url)
    one = raw_request("GET", VERIFY, signed_verify(srv.url))
    count = 20_000  # about 8 MB of answers: more than both sockets' buffers hold
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect(("127.0.0.1", port))
    sent = threading.Event()

    def send() -> None:
        stuck.sendall(one * count)
        sent.set()

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    time.sleep(1.5)  # the server answers until the answers fill the sockets' buffers
    started = time.monotonic()
    out = exchange(port, raw_request("GET", VERIFY, {**signed_verify(srv.url),
                                                     "Connection": "close"}))  # fmt: skip
    assert out.startswith(b"HTTP/1.1 200 OK") and out.endswith(SUCCESS)
    assert time.monotonic() - started < 5.0
    # then the client reads: every answer arrives, whole
    stuck.settimeout(30)
    got, tail = 0, b""
    deadline = time.monotonic() + 60
    while got < count and time.monotonic() < deadline:
        chunk = stuck.recv(1 << 20)
        assert chunk, f"closed after {got} answers"
        window = tail + chunk  # a body split across two reads is counted once, whole
        got += window.count(SUCCESS)
        tail = window[1 - len(SUCCESS) :]
    assert got == count
    sender.join(30)
    assert sent.is_set()
    stuck.close()


def _threads(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/task").iterdir()))


def test_api_calls_start_no_worker_thread_and_s3_calls_do(tmp_path):
    srv = Serve()
    try:
        assert prime(srv.url, "123456789", "verify").status_code == 200  # threads made once
        before = _threads(srv.proc.pid)

        def calls() -> None:
            with requests.Session() as s:  # keep-alive: one connection, 25 calls
                for _ in range(25):
                    assert prime(srv.url, "123456789", "verify", s).status_code == 200

        callers = [threading.Thread(target=calls) for _ in range(8)]
        for t in callers:
            t.start()
        for t in callers:
            t.join(60)
        assert _threads(srv.proc.pid) == before  # all 200 answered on the loop
        assert requests.get(srv.url + "/__admin/journal", timeout=10).ok  # an admin call...
        assert _threads(srv.proc.pid) > before  # ...goes to a worker thread
    finally:
        srv.stop()


def test_on_a_sqlite_state_writes_are_answered_on_the_loop_too(tmp_path):
    """SQLite's writes are short transactions (the write lock held for one commit at a time):
    creates and redeems, as verifies, start no worker thread, and every one is kept."""
    srv = Serve("--state", str(tmp_path / "state.db"))
    try:
        assert create(srv.url, "MocksProdLoop", "1").status_code == 200  # threads made once
        assert prime(srv.url, "123456789", "redeem").status_code == 200
        start = funds(srv.url)  # an admin read: on a worker thread
        before = _threads(srv.proc.pid)

        def calls(n: int) -> None:
            with requests.Session() as s:  # keep-alive: one connection, 30 calls
                for i in range(10):
                    assert create(srv.url, f"MocksProdLoop{n}x{i}", "1", s).status_code == 200
                    assert prime(srv.url, "123456789", "redeem", s).json() == {"message": "SUCCESS"}
                    assert prime(srv.url, "123456789", "verify", s).status_code == 200

        callers = [threading.Thread(target=calls, args=(n,)) for n in range(8)]
        for t in callers:
            t.start()
        for t in callers:
            t.join(60)
        assert _threads(srv.proc.pid) == before  # all 240 answered on the loop
        assert funds(srv.url) == start - 80
        cards = agcod_state(srv.url)["cards"]
        assert len({c["creationRequestId"] for c in cards}) == 81
    finally:
        srv.stop()


def test_with_a_latency_fault_an_api_call_goes_to_a_worker(tmp_path):
    """A latency fault sleeps: on the loop it would hold up every other client."""
    srv = Serve()
    try:
        fault = {"id": "slow", "match": {"api": "prime", "operation": "verify"},
                 "latency_ms": 1500, "times": 1}  # fmt: skip
        assert requests.post(srv.url + "/__admin/faults", json=fault, timeout=10).ok
        slow = threading.Thread(target=lambda: prime(srv.url, "123456789", "verify"))
        slow.start()
        time.sleep(0.3)
        started = time.monotonic()
        assert prime(srv.url, "123456789", "verify").status_code == 200
        assert time.monotonic() - started < 1.0  # answered while the first one sleeps
        slow.join(10)
    finally:
        srv.stop()


def test_a_failing_inline_hook_hands_the_request_to_a_worker(server_factory, monkeypatch):
    """The hook runs on the loop: an exception there must not stop the loop."""
    from mocksrv.app import MocksrvApp

    def boom(self, environ):  # type: ignore[no-untyped-def]
        raise RuntimeError("hook failed")

    monkeypatch.setattr(MocksrvApp, "inline", boom)
    srv = server_factory()
    for _ in range(3):
        r = prime(srv.url, "123456789", "verify")
        assert r.status_code == 200 and r.json() == {"message": "SUCCESS"}

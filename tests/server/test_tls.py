"""HTTPS on the real host names: the local CA (`mocksrv ca`) and the `--tls-port` listener.

Checked with tools that are not mocksrv's: openssl verifies the certificates, curl signs with its own
SigV4 (`--aws-sigv4`) and resolves the real host names to the listener (`--resolve`), boto3 talks
to S3 over the listener with the CA as its bundle.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import os
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import time
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.support.paths import ROOT
from tests.support.signing import Signer

MOCKSRV = [sys.executable, "-m", "mocksrv"]
AGCOD_KEY, AGCOD_SECRET = "AKIAMOCKSRVAGCOD0001", "MockSrvAgcodDemoSecretKey000000000000001"
PRIME_KEY, PRIME_SECRET = "AKIAMOCKSRVPRIME0001", "MockSrvPrimeDemoSecretKey000000000000001"
VERIFY = "/v1/customer/benefit/PRIME_3P_PARTNER_BENEFIT/offer-code/123456789/verify"
CLIENT_TIMEOUT = 5.0  # seconds for a client's connect, handshake and each read


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is needed by these tests (Debian package {name})"
    return path


@pytest.fixture
def tls_server(server_factory, tmp_path):
    return server_factory(tls_port=0, ca_dir=tmp_path / "ca")


def tls_port(server) -> int:
    return int(server.tls_url.rsplit(":", 1)[1])


def signed_curl(ca, host: str, port: int, scope: str, key: str, secret: str, *args: str):
    """curl with its own SigV4 signer (`--aws-sigv4 aws:amz:REGION:SERVICE`)."""
    return curl(
        ca, host, port, "--aws-sigv4", f"aws:amz:{scope}", "--user", f"{key}:{secret}", *args
    )


def curl(ca, host: str, port: int, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [tool("curl"), "-sS", "--cacert", str(ca), "--resolve", f"{host}:{port}:127.0.0.1"]
    cmd += [*args, "-w", "\n%{http_code}"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)


def test_ca_command_creates_a_private_ca_and_says_how_to_trust_it(tmp_path):
    ca_dir = tmp_path / "ca"
    r = subprocess.run(
        [*MOCKSRV, "ca", "--ca-dir", str(ca_dir)], capture_output=True, text=True, cwd=ROOT
    )
    assert r.returncode == 0, r.stderr
    ca = ca_dir / "ca.pem"
    assert r.stdout.splitlines()[0] == str(ca)
    for hint in (
        "AWS_CA_BUNDLE",
        "REQUESTS_CA_BUNDLE",
        "NODE_EXTRA_CA_CERTS",
        "update-ca-certificates",
    ):
        assert hint in r.stdout
    assert "127.0.0.1 agcod-v2-gamma.amazon.com" in r.stdout
    assert "prime-apis.amazon.com" in r.stdout
    assert stat.S_IMODE(ca_dir.stat().st_mode) == 0o700
    for key in ("ca-key.pem", "server-key.pem"):
        assert stat.S_IMODE((ca_dir / key).stat().st_mode) == 0o600
    verified = subprocess.run(
        [tool("openssl"), "verify", "-CAfile", str(ca), str(ca_dir / "server.pem")],
        capture_output=True,
        text=True,
    )
    assert verified.returncode == 0 and ": OK" in verified.stdout, verified.stdout + verified.stderr
    # a second run keeps the same CA (partners trust it once)
    before = ca.read_bytes()
    again = subprocess.run([*MOCKSRV, "ca", "--ca-dir", str(ca_dir)], capture_output=True)
    assert again.returncode == 0 and ca.read_bytes() == before


def test_server_certificate_names_every_real_host(tmp_path):
    subprocess.run([*MOCKSRV, "ca", "--ca-dir", str(tmp_path)], check=True, capture_output=True)
    text = subprocess.run(
        [
            tool("openssl"),
            "x509",
            "-in",
            str(tmp_path / "server.pem"),
            "-noout",
            "-ext",
            "subjectAltName",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for host in (
        "agcod-v2-gamma.amazon.com",
        "agcod-v2.amazon.com",
        "agcod-v2-eu-gamma.amazon.com",
        "agcod-v2-eu.amazon.com",
        "agcod-v2-fe-gamma.amazon.com",
        "agcod-v2-fe.amazon.com",
        "prime-apis.amazon.com",
        "s3.amazonaws.com",
        "*.s3.amazonaws.com",
        "s3.us-east-1.amazonaws.com",
        "*.s3.us-east-1.amazonaws.com",
        "sts.amazonaws.com",
        "localhost",
    ):
        assert f"DNS:{host}," in text + ",", host
    assert "IP Address:127.0.0.1" in text


def test_ca_dir_that_cannot_be_used_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    r = subprocess.run(
        [*MOCKSRV, "ca", "--ca-dir", str(blocker / "ca")], capture_output=True, text=True
    )
    assert r.returncode == 2
    assert "cannot use the CA directory" in r.stderr and "Traceback" not in r.stderr


def test_curl_gets_available_funds_on_the_real_agcod_sandbox_host(tls_server, tmp_path):
    port = tls_port(tls_server)
    r = signed_curl(
        tmp_path / "ca" / "ca.pem",
        "agcod-v2-gamma.amazon.com",
        port,
        "us-east-1:AGCODService",
        AGCOD_KEY,
        AGCOD_SECRET,
        "-H",
        "content-type: application/json",
        "-H",
        "accept: application/json",
        "-H",
        "x-amz-target: com.amazonaws.agcod.AGCODService.GetAvailableFunds",
        "-d",
        '{"partnerId":"Mocks"}',
        f"https://agcod-v2-gamma.amazon.com:{port}/GetAvailableFunds",
    )
    body, _, status = r.stdout.rpartition("\n")
    assert status == "200", r.stdout + r.stderr
    assert body.startswith('{"availableFunds":{"amount":') and '"status":"SUCCESS"' in body


def test_curl_verifies_an_offer_code_on_the_real_prime_host(tls_server, tmp_path):
    port = tls_port(tls_server)
    r = signed_curl(
        tmp_path / "ca" / "ca.pem",
        "prime-apis.amazon.com",
        port,
        "us-east-1:execute-api",
        PRIME_KEY,
        PRIME_SECRET,
        "-H",
        "x-amz-marketplace: US",
        "-H",
        "x-amz-request-id: tls-1",
        f"https://prime-apis.amazon.com:{port}{VERIFY}",
    )
    assert r.stdout == '{"message":"SUCCESS"}\n200', r.stdout + r.stderr


def test_plain_http_still_answers_beside_the_tls_listener(tls_server, tmp_path):
    port = int(tls_server.url.rsplit(":", 1)[1])
    r = subprocess.run(
        [
            tool("curl"),
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            f"http://127.0.0.1:{port}/__admin/health",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert r.stdout == "200"


def test_boto3_uploads_promo_codes_over_https(tls_server, tmp_path):
    s3 = boto3.client(
        "s3",
        endpoint_url=tls_server.tls_url.replace("127.0.0.1", "localhost"),
        region_name="us-east-1",
        aws_access_key_id="AKIAMOCKSRVPROMO0001",
        aws_secret_access_key="MockSrvPromoDemoSecretKey000000000000001",
        verify=str(tmp_path / "ca" / "ca.pem"),
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    prefix = (
        "new-promo-codes/clientname=clientname/marketplace=US/offertype=student-promo-deal/"
        "promotionid=PROMO-0001/"
    )
    put = s3.put_object(
        Bucket="partner-promotions-devo",
        Key=prefix + "clientname_new_codes_20260515_1400.csv",
        Body=b"promo_code\nTLSCODE0001\n",
    )
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    listed = s3.list_objects_v2(
        Bucket="partner-promotions-devo", Prefix="processing-results/" + prefix
    )
    assert listed["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_a_client_that_does_not_trust_the_ca_is_refused(tls_server):
    port = tls_port(tls_server)
    env = {k: v for k, v in os.environ.items() if k not in ("CURL_CA_BUNDLE", "SSL_CERT_FILE")}
    r = subprocess.run(
        [tool("curl"), "-sS", f"https://localhost:{port}/"],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
    )
    assert r.returncode == 60, r.stderr  # curl: peer certificate cannot be authenticated


def _context(tmp_path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(tmp_path / "ca" / "ca.pem"))


def test_keep_alive_over_tls(tls_server, tmp_path):
    port = tls_port(tls_server)
    conn = http.client.HTTPSConnection("localhost", port, context=_context(tmp_path), timeout=10)
    try:
        for _ in range(3):
            conn.request("GET", "/__admin/health")
            r = conn.getresponse()
            assert r.status == 200 and b'"status": "ok"' in r.read()
        assert conn.sock is not None  # the same connection served all three
    finally:
        conn.close()


def test_stalled_handshakes_and_slow_tls_clients_lock_nobody_out(tls_server, tmp_path):
    port = tls_port(tls_server)
    stalled = [socket.create_connection(("127.0.0.1", port)) for _ in range(40)]  # no handshake
    ctx = _context(tmp_path)
    slow = []
    for _ in range(20):  # handshaken, then half a request head
        s = ctx.wrap_socket(
            socket.create_connection(("127.0.0.1", port)), server_hostname="localhost"
        )
        s.sendall(b"GET /__admin/health HTTP/1.1\r\nHost: localhost\r\n")
        slow.append(s)
    try:
        started = time.monotonic()
        conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=10)
        conn.request("GET", "/__admin/health")
        assert conn.getresponse().status == 200
        assert time.monotonic() - started < 5
        conn.close()
        # the slow ones finish their requests and are answered too
        for s in slow:
            s.sendall(b"\r\n")
        for s in slow:
            assert s.recv(64).startswith(b"HTTP/1.1 200")
    finally:
        for s in stalled + slow:
            s.close()


def partial_client_hello() -> bytes:
    """The first half of a real ClientHello (the ssl module's client, on memory buffers)."""
    client = ssl.create_default_context().wrap_bio(
        ssl.MemoryBIO(), outgoing := ssl.MemoryBIO(), server_hostname="localhost"
    )
    with pytest.raises(ssl.SSLWantReadError):
        client.do_handshake()
    hello = outgoing.read()
    return hello[: len(hello) // 2]


def verify_over_tls(port: int, ctx: ssl.SSLContext) -> tuple[int, bytes]:
    """A Prime verify signed by botocore, on a new connection (so a new handshake)."""
    signer = Signer(PRIME_KEY, PRIME_SECRET, "execute-api", "us-east-1")
    headers = signer.headers(
        "GET", f"https://localhost:{port}{VERIFY}", {"x-amz-marketplace": "US"}
    )
    headers.pop("host", None)
    conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=CLIENT_TIMEOUT)
    try:
        conn.request("GET", VERIFY, headers={**headers, "x-amz-request-id": "tls"})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def test_stalled_and_partial_handshakes_do_not_hold_up_new_clients(tls_server, tmp_path):
    """Issue 19, D21: 1,000 silent connections and 200 that sent half a ClientHello; 100 new
    HTTPS verify calls (10 at a time) all succeed, each within the client's timeout (5 s; the
    handshake deadline is 10 s). Latencies: bench/tls_handshakes.py."""
    port = tls_port(tls_server)
    hello = partial_client_hello()
    held = []
    try:
        for n in range(1200):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            if n >= 1000:
                s.sendall(hello)
            held.append(s)
        ctx = _context(tmp_path)
        with concurrent.futures.ThreadPoolExecutor(10) as pool:
            outcomes = list(pool.map(lambda _: _attempt(port, ctx), range(100)))
    finally:
        for s in held:
            s.close()
    failed = [o for o in outcomes if o != (200, b'{"message":"SUCCESS"}')]
    assert not failed, f"{len(failed)} of 100 failed, first: {failed[0]}"


def _attempt(port: int, ctx: ssl.SSLContext) -> Any:
    try:
        return verify_over_tls(port, ctx)
    except OSError as exc:  # a timeout (the handshake waited behind stalled ones) or a reset
        return repr(exc)

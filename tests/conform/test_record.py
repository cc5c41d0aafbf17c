"""`mocksrv record`: a recording proxy in front of a "real" service (a second mocksrv serving HTTPS
under the real host names with mocksrv's CA). The four published AGCOD client libraries (the
drivers of tests/agcod/test_client_libraries.py), botocore-signed Prime calls and boto3 with STS
session credentials go through it; the target verifies every signature, nothing secret is
written, and the written scenario replays every recorded answer."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from mocksrv.registry import validate_paths
from tests.support.paths import ROOT, TOOLS
from tests.support.promotions import DEVO, NEW
from tests.support.record import Record
from tests.support.signing import Signer
from tests.support.sts import assume, session_client

AGCOD_HOST, PRIME_HOST = "agcod-v2-gamma.amazon.com", "prime-apis.amazon.com"
AGCOD = ("AKIAMOCKSRVAGCOD0001", "MockSrvAgcodDemoSecretKey000000000000001")
PRIME = ("AKIAMOCKSRVPRIME0001", "MockSrvPrimeDemoSecretKey000000000000001")
PROMO = ("AKIAMOCKSRVPROMO0001", "MockSrvPromoDemoSecretKey000000000000001")
BENEFIT = "/v1/customer/benefit/PRIME_3P_PARTNER_BENEFIT/offer-code/"


def recorder(tmp_path: Path, target, *extra: str) -> Record:
    port = target.tls_url.rsplit(":", 1)[1]
    ca = tmp_path / "ca"
    return Record(
        "--tls-port", "0", "--ca-dir", str(ca), "--ca-bundle", str(ca / "ca.pem"),
        "--target", f"https://{AGCOD_HOST}", "--target", f"https://{PRIME_HOST}",
        "--connect-to", f"{AGCOD_HOST}=127.0.0.1:{port}",
        "--connect-to", f"{PRIME_HOST}=127.0.0.1:{port}",
        "--overlay", str(tmp_path / "out" / "recorded.yaml"),
        "--exchanges", str(tmp_path / "out" / "exchanges.json"), *extra,
    )  # fmt: skip


def driver(command: list[str], env: dict[str, str]) -> list[dict]:
    full = {
        **os.environ, "MOCKSRV_AGCOD_ACCESS_KEY_ID": AGCOD[0],
        "MOCKSRV_AGCOD_SECRET_ACCESS_KEY": AGCOD[1], "MOCKSRV_AGCOD_PARTNER_ID": "Mocks", **env,
    }  # fmt: skip
    done = subprocess.run(command, env=full, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def prime(proxy: str, method: str, code: str, op: str) -> requests.Response:
    """Signed for the real host, sent to the proxy's plain listener with that Host."""
    path = f"{BENEFIT}{code}/{op}"
    signed = Signer(*PRIME, "execute-api", "us-east-1").headers(
        method, f"https://{PRIME_HOST}{path}", {"x-amz-marketplace": "US"}
    )
    headers = {**signed, "Host": PRIME_HOST, "x-amz-request-id": f"rec-{code}-{op}"}
    return requests.request(method, proxy + path, headers=headers, timeout=30)


def traffic(proxy: Record, ca: Path) -> dict[str, str]:
    """The clients' calls through the proxy; returns the session credentials STS gave."""
    assert shutil.which("node"), "node is missing: run tests/tools/install.sh"
    results = driver(["node", str(TOOLS / "agcod_clients.js")], {"MOCKSRV_URL": proxy.url})
    results += driver(
        [sys.executable, str(TOOLS / "agcod_pypi.py")],
        {"MOCKSRV_URL": proxy.url, "MOCKSRV_TLS_PORT": str(proxy.tls_port),
         "REQUESTS_CA_BUNDLE": str(ca / "ca.pem")},
    )  # fmt: skip
    assert len(results) == 10 and all(r["ok"] for r in results), results
    outcomes = [
        prime(proxy.url, m, c, op).json()["message"]
        for m, c, op in [("GET", "123456789", "verify"), ("POST", "123456789", "redeem"),
                         ("GET", "444444444", "verify"), ("POST", "444444444", "redeem"),
                         ("POST", "444444444", "redeem"), ("GET", "111111111", "verify")]
    ]  # fmt: skip
    assert outcomes == ["SUCCESS", "SUCCESS", "SUCCESS", "SUCCESS",
                        "FAILURE:DENIED:EXCEEDED_USAGE_LIMIT", "INVALID_OFFER_CODE"]  # fmt: skip
    creds = assume(proxy.url)["Credentials"]  # STS's answer carries a secret and a token
    s3 = session_client("s3", proxy.url, creds, signature_version="s3v4")
    s3.put_object(
        Bucket=DEVO, Key=NEW + "clientname_new_codes_20260517_1000.csv", Body=b"R-1,new\n"
    )
    presigned = s3.generate_presigned_url(
        "get_object", Params={"Bucket": DEVO, "Key": "processing-results/" + NEW + "x.json"}
    )  # a presigned URL carries its signature and the token in the query string
    requests.get(presigned, timeout=30)
    return {"secret": creds["SecretAccessKey"], "token": creds["SessionToken"]}


def target_credentials(target) -> list[str]:
    """Every Authorization value (and its signature) the target received: from its journal."""
    out = []
    entries = requests.get(target.url + "/__admin/journal?limit=1000", timeout=5).json()["entries"]
    for e in entries:
        call = requests.get(f"{target.url}/__admin/journal/{e['requestId']}", timeout=5).json()
        auth = dict(call["request"]["headers"]).get("authorization")
        if auth:
            out += [auth, re.search(r"Signature=([0-9a-f]{64})", auth).group(1)]
    return out


def test_record_clients_then_replay_every_answer(tmp_path, server_factory):
    target = server_factory(tls_port=0, ca_dir=tmp_path / "ca")
    proxy = recorder(tmp_path, target)
    try:
        session = traffic(proxy, tmp_path / "ca")
    finally:
        code, out, err = proxy.stop()
    overlay, exchanges = tmp_path / "out" / "recorded.yaml", tmp_path / "out" / "exchanges.json"
    assert code == 0, out + err
    assert f"ok: {overlay} is a valid scenario" in out and "Traceback" not in err

    # the target verified every forwarded signature
    journal = requests.get(target.url + "/__admin/journal?limit=1000", timeout=5).json()
    assert journal["count"] == 19 and not [e for e in journal["entries"] if e["signature_failed"]]
    assert {e["identity"] for e in journal["entries"]} == {
        "agcod-sandbox", "prime-partner", "clientname",
        "arn:aws:sts::111122223333:assumed-role/clientname-PromoCodesUpload-Role/upload",
    }  # fmt: skip

    # no secret, Authorization value, signature or session token in any written file
    written = overlay.read_text() + exchanges.read_text()
    forbidden = [AGCOD[1], PRIME[1], PROMO[1], session["secret"], session["token"]]
    forbidden += [AGCOD[0], PRIME[0], PROMO[0], *target_credentials(target)]
    assert len(forbidden) > 40
    assert [s for s in forbidden if s in written] == []

    # the exchange file: every call in the journal's format, in order
    doc = json.loads(exchanges.read_text())
    assert doc["count"] == 19 == len(doc["entries"])
    first = doc["entries"][0]
    assert set(first) >= {"entry", "request", "response"}
    assert set(first["entry"]) == set(journal["entries"][0])
    apis = [e["entry"]["api"] for e in doc["entries"]]
    assert apis == ["agcod"] * 10 + ["prime"] * 6 + ["sts", "promotions", "promotions"]
    assert "X-Amz-Signature=%3Credacted%3E" in doc["entries"][-1]["entry"]["path"]
    replay(server_factory, overlay, doc)


def replay(server_factory, overlay: Path, doc: dict) -> None:
    """Every recorded request of a pinned API, signed again, gets the recorded answer."""
    assert validate_paths([str(overlay)]) == []
    srv = server_factory([str(overlay)])
    pinned = [e for e in doc["entries"] if e["entry"]["api"] in ("agcod", "prime", "promotions")]
    assert len(pinned) == 18  # all but STS, whose answers hold credentials and are never pinned
    for exchange in pinned:
        answer = resend(srv.url, exchange)
        recorded = exchange["response"]
        assert (answer.status_code, answer.text) == (recorded["status"], recorded["body"]), exchange
        kept = {k.lower(): v for k, v in recorded["headers"]}
        for name in ("content-type", "x-amzn-errortype", "etag"):
            if name in kept:
                assert answer.headers[name] == kept[name], (name, exchange)


def resend(url: str, exchange: dict) -> requests.Response:
    req = exchange["request"]
    entry = exchange["entry"]
    skip = {"authorization", "x-amz-date", "host", "content-length", "x-amz-security-token",
            "x-amz-content-sha256", "connection", "accept-encoding", "user-agent"}  # fmt: skip
    headers = {k: v for k, v in req["headers"] if k.lower() not in skip}
    body = req["body"].encode()
    if entry["api"] == "promotions":  # the presigned read is signed in its headers this time
        path = entry["path"].split("?", 1)[0]
        aws = AWSRequest(method=entry["method"], url=url + path, data=body, headers=headers)
        S3SigV4Auth(Credentials(*PROMO), "s3", "us-east-1").add_auth(aws)
        return requests.request(
            entry["method"], aws.url, data=body, headers=dict(aws.headers), timeout=10
        )
    keys, service = (AGCOD, "AGCODService") if entry["api"] == "agcod" else (PRIME, "execute-api")
    unsigned = {k: v for k, v in headers.items() if k.lower() == "x-amz-request-id"}
    signed = {k: v for k, v in headers.items() if k not in unsigned}
    return Signer(*keys, service, "us-east-1").send(
        entry["method"], url + entry["path"], signed, body, unsigned=unsigned
    )


def test_claim_codes_masked(tmp_path, server_factory):
    target = server_factory(tls_port=0, ca_dir=tmp_path / "ca")
    proxy = recorder(tmp_path, target, "--mask-codes")
    try:
        body = json.dumps({"creationRequestId": "MocksMasked1", "partnerId": "Mocks",
                           "value": {"currencyCode": "USD", "amount": 5}}).encode()  # fmt: skip
        headers = {"accept": "application/json", "content-type": "application/json"}
        signed = Signer(*AGCOD, "AGCODService", "us-east-1").headers(
            "POST", f"https://{AGCOD_HOST}/CreateGiftCard", headers, body
        )
        answers = [
            requests.post(proxy.url + "/CreateGiftCard", data=body, timeout=30,
                          headers={**signed, "Host": AGCOD_HOST}).json()
            for _ in range(2)
        ]  # fmt: skip
    finally:
        code, out, _ = proxy.stop()
    assert code == 0, out
    claim = answers[0]["gcClaimCode"]
    assert answers[1]["gcClaimCode"] == claim  # the client got the real code, twice
    written = (tmp_path / "out" / "recorded.yaml").read_text()
    written += (tmp_path / "out" / "exchanges.json").read_text()
    assert claim not in written
    masked = set(re.findall(r'gcClaimCode\\?":\\?"([^"\\]+)', written))
    assert len(masked) == 1 and re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{6}-[A-Z0-9]{4}", masked.pop())


class RawTarget:
    """A plain HTTP target that keeps the bytes it received and answers each request with a
    fixed response: what the proxy forwards, byte for byte."""

    ANSWER = b"HTTP/1.1 200 OK\r\nX-Seen: yes\r\nContent-Length: 2\r\n\r\nok"

    def __init__(self, requests_per_connection: int) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received = b""
        self.count = requests_per_connection
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        with self.sock:
            conn, _ = self.sock.accept()
        conn.settimeout(10)
        with conn:
            answered = 0
            while answered < self.count:
                data = conn.recv(65536)
                if not data:
                    return
                self.received += data
                done = self.received.count(b"t\r\n\r\n") + self.received.count(b"\r\n\r\nabc")
                while answered < min(done, self.count):
                    conn.sendall(self.ANSWER)
                    answered += 1


def test_requests_are_forwarded_byte_for_byte(tmp_path):
    raw_target = RawTarget(2)
    first = (
        b"POST /CreateGiftCard?b=2&a=1 HTTP/1.1\r\nhOsT: agcod-v2-gamma.amazon.com\r\n"
        b"X-Amz-Date:20260516T020000Z\r\nx-custom:  two  spaces \r\nTransfer-Encoding: chunked\r\n"
        b"\r\n3;ext=1\r\nabc\r\n0\r\nTrailer: t\r\n\r\n"
    )
    second = b"GET /v1/x HTTP/1.1\r\nHost: prime-apis.amazon.com\r\nContent-Length: 3\r\n\r\nabc"
    proxy = Record(
        "--target", f"http://127.0.0.1:{raw_target.port}",
        "--overlay", str(tmp_path / "r.yaml"), "--exchanges", str(tmp_path / "x.json"),
    )  # fmt: skip
    try:
        port = int(proxy.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.sendall(first + second)  # pipelined
            got = b""
            while got.count(b"\r\n\r\nok") < 2:
                chunk = client.recv(65536)
                assert chunk, got
                got += chunk
    finally:
        code, out, err = proxy.stop()
    raw_target.thread.join(10)
    assert raw_target.received == first + second
    assert got == RawTarget.ANSWER * 2
    assert code == 0, out + err
    doc = json.loads((tmp_path / "x.json").read_text())
    assert [e["request"]["headers"][0] for e in doc["entries"]] == [
        ["hOsT", "agcod-v2-gamma.amazon.com"],
        ["Host", "prime-apis.amazon.com"],
    ]


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999\r\n\r\n", 413),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
    ],
)
def test_malformed_requests_get_an_answer_and_nothing_is_forwarded(tmp_path, raw, status):
    proxy = Record("--target", "http://127.0.0.1:9", "--overlay", str(tmp_path / "r.yaml"),
                   "--exchanges", str(tmp_path / "x.json"))  # fmt: skip
    try:
        port = int(proxy.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            client.sendall(raw)
            answer = client.recv(65536)
    finally:
        code, _, _ = proxy.stop()
    assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer
    assert code == 0
    assert json.loads((tmp_path / "x.json").read_text())["count"] == 0


def test_a_target_that_cannot_be_reached_is_a_502(tmp_path):
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    proxy = Record("--target", f"http://127.0.0.1:{port}", "--overlay", str(tmp_path / "r.yaml"),
                   "--exchanges", str(tmp_path / "x.json"))  # fmt: skip
    try:
        answer = requests.get(proxy.url + "/GetAvailableFunds", timeout=10)
    finally:
        proxy.stop()
    assert answer.status_code == 502 and "did not answer" in answer.json()["message"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "agcod"], "not an http(s) URL: 'agcod'"),
        (["--target", "https://x", "--extends", "no-such-scenario"], "--extends: "),
        (["--target", "https://x", "--ca-bundle", "/nonexistent.pem"], "no such file"),
        (["--target", "https://x", "--overlay", "{tmp}/file/r.yaml"], "cannot write the recording"),
    ],
)
def test_bad_options_exit_2(tmp_path, args, message):
    from tests.support.cli import mocksrv_cli

    (tmp_path / "file").write_text("a file, not a folder")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    out = ["--overlay", str(tmp_path / "r.yaml"), "--exchanges", str(tmp_path / "x.json")]
    done = mocksrv_cli("record", "--port", "0", *out, *args)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # nothing written


def test_an_overlay_that_does_not_validate_exits_1(tmp_path, server_factory):
    """The overlay extends a scenario without the recorded benefit: replay could not answer it,
    and the recorder says so (the base file is written relative to the overlay's folder)."""
    target = server_factory()
    base = tmp_path / "base" / "agcod-only.yaml"
    base.parent.mkdir()
    base.write_text((ROOT / "scenarios" / "agcod-sandbox-realistic.yaml").read_text())
    proxy = Record("--target", target.url, "--extends", str(base),
                   "--overlay", str(tmp_path / "out" / "r.yaml"),
                   "--exchanges", str(tmp_path / "out" / "x.json"))  # fmt: skip
    try:
        assert prime(proxy.url, "GET", "123456789", "verify").status_code == 200
    finally:
        code, out, err = proxy.stop()
    assert code == 1, out + err
    assert "extends: ../base/agcod-only.yaml" in (tmp_path / "out" / "r.yaml").read_text()
    assert "prime.recorded[0].benefit_id: unknown benefit 'PRIME_3P_PARTNER_BENEFIT'" in out

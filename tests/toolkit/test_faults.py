"""Fault injection seen by real clients: wire errors, throttling, latency, transport faults."""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import time
from urllib.parse import urlparse

import pytest
import requests

from mocksrv.toolkit.client import AdminError

VERIFY = {"api": "prime", "operation": "verify"}


def test_wire_error_by_name_reaches_client(mocksrv, mocksrv_prime):
    mocksrv.fault(match=VERIFY, error="ServiceUnavailable")
    r = mocksrv_prime.verify("123456789")
    assert r.status_code == 503
    assert r.json() == {"error": {"code": "ServiceUnavailable", "message": "Service Unavailable"}}
    assert r.headers["x-amzn-ErrorType"] == "ServiceUnavailable"
    (entry,) = mocksrv.journal(operation="verify")
    assert entry["outcome"] == "ServiceUnavailable" and entry["fault"] == "fault 1"


def test_throttle_uses_the_apis_own_throttling_error(mocksrv, mocksrv_prime):
    mocksrv.fault(match=VERIFY, throttle=True)
    r = mocksrv_prime.verify("123456789")
    assert r.status_code == 429
    assert r.json() == {"error": {"code": "TooManyRequests", "message": "Too Many Requests"}}


def test_fixed_latency_delays_the_answer(mocksrv, mocksrv_prime):
    mocksrv.fault(match=VERIFY, latency_ms=400)
    started = time.monotonic()
    r = mocksrv_prime.verify("123456789")
    assert time.monotonic() - started >= 0.4
    assert r.json() == {"message": "SUCCESS"}
    assert mocksrv.journal()[0]["latencyMs"] >= 400


def test_latency_range_is_seeded_and_bounded(mocksrv, mocksrv_prime):
    import random

    mocksrv.fault(match=VERIFY, latency_ms={"min": 100, "max": 300}, seed=3)
    for _ in range(3):
        mocksrv_prime.verify("123456789")
    rng = random.Random(3)  # documented: a range is uniform, seeded by `seed`
    expected = [rng.uniform(100, 300) for _ in range(3)]
    measured = [e["latencyMs"] for e in reversed(mocksrv.journal())]
    for want, got in zip(expected, measured, strict=True):
        assert want <= got < want + 250, (expected, measured)


def test_connection_reset_reaches_requests(mocksrv, mocksrv_prime):
    mocksrv.fault(match=VERIFY, transport="connection_reset")
    with pytest.raises(requests.exceptions.ConnectionError) as info:
        mocksrv_prime.verify("123456789")
    assert "reset" in str(info.value).lower() or "aborted" in str(info.value).lower()


def test_connection_reset_is_a_tcp_rst(mocksrv, mocksrv_prime):
    mocksrv.fault(match=VERIFY, transport="connection_reset")
    path = "/v1/customer/benefit/PRIME_3P_PARTNER_BENEFIT/offer-code/123456789/verify"
    prepared = _signed_headers(mocksrv_prime, path)
    host = urlparse(mocksrv.url)
    with socket.create_connection((host.hostname, host.port), timeout=5) as sock:
        head = "".join(f"{k}: {v}\r\n" for k, v in prepared.items())
        sock.sendall(f"GET {path} HTTP/1.1\r\n{head}\r\n".encode())
        with pytest.raises(ConnectionResetError):
            while sock.recv(4096):
                pass


def _signed_headers(client, path: str) -> dict[str, str]:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    req = AWSRequest(method="GET", url=client.base_url + path, headers={"x-amz-marketplace": "US"})
    SigV4Auth(client.credentials, "execute-api", "us-east-1").add_auth(req)
    headers = dict(req.headers.items())
    headers["x-amz-request-id"] = "raw"
    headers["Host"] = urlparse(client.base_url).netloc
    return headers


def test_empty_response_reaches_requests(mocksrv, mocksrv_prime):
    mocksrv.fault(match=VERIFY, transport="empty_response")
    with pytest.raises(requests.exceptions.ConnectionError) as info:
        mocksrv_prime.verify("123456789")
    assert "without response" in str(info.value)


def test_truncated_response_reaches_http_client(mocksrv, mocksrv_prime):
    mocksrv.fault(match=VERIFY, transport="truncated_response")
    path = "/v1/customer/benefit/PRIME_3P_PARTNER_BENEFIT/offer-code/123456789/verify"
    host = urlparse(mocksrv.url)
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=5)
    conn.request("GET", path, headers=_signed_headers(mocksrv_prime, path))
    resp = conn.getresponse()
    assert resp.status == 500
    with pytest.raises(http.client.IncompleteRead):
        resp.read()
    conn.close()


def test_truncated_response_reaches_requests(mocksrv, mocksrv_prime):
    mocksrv.fault(match=VERIFY, transport="truncated_response")
    with pytest.raises(requests.exceptions.ChunkedEncodingError, match="IncompleteRead"):
        mocksrv_prime.verify("123456789").content  # noqa: B018


def test_nth_call_only(mocksrv, mocksrv_prime):
    mocksrv.fault(match=VERIFY, error="InternalServerError", nth=2)
    codes = [mocksrv_prime.verify("123456789").status_code for _ in range(3)]
    assert codes == [200, 500, 200]


def test_times_and_after(mocksrv, mocksrv_prime):
    mocksrv.fault(match=VERIFY, throttle=True, after=1, times=2)
    codes = [mocksrv_prime.verify("123456789").status_code for _ in range(5)]
    assert codes == [200, 429, 429, 200, 200]


def test_probability_with_seed_is_reproducible(mocksrv, mocksrv_prime):
    def pattern() -> list[int]:
        mocksrv.fault(match=VERIFY, throttle=True, probability=0.5, seed=42)
        out = [mocksrv_prime.verify("123456789").status_code for _ in range(16)]
        mocksrv.clear_faults()
        return out

    first, second = pattern(), pattern()
    assert first == second
    assert set(first) == {200, 429}


def test_match_by_request_field(mocksrv, mocksrv_prime):
    mocksrv.fault(
        match={**VERIFY, "fields": {"offerCode": "111111111"}}, error="ServiceUnavailable"
    )
    assert mocksrv_prime.verify("123456789").status_code == 200
    assert mocksrv_prime.verify("111111111").status_code == 503


def test_match_by_identity(mocksrv, mocksrv_prime):
    mocksrv.fault(match={**VERIFY, "identity": "someone-else"}, error="ServiceUnavailable")
    assert mocksrv_prime.verify("123456789").status_code == 200
    mocksrv.fault(match={**VERIFY, "identity": "prime-partner"}, error="ServiceUnavailable")
    assert mocksrv_prime.verify("123456789").status_code == 503


def test_commit_then_fail_with_prime_redeem_consumes_the_use(mocksrv, mocksrv_prime):
    mocksrv.fault(
        match={"api": "prime", "operation": "redeem", "fields": {"offerCode": "444444444"}},
        commit_then_fail="connection_reset",
        times=1,
    )
    with pytest.raises(requests.exceptions.ConnectionError):
        mocksrv_prime.redeem("444444444")
    state = mocksrv.state("prime")
    (code,) = [c for c in state["offerCodes"] if c["code"] == "444444444"]
    assert len(code["redemptions"]) == 1
    retry = mocksrv_prime.redeem("444444444")
    assert retry.json() == {"message": "FAILURE:DENIED:EXCEEDED_USAGE_LIMIT"}


def test_fault_removed_at_run_time(mocksrv, mocksrv_prime):
    fault = mocksrv.fault(id="flaky", match=VERIFY, error="ServiceUnavailable")
    assert fault["id"] == "flaky"
    assert mocksrv_prime.verify("123456789").status_code == 503
    mocksrv.admin("DELETE", "/faults/flaky")
    assert mocksrv_prime.verify("123456789").status_code == 200
    listed = mocksrv.admin("GET", "/faults")["faults"]
    assert listed == []


def test_unknown_wire_error_is_refused(mocksrv):
    with pytest.raises(AdminError) as info:
        mocksrv.fault(match=VERIFY, error="ServiceUnavailabel")
    assert "'ServiceUnavailabel' is not a prime wire error" in str(info.value)


def test_fault_without_action_is_refused(mocksrv):
    with pytest.raises(AdminError, match="a fault needs an action"):
        mocksrv.fault(match=VERIFY)


def test_fault_with_two_actions_is_refused(mocksrv):
    with pytest.raises(AdminError, match="give at most one of error, throttle"):
        mocksrv.fault(match=VERIFY, error="ServiceUnavailable", throttle=True)


def test_fault_schema_error_names_the_key(mocksrv):
    with pytest.raises(AdminError, match="invalid fault: transport: 'reset' is not one of"):
        mocksrv.fault(match=VERIFY, transport="reset")


def test_fault_in_scenario_with_typo_fails_at_load(mocksrv):
    text = (
        "version: 1\nname: typo\nfaults:\n  - match: {api: prime}\n    error: ServiceUnavailabel\n"
    )
    with pytest.raises(AdminError) as info:
        mocksrv.admin("POST", "/scenarios", {"yaml": text})
    assert (
        "<admin>/posted.yaml:4: faults[0]: error: 'ServiceUnavailabel' is not a prime wire error"
        in str(info.value)
    )


def test_domain_modules_do_not_import_werkzeug_or_flask():
    code = (
        "import sys\n"
        "import mocksrv.toolkit.faults, mocksrv.toolkit.expectations\n"
        "import mocksrv.toolkit.journal, mocksrv.toolkit.matching\n"
        "print(sorted(m for m in ('werkzeug', 'flask') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr


def test_times_holds_under_concurrent_calls(mocksrv):
    from concurrent.futures import ThreadPoolExecutor

    mocksrv.fault(match=VERIFY, error="ServiceUnavailable", times=5)
    clients = [mocksrv.prime() for _ in range(24)]  # one session per thread
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda c: c.verify("123456789").status_code, clients))
    assert sorted(codes).count(503) == 5 and codes.count(200) == 19


def test_a_delayed_call_does_not_hold_up_others(mocksrv, mocksrv_prime):
    import threading

    mocksrv.fault(match={**VERIFY, "fields": {"offerCode": "111111111"}}, latency_ms=1500)
    slow = threading.Thread(target=mocksrv_prime.verify, args=("111111111",))
    slow.start()
    time.sleep(0.1)
    other = mocksrv.prime()
    started = time.monotonic()
    assert other.verify("123456789").json() == {"message": "SUCCESS"}
    assert time.monotonic() - started < 1.0  # well before the delayed call ends
    assert slow.is_alive()
    slow.join(timeout=5)

"""Issue 22: open health and readiness, and Prometheus metrics, over real HTTP.

Metrics are read with prometheus_client's own text parser, never with mocksrv's code.
"""

from __future__ import annotations

import requests
from prometheus_client.parser import text_string_to_metric_families

from mocksrv.app import create_app
from mocksrv.server import ServerThread
from mocksrv.settings import Settings
from mocksrv.state.open import open_engine
from tests.support.cli import Serve
from tests.support.signing import PRIME_KEY, PRIME_SECRET, Signer

TOKEN = "health-metrics-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PRIME = Signer(PRIME_KEY, PRIME_SECRET, "execute-api", "us-east-1")
VERIFY = "/v1/customer/benefit/PRIME_3P_PARTNER_BENEFIT/offer-code/123456789/verify"


def verify(url: str, signer: Signer = PRIME, **kw: object) -> requests.Response:
    return signer.send(
        "GET", url + VERIFY, {"x-amz-marketplace": "US"}, unsigned={"x-amz-request-id": "m1"}, **kw
    )


def scrape(url: str, headers: dict[str, str] | None = None) -> dict[tuple[str, tuple], float]:
    """Every sample of GET /__admin/metrics: (name, sorted labels) -> value."""
    r = requests.get(url + "/__admin/metrics", headers=headers or {}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def sample(samples: dict[tuple[str, tuple], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# --- health and readiness ----------------------------------------------------------------------
def test_health_and_ready_are_open_on_any_bind_and_every_other_admin_path_needs_the_token():
    srv = Serve("--host", "0.0.0.0", env={"MOCKSRV_ADMIN_TOKEN": TOKEN})
    try:
        admin = f"{srv.url}/__admin"
        # a probe of a load balancer: no token, a Host of its own choosing
        for host in (None, "mocksrv:4599", "10.1.2.3"):
            headers = {"Host": host} if host else {}
            health = requests.get(f"{admin}/health", headers=headers, timeout=10)
            assert health.status_code == 200 and health.json() == {"status": "ok"}
            ready = requests.get(f"{admin}/ready", headers=headers, timeout=10)
            assert ready.status_code == 200 and ready.json() == {"status": "ready"}
        detailed = requests.get(f"{admin}/ready", headers=AUTH, timeout=10).json()
        assert detailed == {"status": "ready", "checks": {"scenario": "ok"}}
        assert requests.get(f"{admin}/health", headers=AUTH, timeout=10).json()["version"]
        endpoints = requests.get(admin, headers=AUTH, timeout=10).json()["endpoints"]
        open_paths = {"/__admin/health", "/__admin/ready", "/__admin/dashboard"}
        checked = 0
        for line in endpoints:
            *methods, path = line.split(" ")
            if path in open_paths or path == "/__admin/dashboard/<asset>":
                continue
            path = path.replace("<asset>", "x").replace("<api>", "prime")
            for method in methods:
                r = requests.request(method, srv.url + path.replace("<", "").replace(">", ""),
                                     json={}, timeout=10)  # fmt: skip
                assert r.status_code == 401, (method, path, r.status_code)
                assert r.json()["error"]["code"] == "Unauthorized"
                assert "secret" not in r.text.lower() and "version" not in r.text
                checked += 1
        assert checked >= 25
    finally:
        err = srv.stop()
    assert "Traceback" not in err


def test_ready_is_503_when_the_state_database_does_not_answer(tmp_path):
    db = open_engine(str(tmp_path / "state.db"))
    settings = Settings(host="127.0.0.1", port=0)
    server = ServerThread(create_app(settings, None, state=db), settings).start()
    try:
        url = f"{server.url}/__admin/ready"
        assert requests.get(url, timeout=10).json() == {
            "status": "ready", "checks": {"scenario": "ok", "state": "ok"}}  # fmt: skip
        db.close()  # as if the file had gone away under the server
        r = requests.get(url, timeout=10)
        assert r.status_code == 503
        assert r.json() == {
            "status": "not ready",
            "checks": {"scenario": "ok", "state": "unreachable"},
        }
    finally:
        server.stop()


# --- metrics -------------------------------------------------------------------------------------
def test_metrics_count_exactly_the_requests_sent(server_factory):
    srv = server_factory()
    before = scrape(srv.url)
    ok = [verify(srv.url) for _ in range(7)]
    wrong = [verify(srv.url, secret="not-the-secret") for _ in range(3)]
    unsigned = [requests.get(srv.url + VERIFY, headers={"x-amz-marketplace": "US"}, timeout=10)
                for _ in range(2)]  # fmt: skip
    assert {r.status_code for r in ok} == {200} and {r.status_code for r in wrong + unsigned} == {
        403
    }
    after = scrape(srv.url)

    def rise(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    op = {"api": "prime", "operation": "verify"}
    assert rise("mocksrv_requests_total", **op, outcome="SUCCESS", status="200") == 7
    assert rise("mocksrv_requests_total", **op, outcome="signature:mismatch", status="403") == 3
    assert rise("mocksrv_requests_total", **op, outcome="signature:missing", status="403") == 2
    assert rise("mocksrv_request_duration_seconds_count", **op) == 12
    assert rise("mocksrv_request_duration_seconds_bucket", **op, le="+Inf") == 12
    assert rise("mocksrv_request_duration_seconds_sum", **op) > 0
    assert sample(after, "mocksrv_journal_entries") == 12
    assert sample(after, "mocksrv_uptime_seconds") > 0
    assert sample(after, "mocksrv_info", version=__import__("mocksrv").__version__) == 1
    # admin requests (the scrapes) are not counted
    assert sum(v for (n, _), v in after.items() if n == "mocksrv_requests_total") == 12


def test_faults_expectations_and_resets(server_factory):
    srv = server_factory()
    admin = f"{srv.url}/__admin"
    fault = {"name": "down", "match": {"api": "prime"}, "error": "ServiceUnavailable", "times": 2}
    assert requests.post(f"{admin}/faults", json=fault, timeout=10).status_code == 200
    expectation = {
        "name": "verified",
        "match": {"api": "prime", "operation": "verify"},
        "count": {"at_least": 5},
    }
    assert requests.post(f"{admin}/expectations", json=expectation, timeout=10).status_code == 200
    statuses = [verify(srv.url).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    samples = scrape(srv.url)
    assert sample(samples, "mocksrv_faults_fired_total", api="prime", fault="down") == 2
    assert sample(samples, "mocksrv_expectations", state="unmet") == 1
    assert sample(samples, "mocksrv_expectations", state="met") == 0
    # a reset rebuilds the sandbox; the counters go on rising (Prometheus counters never fall)
    assert requests.post(f"{admin}/reset", json={}, timeout=10).status_code == 200
    verify(srv.url)
    samples = scrape(srv.url)
    labels = {"api": "prime", "operation": "verify", "status": "200", "outcome": "SUCCESS"}
    assert sample(samples, "mocksrv_requests_total", **labels) == 2
    assert sample(samples, "mocksrv_journal_entries") == 1
    assert sample(samples, "mocksrv_expectations", state="unmet") == 0


def test_state_commit_latency_is_measured(tmp_path):
    db = open_engine(str(tmp_path / "state.db"))
    settings = Settings(host="127.0.0.1", port=0)
    server = ServerThread(create_app(settings, None, state=db), settings).start()
    try:
        before = scrape(server.url)
        signer = Signer(PRIME_KEY, PRIME_SECRET, "execute-api", "us-east-1")
        url = server.url + VERIFY.replace("123456789/verify", "444444444/redeem")
        r = signer.send(
            "POST", url, {"x-amz-marketplace": "US"}, unsigned={"x-amz-request-id": "r"}
        )
        assert r.status_code == 200, r.text
        after = scrape(server.url)
    finally:
        server.stop()
        db.close()
    name = "mocksrv_state_commit_duration_seconds_count"
    assert sample(after, name) > sample(before, name)


def test_metrics_need_the_token_off_loopback_unless_opened():
    closed = Serve("--host", "0.0.0.0", env={"MOCKSRV_ADMIN_TOKEN": TOKEN})
    try:
        r = requests.get(f"{closed.url}/__admin/metrics", timeout=10)
        assert r.status_code == 401 and "mocksrv_" not in r.text
        assert requests.get(f"{closed.url}/__admin/metrics/traffic", timeout=10).status_code == 401
        assert "mocksrv_uptime_seconds" in str(scrape(closed.url, AUTH))
    finally:
        closed.stop()
    opened = Serve("--host", "0.0.0.0", "--metrics-open", env={"MOCKSRV_ADMIN_TOKEN": TOKEN})
    try:
        assert "mocksrv_uptime_seconds" in str(scrape(opened.url))
        assert requests.get(f"{opened.url}/__admin/metrics/traffic", timeout=10).status_code == 200
        assert requests.get(f"{opened.url}/__admin/journal", timeout=10).status_code == 401
    finally:
        opened.stop()


def test_traffic_series_counts_requests_per_api(server_factory):
    srv = server_factory()
    for _ in range(10):
        verify(srv.url)
    traffic = requests.get(f"{srv.url}/__admin/metrics/traffic", timeout=10).json()
    prime = traffic["apis"]["prime"]
    assert len(prime["requestsPerSecond"]) == traffic["points"]
    assert round(sum(prime["requestsPerSecond"]) * traffic["stepSeconds"]) == 10
    assert any(v is not None and v > 0 for v in prime["meanLatencyMs"])


def test_counters_stay_exact_under_concurrent_requests(server_factory):
    from concurrent.futures import ThreadPoolExecutor

    srv = server_factory()
    before = scrape(srv.url)
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda _: verify(srv.url).status_code, range(200)))
    assert codes == [200] * 200
    after = scrape(srv.url)
    labels = {"api": "prime", "operation": "verify", "outcome": "SUCCESS", "status": "200"}
    rise = sample(after, "mocksrv_requests_total", **labels) - sample(
        before, "mocksrv_requests_total", **labels
    )
    assert rise == 200
    count = "mocksrv_request_duration_seconds_count"
    assert sample(after, count, api="prime", operation="verify") == 200
    traffic = requests.get(f"{srv.url}/__admin/metrics/traffic", timeout=10).json()
    prime = traffic["apis"]["prime"]["requestsPerSecond"]
    assert round(sum(prime) * traffic["stepSeconds"]) == 200

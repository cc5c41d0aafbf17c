"""The pytest plugin and `mocksrv run` on a server they did not start: a tenant of their own
(one per pytest-xdist worker), its keys in the fixtures and the environment, resets of that
tenant alone, deleted at the end; and the three failures of issue 21 (two jobs on one server,
`mocksrv run -- pytest -n 2`, an exported MOCKSRV_URL wiping a demo server), each of which failed
before tenants."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.support.cli import Serve

PY = sys.executable
DEMO_PROD = ("AKIAMOCKSRVAGCOD0002", "MockSrvAgcodDemoSecretKey000000000000002")
# waits for a file another process writes (bounded): the tests below order two processes' steps
WAIT = """
import os, time
from pathlib import Path

def signal(name):
    Path(os.environ["SYNC_DIR"], name).write_text("1")

def wait_for(name):
    deadline = time.monotonic() + 60
    while not Path(os.environ["SYNC_DIR"], name).exists():
        assert time.monotonic() < deadline, f"waited 60 s for {name}"
        time.sleep(0.02)
"""


def _pytest(folder: Path, *args: str, env: dict[str, str] | None = None, **kw: object):  # type: ignore[no-untyped-def]
    """`python -m pytest -p mocksrv ARGS` in `folder` (a child process of its own)."""
    return subprocess.Popen(
        [PY, "-m", "pytest", "-p", "mocksrv", "-p", "no:cacheprovider", "-q", *args],
        cwd=folder, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, **kw,  # type: ignore[call-overload]
    )  # fmt: skip


def _done(proc: subprocess.Popen) -> tuple[int, str]:  # type: ignore[type-arg]
    out, _ = proc.communicate(timeout=300)
    return proc.returncode, out


def _clean_env() -> dict[str, str]:
    """This process's environment without what a `mocksrv run` around the suite would add."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("MOCKSRV_", "AWS_"))}


@pytest.fixture
def serve(tmp_path):  # type: ignore[no-untyped-def]
    srv = Serve()
    yield srv
    srv.stop()


def test_an_exported_mocksrv_url_never_resets_a_demo_server(tmp_path):
    """Issue 21: a plain `pytest` with MOCKSRV_URL exported reset a demo server running with
    --state: its one production card was gone afterwards."""
    srv = Serve("--scenario", "demo", "--state", str(tmp_path / "demo.db"))
    try:
        from tests.support.signing import Signer

        body = b'{"creationRequestId":"MocksProdDemo1","partnerId":"MocksProd","value":{"currencyCode":"USD","amount":10}}'
        signer = Signer(*DEMO_PROD, "AGCODService", "us-east-1")
        headers = {"content-type": "application/json", "accept": "application/json"}
        assert signer.send("POST", srv.url + "/CreateGiftCard", headers, body).status_code == 200
        before = requests.get(srv.url + "/__admin/state/agcod", timeout=10).json()
        (tmp_path / "suite").mkdir()
        (tmp_path / "suite" / "test_mine.py").write_text(
            "def test_mine(mocksrv, mocksrv_agcod):\n"
            "    r = mocksrv_agcod.call('CreateGiftCard', {'creationRequestId': 'MocksProdMine1',\n"
            "        'partnerId': 'MocksProd', 'value': {'currencyCode': 'USD', 'amount': 5}})\n"
            "    assert r.status_code == 200, r.text\n"
            "    mocksrv.reset()\n"
            "def test_again(mocksrv):\n"
            "    assert mocksrv.state('agcod')['cards'] == []\n"
        )
        rc, out = _done(_pytest(tmp_path / "suite", env={**_clean_env(), "MOCKSRV_URL": srv.url}))
        assert rc == 0, out
        after = requests.get(srv.url + "/__admin/state/agcod", timeout=10).json()
        assert after["cards"] == before["cards"]  # the demo's card is still there
        assert [c["creationRequestId"] for c in after["cards"]] == ["MocksProdDemo1"]
        assert after["partners"] == before["partners"]  # and its funds are as they were
        journal = requests.get(srv.url + "/__admin/journal", timeout=10).json()["entries"]
        assert len(journal) == 1  # the demo's own request, nothing of the test run
        assert requests.get(srv.url + "/__admin/tenants", timeout=10).json()["count"] == 0
    finally:
        srv.stop()


def test_two_jobs_on_one_server_never_see_each_others_resets(serve, tmp_path):
    """Issue 21: job B's journal assertion saw `assert 0 == 1` because job A's per-test reset
    cleared it. Here job A's second test (reset before it by the plugin) runs between job B's
    request and B's assertion, every time."""
    for job in ("a", "b"):
        (tmp_path / job).mkdir()
    (tmp_path / "a" / "test_a.py").write_text(
        WAIT
        + """
def test_first(mocksrv):
    wait_for("b-requested")

def test_second(mocksrv):  # the plugin reset the sandbox before this test
    signal("a-reset")
"""
    )
    (tmp_path / "b" / "test_b.py").write_text(
        WAIT
        + """
def test_b(mocksrv, mocksrv_prime, mocksrv_journal):
    assert mocksrv_prime.verify("123456789").json() == {"message": "SUCCESS"}
    signal("b-requested")
    wait_for("a-reset")
    assert len(mocksrv_journal(api="prime")) == 1
"""
    )
    env = {**_clean_env(), "MOCKSRV_URL": serve.url, "SYNC_DIR": str(tmp_path)}
    jobs = [_pytest(tmp_path / job, env=env) for job in ("a", "b")]
    (rc_a, out_a), (rc_b, out_b) = (_done(p) for p in jobs)
    assert (rc_a, rc_b) == (0, 0), out_a + out_b
    assert "2 passed" in out_a and "1 passed" in out_b
    assert requests.get(serve.url + "/__admin/journal", timeout=10).json()["entries"] == []
    assert requests.get(serve.url + "/__admin/tenants", timeout=10).json()["count"] == 0


XDIST_SUITE = (
    WAIT
    + """
import os, pytest

step = 0

@pytest.mark.parametrize("n", [pytest.param(i, marks=pytest.mark.xdist_group(f"g{i % 2}"))
                               for i in range(4)])
def test_verify(mocksrv, mocksrv_prime, mocksrv_journal, n):
    global step
    step += 1
    me = os.environ["PYTEST_XDIST_WORKER"]
    other = {"gw0": "gw1", "gw1": "gw0"}[me]
    signal(f"reset-{step}-{me}")          # both workers have reset before either requests
    wait_for(f"reset-{step}-{other}")
    assert mocksrv_prime.verify("123456789").json() == {"message": "SUCCESS"}
    signal(f"verified-{step}-{me}")       # both have requested before either counts
    wait_for(f"verified-{step}-{other}")
    assert len(mocksrv_journal(api="prime")) == 1
"""
)
EXACTLY_4 = """version: 1
expectations:
  - name: every test verified the code
    match: {api: prime, operation: verify, fields: {offerCode: "123456789"}}
    count: {exactly: 4}
"""


def _xdist_suite(folder: Path) -> None:
    folder.mkdir()
    (folder / "test_x.py").write_text(XDIST_SUITE)
    (folder / "four.yaml").write_text(EXACTLY_4)


def _run(folder: Path, *args: str, env: dict[str, str]) -> tuple[int, str]:
    done = subprocess.run(
        [PY, "-m", "mocksrv", "run", *args], cwd=folder, env=env, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


PYTEST_N2 = [PY, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-n", "2", "--dist", "loadgroup"]


def test_mocksrv_run_pytest_n_2_each_worker_in_a_tenant_and_the_run_counts_them_all(tmp_path):
    """Issue 21: `mocksrv run -- python -m pytest -n 2` failed all 4 tests: both workers
    attached to the run's one server and reset it under each other."""
    _xdist_suite(tmp_path / "suite")
    env = {**_clean_env(), "SYNC_DIR": str(tmp_path / "suite")}
    rc, out = _run(tmp_path / "suite", "--scenario", "default", "--scenario", "four.yaml",
                   "--", *PYTEST_N2, env=env)  # fmt: skip
    assert rc == 0, out
    assert "4 passed" in out
    assert "mocksrv run: 1/1 expectations met" in out
    assert "met    every test verified the code (4)" in out


def test_mocksrv_run_with_a_server_url_runs_in_a_tenant_and_deletes_every_one(serve, tmp_path):
    _xdist_suite(tmp_path / "suite")
    env = {**_clean_env(), "SYNC_DIR": str(tmp_path / "suite")}
    rc, out = _run(tmp_path / "suite", "--server", serve.url, "--scenario", "default",
                   "--scenario", "four.yaml", "--", *PYTEST_N2, env=env)  # fmt: skip
    assert rc == 0, out
    assert f"mocksrv run: using {serve.url}, tenant t-" in out
    assert "met    every test verified the code (4)" in out
    assert requests.get(serve.url + "/__admin/tenants", timeout=10).json()["count"] == 0
    assert requests.get(serve.url + "/__admin/journal", timeout=10).json()["entries"] == []
    # an unmet expectation of the run is reported as on the run's own server
    (tmp_path / "suite" / "five.yaml").write_text(EXACTLY_4.replace("exactly: 4", "exactly: 5"))
    rc, out = _run(tmp_path / "suite", "--server", serve.url, "--scenario", "default",
                   "--scenario", "five.yaml", "--", *PYTEST_N2, env=env)  # fmt: skip
    assert rc == 1, out
    assert (
        "UNMET  every test verified the code: expected exactly 5 matching request(s), got 4" in out
    )
    assert requests.get(serve.url + "/__admin/tenants", timeout=10).json()["count"] == 0


FIXTURES_SUITE = """
import os, subprocess, sys, pytest
from pathlib import Path

DEMO = {"AKIAMOCKSRVPRIME0001", "AKIAMOCKSRVAGCOD0001", "AKIAMOCKSRVAGCOD0002",
        "AKIAMOCKSRVPROMO0001"}
CHILD = '''
import boto3, os
key = os.environ["NEW_KEY"]
boto3.client("s3").put_object(Bucket="partner-promotions-devo", Key=key, Body=b"CHILD-1,new\\\\n")
print("uploaded")
'''
NEW = ("new-promo-codes/clientname=clientname/marketplace=US/offertype=student-promo-deal/"
       "promotionid=PROMO-0001/clientname_new_codes_20260601_0101.csv")


@pytest.mark.parametrize("n", [pytest.param(i, marks=pytest.mark.xdist_group(f"g{i}"))
                               for i in range(2)])
def test_keys(mocksrv, mocksrv_credentials, mocksrv_prime, mocksrv_agcod, mocksrv_s3,
              mocksrv_env, n):
    worker = os.environ["PYTEST_XDIST_WORKER"]
    mine = [t for t in mocksrv.tenants() if t["id"] == mocksrv.tenant]
    assert mine and mine[0]["name"] == f"pytest {worker} pid {os.getpid()}"
    Path(os.environ["SYNC_DIR"], worker).write_text(mocksrv.tenant)
    assert not {i["access_key"] for i in mocksrv.identities()} & DEMO
    assert (mocksrv_prime.credentials.access_key == mocksrv_credentials["prime"]["access_key"]
            == os.environ["MOCKSRV_PRIME_ACCESS_KEY_ID"])
    assert mocksrv_agcod.credentials.access_key == os.environ["MOCKSRV_AGCOD_ACCESS_KEY_ID"]
    assert os.environ["AWS_ACCESS_KEY_ID"] == mocksrv_credentials["promotions"]["access_key"]
    assert os.environ["MOCKSRV_ADMIN_URL"] == f"{mocksrv.url}/__admin/tenants/{mocksrv.tenant}"
    assert os.environ["MOCKSRV_TENANT"] == mocksrv.tenant
    assert mocksrv_env == {k: os.environ[k] for k in mocksrv_env}
    assert mocksrv_prime.verify("123456789").json() == {"message": "SUCCESS"}
    r = mocksrv_agcod.call("CreateGiftCard", {"creationRequestId": f"Mocks{n}", "partnerId": "Mocks",
                                              "value": {"currencyCode": "USD", "amount": 5}})
    assert r.status_code == 200, r.text
    mocksrv_s3.put_object(Bucket="partner-promotions-devo", Key=NEW.replace("0101", "0102"),
                          Body=b"FIXTURE-1,new\\n")
    # a child process finds the endpoint and this tenant's keys in its environment
    child = subprocess.run([sys.executable, "-c", CHILD], env={**os.environ, "NEW_KEY": NEW},
                           capture_output=True, text=True, timeout=60)
    assert child.stdout == "uploaded\\n", child.stderr
    ops = [(e["api"], e["operation"], e["identity"]) for e in mocksrv.journal()]
    assert ops == [("promotions", "PutObject", "clientname"), ("promotions", "PutObject", "clientname"),
                   ("agcod", "CreateGiftCard", "agcod-sandbox"), ("prime", "verify", "prime-partner")]
"""


def test_fixtures_and_child_processes_sign_with_each_workers_tenant(tmp_path):
    srv = Serve("--admin-token", "s3cr3t-token")
    try:
        (tmp_path / "suite").mkdir()
        (tmp_path / "suite" / "test_fixtures.py").write_text(FIXTURES_SUITE)
        env = {**_clean_env(), "MOCKSRV_URL": srv.url, "SYNC_DIR": str(tmp_path)}
        # without the admin token: one clear line, nothing made
        rc, out = _done(_pytest(tmp_path / "suite", env=env))
        assert rc == 4, out
        assert f"mocksrv: cannot make a tenant on {srv.url}: POST /tenants:" in out
        env["MOCKSRV_ADMIN_TOKEN"] = "s3cr3t-token"
        rc, out = _done(_pytest(tmp_path / "suite", "-n", "2", "--dist", "loadgroup", env=env))
        assert rc == 0, out
        made = {(tmp_path / w).read_text() for w in ("gw0", "gw1")}
        assert len(made) == 2 and all(t.startswith("t-") for t in made)
        auth = {"Authorization": "Bearer s3cr3t-token"}
        assert (
            requests.get(srv.url + "/__admin/tenants", headers=auth, timeout=10).json()["count"]
            == 0
        )
        journal = requests.get(srv.url + "/__admin/journal", headers=auth, timeout=10).json()
        assert journal["entries"] == []
    finally:
        srv.stop()

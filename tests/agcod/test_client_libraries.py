"""Four published AGCOD client libraries, run back to back against the embedded default.

npm amazon-gc, amazon-incentives-api and agcod (installed by tests/tools/install-agcod-clients.sh,
which .ci/run calls) and PyPI agcod (the `test` extra). None takes an endpoint URL, so the drivers
in tests/tools/ send each library's own signed requests over plain HTTP to the server, unchanged.
A missing library fails this test: it never skips. The drivers and the assertions on what the
libraries got are in tests/support/agcod_clients.py (the replica set runs them too).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import requests

from tests.support.agcod_clients import (
    INSTALL,
    NPM_LIBS,
    environment,
    four_libraries_back_to_back,
)
from tests.support.paths import ROOT, TOOLS


@pytest.fixture(scope="module")
def server(module_server_factory):
    return module_server_factory()  # the embedded default, as `mocksrv serve` runs it


def test_the_libraries_are_installed():
    node = shutil.which("node")
    assert node, f"node is missing: {INSTALL}"
    missing = [n for n in NPM_LIBS if not (TOOLS / "agcod-clients/node_modules" / n).is_dir()]
    assert not missing, f"npm libraries {missing} are missing: {INSTALL}"
    import agcod.client  # noqa: F401  (PyPI agcod, from the test extra)


def test_four_libraries_back_to_back_on_the_default(server):
    four_libraries_back_to_back(server.url)


def test_a_library_keeps_its_built_in_https_host_over_the_tls_listener(tmp_path, server_factory):
    """PyPI agcod with its own transport: HTTPS to https://agcod-v2-gamma.amazon.com, the name
    resolved to mocksrv's `--tls-port` listener, the certificate checked against mocksrv's CA."""
    srv = server_factory(tls_port=0, ca_dir=tmp_path / "ca")
    assert srv.tls_url is not None
    env = {
        **environment(srv.url),
        "MOCKSRV_TLS_PORT": srv.tls_url.rsplit(":", 1)[1],
        "REQUESTS_CA_BUNDLE": str(tmp_path / "ca" / "ca.pem"),
    }
    done = subprocess.run(
        [sys.executable, str(TOOLS / "agcod_pypi.py")],
        env=env, capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [(r["op"], r["ok"]) for r in results] == [
        ("CreateGiftCard", True),
        ("CancelGiftCard", True),
        ("GetAvailableFunds", True),
    ], results
    # the server saw the library's own requests, for its own host, verified as signed
    entries = requests.get(srv.url + "/__admin/journal", timeout=5).json()["entries"]
    agcod = [e for e in entries if e["api"] == "agcod"]
    assert len(agcod) == 3 and all(e["identity"] == "agcod-sandbox" for e in agcod), agcod
    call = requests.get(srv.url + "/__admin/journal/" + agcod[0]["requestId"], timeout=5).json()
    assert dict(call["request"]["headers"])["host"] == "agcod-v2-gamma.amazon.com"

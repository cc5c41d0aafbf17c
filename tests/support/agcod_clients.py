"""The four published AGCOD client libraries run back to back against a server: npm amazon-gc,
amazon-incentives-api and agcod (tests/tools/agcod_clients.js) and PyPI agcod
(tests/tools/agcod_pypi.py), each sending its own signed requests unchanged. Used by
tests/agcod/test_client_libraries.py (one server) and tests/state/test_replicas.py (a load
balancer in front of three replicas)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from tests.support.paths import ROOT, TOOLS

NPM_LIBS = ("amazon-gc", "amazon-incentives-api", "agcod")
INSTALL = "run tests/tools/install-agcod-clients.sh (and pip install -e '.[test]')"


def environment(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "MOCKSRV_URL": url,
        "MOCKSRV_AGCOD_ACCESS_KEY_ID": "AKIAMOCKSRVAGCOD0001",
        "MOCKSRV_AGCOD_SECRET_ACCESS_KEY": "MockSrvAgcodDemoSecretKey000000000000001",
        "MOCKSRV_AGCOD_PARTNER_ID": "Mocks",
    }


def calls(command: list[str], url: str) -> list[dict]:
    done = subprocess.run(
        command, env=environment(url), capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def four_libraries_back_to_back(url: str) -> None:
    """Each library's calls against the embedded default's sandbox partner at `url`, all
    answered SUCCESS; the agcod library's retry replays the same card."""
    assert shutil.which("node"), f"node is missing: {INSTALL}"
    results = calls(["node", str(TOOLS / "agcod_clients.js")], url)
    results += calls([sys.executable, str(TOOLS / "agcod_pypi.py")], url)
    done = [(r["lib"], r["op"]) for r in results]
    assert done == [
        ("amazon-gc", "CreateGiftCard"),
        ("amazon-incentives-api", "CreateGiftCard"),
        ("amazon-incentives-api", "CancelGiftCard"),
        ("amazon-incentives-api", "GetAvailableFunds"),
        ("agcod", "CreateGiftCard"),
        ("agcod", "CreateGiftCard (retry)"),
        ("agcod", "CancelGiftCard"),
        ("agcod (PyPI)", "CreateGiftCard"),
        ("agcod (PyPI)", "CancelGiftCard"),
        ("agcod (PyPI)", "GetAvailableFunds"),
    ]
    failed = [r for r in results if not r["ok"]]
    assert not failed, failed
    assert all(r["body"]["status"] == "SUCCESS" for r in results)
    create, retry = results[4]["body"], results[5]["body"]
    assert retry == create  # the agcod library's idempotent retry: the same card
    funds = [r["body"]["availableFunds"] for r in results if r["op"] == "GetAvailableFunds"]
    assert funds == [{"amount": 0, "currencyCode": "USD"}] * 2  # a sandbox account

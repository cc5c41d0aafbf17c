"""Rate limits are opt-in: none on the embedded default, the sandbox's on agcod-sandbox-realistic,
and every rejection says which limit fired (once a minute per key); the banner lists them."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from tests.support.agcod import Client
from tests.support.cli import Serve

THROTTLED = {"__type": "ThrottlingException", "message": "Rate exceeded"}


@pytest.fixture
def embedded(server_factory):
    return (
        server_factory.in_process()
    )  # no scenario: the embedded default, as `mocksrv serve` runs it


@pytest.fixture
def realistic(server_factory):
    return server_factory.in_process(["agcod-sandbox-realistic"])  # by name, as a user would


def test_embedded_default_never_throttles_a_quick_suite(embedded):
    client = Client(embedded, "Mocks")
    created = [client.create(f"MocksQuick{i}", 1) for i in range(30)]
    funds = [client.funds() for _ in range(3)]
    assert [r.status_code for r in created + funds] == [200] * 33
    assert all(r.json()["status"] == "SUCCESS" for r in created + funds)


def test_realistic_scenario_throttles_and_logs_the_limit(realistic, caplog):
    client = Client(realistic, "Mocks")
    with caplog.at_level(logging.WARNING, logger="mocksrv"):
        created = [client.create(f"MocksReal{i}", 1) for i in range(30)]
    codes = [r.status_code for r in created]
    assert codes[:10] == [200] * 10 and codes.count(400) >= 15
    assert all(r.json() == THROTTLED for r in created if r.status_code == 400)
    lines = [r.getMessage() for r in caplog.records if "rate limit" in r.getMessage()]
    assert lines == [
        "rate limit agcod.rate_limit (10/s, burst 10) rejected CreateGiftCard for access key "
        "AKIAMOCKSRVAGCOD0001; change agcod.rate_limit in the scenario (0 or absent: no limit) or "
        "load one without limits, e.g. the default (this message repeats at most once a minute "
        "per key)"
    ]


def test_realistic_get_available_funds_one_per_second(realistic, caplog):
    client = Client(realistic, "MocksProd")
    with caplog.at_level(logging.WARNING, logger="mocksrv"):
        codes = [client.funds().status_code for _ in range(3)]
    assert codes == [200, 400, 400]
    lines = [r.getMessage() for r in caplog.records if "rate limit" in r.getMessage()]
    assert len(lines) == 1
    assert lines[0].startswith(
        "rate limit agcod.rate_limit (GetAvailableFunds 1/s) rejected GetAvailableFunds for "
        "access key AKIAMOCKSRVAGCOD0002; "
    )


def banner_of(*args: str) -> str:
    srv = Serve(*args)
    srv.stop()
    return srv.banner


def test_banner_lists_active_rate_limits():
    banner = banner_of("--scenario", "agcod-sandbox-realistic")
    assert (
        "Rate limits:\n"
        "  agcod Mocks (AKIAMOCKSRVAGCOD0001): 10/s, burst 10; GetAvailableFunds 1/s "
        "(agcod.rate_limit)\n"
        "  agcod MocksProd (AKIAMOCKSRVAGCOD0002): 10/s, burst 10; GetAvailableFunds 1/s "
        "(agcod.rate_limit)\n"
    ) in banner


def test_banner_says_when_there_is_no_rate_limit():
    assert "Rate limits:\n  none\n" in banner_of()


def test_run_names_active_rate_limits(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "mocksrv", "run", "--scenario", "agcod-sandbox-realistic",
         "--", sys.executable, "-c", "pass"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (
        "mocksrv run: rate limit agcod Mocks (AKIAMOCKSRVAGCOD0001): 10/s, burst 10; "
        "GetAvailableFunds 1/s (agcod.rate_limit)\n" in done.stdout
    )

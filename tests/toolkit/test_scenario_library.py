"""The scenario library in scenarios/: each file valid, documented, and doing what it says."""

from __future__ import annotations

import pytest

from tests.support.agcod import create_card
from tests.support.cli import PY, mocksrv_cli
from tests.support.paths import ROOT

LIBRARY = [
    "prime-outcomes.yaml",
    "failure-drill.yaml",
    "demo.yaml",
    "agcod-sandbox-test-plan.yaml",
    "promotions-devo-flow.yaml",
    "agcod-sandbox-realistic.yaml",
]


@pytest.mark.parametrize("name", LIBRARY)
def test_library_scenario_is_valid_and_documented(name):
    files = (
        ["scenarios/default.yaml", f"scenarios/{name}"]
        if name == "failure-drill.yaml"
        else [f"scenarios/{name}"]
    )
    done = mocksrv_cli("validate", *files)
    assert done.returncode == 0, done.stdout
    text = (ROOT / "scenarios" / name).read_text()
    assert text.startswith(f"# {name[:-5]}: ") and "Purpose:" in text
    assert f"scenarios/{name}" in (ROOT / "docs" / "toolkit.md").read_text()


def test_agcod_test_plan_met():
    done = mocksrv_cli(
        "run", "--scenario", "scenarios/agcod-sandbox-test-plan.yaml",
        "--", PY, "examples/agcod_test_plan.py",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "mocksrv run: 28/28 expectations met" in done.stdout


def test_agcod_test_plan_missing_mock_id_is_named():
    done = mocksrv_cli(
        "run", "--scenario", "scenarios/agcod-sandbox-test-plan.yaml",
        "--", PY, "examples/agcod_test_plan.py", "--skip", "F3010",
    )  # fmt: skip
    assert done.returncode == 1
    assert (
        "UNMET  mock id F3010 answers F300:CustomerSurpassedDailyVelocityLimit: "
        "expected at least 1 matching request(s), got 0" in done.stdout
    )


def test_promotions_devo_flow_met():
    done = mocksrv_cli(
        "run", "--scenario", "scenarios/promotions-devo-flow.yaml",
        "--", PY, "examples/promotions_devo_flow.py",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok  file with a BOM rejected" in done.stdout
    assert "ok  bad rows rejected, the rest kept: {'total': 3, 'accepted': 1, 'rejected': 2}" in (
        done.stdout
    )
    assert "mocksrv run: 6/6 expectations met" in done.stdout


def test_promotions_devo_flow_without_redeemed_upload_is_unmet():
    done = mocksrv_cli(
        "run", "--scenario", "scenarios/promotions-devo-flow.yaml",
        "--", PY, "examples/promotions_devo_flow.py", "--skip-redeemed",
    )  # fmt: skip
    assert done.returncode == 1
    assert "UNMET  redeemed codes uploaded to Devo" in done.stdout


@pytest.mark.mocksrv_scenario("scenarios/demo.yaml")
def test_demo_scenario(mocksrv, mocksrv_prime):
    assert [mocksrv_prime.verify("503503503").status_code for _ in range(2)] == [503, 200]
    client = mocksrv.agcod("agcod-production")
    answers = [create_card(client, f"MocksProd-demo-{i}").json() for i in range(11)]
    assert all(a["status"] == "SUCCESS" for a in answers[:10])
    assert answers[10]["errorType"] == "InsufficientFunds"
    latencies = [e["latencyMs"] for e in mocksrv.journal()]
    assert len(latencies) == 13 and min(latencies) >= 20
    assert all(e["fault"] == "realistic latency on every API" for e in mocksrv.journal())
    mocksrv.assert_expectations_met()


@pytest.mark.mocksrv_scenario("scenarios/default.yaml", "scenarios/failure-drill.yaml")
def test_failure_drill_prime(mocksrv, mocksrv_prime):
    first = mocksrv_prime.verify("123456789")
    assert first.status_code == 429 and first.json()["error"]["code"] == "TooManyRequests"
    assert mocksrv_prime.verify("123456789").json() == {"message": "SUCCESS"}
    import requests

    with pytest.raises(requests.exceptions.ConnectionError, match="without response"):
        mocksrv_prime.redeem("444444444")
    late = mocksrv_prime.redeem("444444444").json()
    assert late == {"message": "FAILURE:DENIED:EXCEEDED_USAGE_LIMIT"}  # the lost redeem counted
    faults = {f["id"]: f for f in mocksrv.admin("GET", "/faults")["faults"]}
    assert faults["prime-lost-redeem"]["fired"] == 1 and faults["prime-throttle"]["fired"] == 1

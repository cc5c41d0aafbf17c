"""Amazon's AGCOD certification cases (CC, DLB, MAX, IDM), amount limits per mode, gcId formats."""

from __future__ import annotations

import re

import pytest

from tests.support import certification
from tests.support.agcod import DEFAULT, UNTHROTTLED, Client, assert_error, new_id
from tests.support.cli import PY, mocksrv_cli

NA_GC_ID = re.compile(r"A[A-Z0-9]{13}")
DIGITS_GC_ID = re.compile(r"[0-9]{16}")
PL_SCENARIO = """version: 1
identities:
  - {name: pl, api: agcod, access_key: AKIAMOCKSRVAGCOD0103, secret_key: MockSrvAgcodDemoSecretKey000000000000103}
  - {name: pl-alnum, api: agcod, access_key: AKIAMOCKSRVAGCOD0104, secret_key: MockSrvAgcodDemoSecretKey000000000000104}
  - {name: us-low, api: agcod, access_key: AKIAMOCKSRVAGCOD0201, secret_key: MockSrvAgcodDemoSecretKey000000000000201}
agcod:
  partners:
    - {partner_id: Amzde, identity: pl, marketplace: PL, mode: sandbox}
    - {partner_id: Amzuk, identity: pl-alnum, marketplace: PL, mode: production, funds: 100,
       gc_id_format: alnum14}
    - {partner_id: Strict, identity: us-low, marketplace: US, mode: sandbox,
       amount_limits: {USD: {min: 0.15}}}
"""


@pytest.fixture(scope="module")
def server(module_server_factory):
    return module_server_factory.in_process([DEFAULT, UNTHROTTLED])


@pytest.fixture(scope="module")
def poland(tmp_path_factory, module_server_factory):
    path = tmp_path_factory.mktemp("agcod-pl") / "pl.yaml"
    path.write_text(PL_SCENARIO)
    return module_server_factory.in_process([str(path), UNTHROTTLED])


@pytest.fixture
def sandbox(server):
    return Client(server, "Mocks")


# --- the four certification cases against the embedded default's sandbox partner -------------
# (their steps and assertions are in tests/support/certification.py, shared with the replica set)


def test_cc_create_1000_usd_then_cancel(sandbox):
    certification.cc_create_1000_usd_then_cancel(sandbox)


def test_dlb_create_one_cent(sandbox):
    certification.dlb_create_one_cent(sandbox)


def test_max_create_2000(sandbox):
    certification.max_create_2000(sandbox)


def test_idm_create_1000_twice_with_one_request_id(sandbox):
    certification.idm_create_1000_twice_with_one_request_id(sandbox)


@pytest.mark.parametrize("case", ["CC", "DLB", "MAX", "IDM"])
def test_certification_case_is_an_expectation_of_the_test_plan(case):
    """Leaving one case out of the plan run leaves exactly that expectation unmet."""
    done = mocksrv_cli(
        "run", "--scenario", "scenarios/agcod-sandbox-test-plan.yaml",
        "--", PY, "examples/agcod_test_plan.py", "--skip", case,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    unmet = [line.strip() for line in done.stdout.splitlines() if line.strip().startswith("UNMET")]
    assert unmet and all(line.startswith(f"UNMET  {case}: ") for line in unmet), done.stdout
    assert "mocksrv run: 28/28" not in done.stdout


# --- amount limits per mode -------------------------------------------------------------------


def test_production_minimum_is_the_faqs_digital_card_minimum(server):
    prod = Client(server, "MocksProd")
    assert_error(
        prod.create("MocksProdMin1", 0.14), "CreateGiftCard", "F200", "AmountBelowMinThreshold",
        "Amount Below Min Threshold", "MocksProdMin1",
    )  # fmt: skip
    assert prod.create(new_id("MocksProd"), 0.15).status_code == 200


def test_sandbox_minimum_is_overridable(poland):
    low = Client(poland, "Strict")
    r = low.create("StrictLow1", 0.14)
    assert r.json()["errorType"] == "AmountBelowMinThreshold"
    assert low.create("StrictLow2", 0.15).status_code == 200


# --- gcId formats per marketplace -------------------------------------------------------------


def test_us_gc_id_is_a_plus_13(sandbox):
    assert NA_GC_ID.fullmatch(sandbox.create(new_id(), 5).json()["gcId"])


def test_pl_gc_id_is_16_digits(poland):
    r = Client(poland, "Amzde").create("AmzdePL1", 1, "PLN")
    assert r.status_code == 200, r.text
    assert DIGITS_GC_ID.fullmatch(r.json()["gcId"]), r.json()["gcId"]


def test_gc_id_format_is_overridable_per_partner(poland):
    r = Client(poland, "Amzuk").create("AmzukPL1", 1, "PLN")
    assert r.status_code == 200, r.text
    assert NA_GC_ID.fullmatch(r.json()["gcId"]), r.json()["gcId"]

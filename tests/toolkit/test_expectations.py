"""Expectations from scenarios and the admin API, verified with near misses."""

from __future__ import annotations

import pytest

from mocksrv.toolkit.client import AdminError, PrimeClient
from tests.support.agcod import create_card

OUTCOMES = "scenarios/prime-outcomes.yaml"


def by_name(report: dict) -> dict[str, dict]:
    return {item["name"]: item for item in report["expectations"]}


@pytest.mark.mocksrv_scenario(OUTCOMES)
def test_prime_outcomes_expectations_met(mocksrv, mocksrv_prime):
    for code in ("100000001", "100000002", "100000003", "100000004"):
        mocksrv_prime.verify(code)
    mocksrv_prime.redeem("100000006")
    mocksrv_prime.redeem("100000006")
    mocksrv_prime.auth_code("100000001")
    assert mocksrv_prime.verify("100000503").status_code == 503
    assert mocksrv_prime.verify("100000503").json() == {"message": "SUCCESS"}
    report = mocksrv.verify()
    assert report["unmet"] == [] and report["met"] is True and report["total"] == 8
    mocksrv.assert_expectations_met()


@pytest.mark.mocksrv_scenario(OUTCOMES)
def test_prime_outcomes_unmet_are_named(mocksrv, mocksrv_prime):
    mocksrv_prime.verify("100000001")
    mocksrv_prime.redeem("100000006")
    report = mocksrv.verify()
    assert report["met"] is False
    assert "daily code redeemed exactly twice" in report["unmet"]
    item = by_name(report)["daily code redeemed exactly twice"]
    assert (item["expected"], item["actual"]) == ("exactly 2", 1)
    assert item["message"] == "expected exactly 2 matching request(s), got 1"
    with pytest.raises(
        AssertionError, match="daily code redeemed exactly twice: expected exactly 2"
    ):
        mocksrv.assert_expectations_met()


def test_verify_exactly_three_times_for_a_code_with_near_misses(mocksrv, mocksrv_prime):
    mocksrv.expect(
        name="verify 123456789 three times",
        match={"api": "prime", "operation": "verify", "fields": {"offerCode": "123456789"}},
        count={"exactly": 3},
    )
    mocksrv_prime.verify("123456789")
    mocksrv_prime.verify("123456789")
    mocksrv_prime.verify("111111111")
    mocksrv_prime.redeem("123456789")  # another operation: not even a near miss
    item = by_name(mocksrv.verify())["verify 123456789 three times"]
    assert item["met"] is False and item["actual"] == 2
    (near,) = item["nearMisses"]
    assert near["fields"]["offerCode"] == "111111111"
    assert near["differences"] == ["fields.offerCode: expected '123456789', got '111111111'"]
    mocksrv_prime.verify("123456789")
    assert by_name(mocksrv.verify())["verify 123456789 three times"]["met"] is True
    mocksrv_prime.verify("123456789")
    item = by_name(mocksrv.verify())["verify 123456789 three times"]
    assert item["met"] is False and len(item["matches"]) == 4


def test_create_gift_card_at_least_once_with_amount_10(mocksrv):
    mocksrv.expect(
        name="CreateGiftCard with amount 10",
        match={"api": "agcod", "operation": "CreateGiftCard", "fields": {"amount": 10}},
    )
    client = mocksrv.agcod("agcod-production")
    assert create_card(client, "MocksProd-e-1", amount=5).status_code == 200
    item = by_name(mocksrv.verify())["CreateGiftCard with amount 10"]
    assert item["met"] is False
    assert item["nearMisses"][0]["differences"] == ["fields.amount: expected 10, got 5.0"]
    assert create_card(client, "MocksProd-e-2", amount=10).status_code == 200
    assert by_name(mocksrv.verify())["CreateGiftCard with amount 10"]["met"] is True


def test_no_request_failed_its_signature(mocksrv, mocksrv_url):
    mocksrv.expect(name="no bad signatures", match={"signature_failed": True}, count={"exactly": 0})
    assert by_name(mocksrv.verify())["no bad signatures"]["met"] is True
    wrong = PrimeClient(
        mocksrv_url, "AKIAMOCKSRVPRIME0001", "WrongSecretWrongSecretWrongSecret0000000"
    )
    assert wrong.verify("123456789").status_code == 403
    wrong.close()
    item = by_name(mocksrv.verify())["no bad signatures"]
    assert item["met"] is False and item["actual"] == 1
    assert item["matches"][0]["outcome"] == "signature:mismatch"


def test_expectation_added_later_counts_earlier_requests(mocksrv, mocksrv_prime):
    mocksrv_prime.verify("123456789")
    report = mocksrv.expect(match={"api": "prime", "outcome": "SUCCESS"}, count={"at_least": 1})
    assert report["met"] is True and report["actual"] == 1
    assert report["name"] == "expectation 1 (prime SUCCESS)"


def test_operators_matches_in_present(mocksrv, mocksrv_prime):
    mocksrv.expect(name="regex", match={"fields": {"offerCode": {"matches": "1{9}"}}})
    mocksrv.expect(name="in", match={"outcome": {"in": ["INVALID_OFFER_CODE", "X"]}})
    mocksrv.expect(name="absent", match={"fields": {"gcId": {"present": False}}, "api": "prime"})
    mocksrv_prime.verify("111111111")
    assert mocksrv.verify()["met"] is True


def test_clearing_the_journal_resets_tallies(mocksrv, mocksrv_prime):
    mocksrv.expect(name="one verify", match={"operation": "verify"}, count={"exactly": 1})
    mocksrv_prime.verify("123456789")
    assert mocksrv.verify()["met"] is True
    mocksrv.admin("DELETE", "/journal")
    assert by_name(mocksrv.verify())["one verify"]["actual"] == 0
    assert mocksrv.admin("DELETE", "/expectations") == {"removed": 1}
    assert mocksrv.verify()["total"] == 0


def test_bad_expectations_are_refused(mocksrv):
    with pytest.raises(AdminError, match=r"invalid expectation: fields.offerCode: invalid regular"):
        mocksrv.expect(match={"fields": {"offerCode": {"matches": "("}}})
    with pytest.raises(AdminError, match="count: at_least is greater than at_most"):
        mocksrv.expect(match={"api": "prime"}, count={"at_least": 3, "at_most": 1})
    with pytest.raises(AdminError, match="invalid expectation: match: Additional properties"):
        mocksrv.expect(match={"color": "red"})


def test_scenario_expectation_typo_has_file_and_line(mocksrv):
    text = "version: 1\nexpectations:\n  - match: {api: prime}\n    cout: {exactly: 1}\n"
    with pytest.raises(AdminError) as info:
        mocksrv.admin("POST", "/scenarios", {"yaml": text, "name": "typo"})
    assert (
        "<admin>/typo.yaml:4: expectations[0].cout: unknown key 'cout'; did you mean 'count'?"
        in str(info.value)
    )

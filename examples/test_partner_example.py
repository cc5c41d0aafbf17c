"""Example partner contract tests on the mocksrv pytest plugin (installed with mocksrv).

Each test gets a freshly reset sandbox; the fixtures hand out ready-signed clients. Run with
`pytest examples/test_partner_example.py` (add `--mocksrv-scenario FILE` for another scenario).
"""

from __future__ import annotations

import time

import pytest

DAILY = "444444444"  # one use per day in the default scenario


def redeem_with_retry(client, code: str, attempts: int = 3):
    """What a partner's integration does: retry 429/5xx with backoff."""
    for attempt in range(attempts):
        resp = client.redeem(code)
        if resp.status_code not in (429, 500, 503):
            return resp
        time.sleep(0.05 * 2**attempt)
    return resp


def test_verify_success(mocksrv_prime):
    assert mocksrv_prime.verify("123456789").json() == {"message": "SUCCESS"}


def test_redeem_uses_the_daily_allowance(mocksrv_prime, mocksrv_journal):
    assert mocksrv_prime.redeem(DAILY).json() == {"message": "SUCCESS"}
    assert mocksrv_prime.redeem(DAILY).json() == {"message": "FAILURE:DENIED:EXCEEDED_USAGE_LIMIT"}
    assert [e["outcome"] for e in mocksrv_journal(operation="redeem")] == [
        "FAILURE:DENIED:EXCEEDED_USAGE_LIMIT",
        "SUCCESS",
    ]


def test_state_is_reset_between_tests(mocksrv_prime):
    # the previous test used the daily allowance; a fresh sandbox has it again
    assert mocksrv_prime.redeem(DAILY).json() == {"message": "SUCCESS"}


def test_client_retries_a_503(mocksrv, mocksrv_prime):
    mocksrv.fault(
        match={"api": "prime", "operation": "redeem"}, error="ServiceUnavailable", times=1
    )
    mocksrv.expect(name="redeem retried once", match={"operation": "redeem"}, count={"exactly": 2})
    assert redeem_with_retry(mocksrv_prime, "123456789").json() == {"message": "SUCCESS"}
    mocksrv.assert_expectations_met()


def test_cancel_after_15_minutes_is_refused(mocksrv_agcod, mocksrv_clock, mocksrv_credentials):
    assert mocksrv_credentials["agcod"]["name"] == "agcod-sandbox"
    card = mocksrv_agcod.call(
        "CreateGiftCard",
        {"creationRequestId": "Mocks-example-1", "partnerId": "Mocks",
         "value": {"currencyCode": "USD", "amount": 25}},
    ).json()  # fmt: skip
    assert card["status"] == "SUCCESS"
    mocksrv_clock.advance(minutes=16)
    late = mocksrv_agcod.call(
        "CancelGiftCard",
        {"creationRequestId": "Mocks-example-1", "partnerId": "Mocks", "gcId": card["gcId"]},
    ).json()
    assert late["errorType"] == "CancelRequestArrivedAfterTimeLimit"


def test_upload_promo_codes(mocksrv_s3):
    key = (
        "new-promo-codes/clientname=clientname/marketplace=US/offertype=student-promo-deal/"
        "promotionid=PROMO-0001/clientname_new_codes_20260516_1200.csv"
    )
    mocksrv_s3.put_object(Bucket="partner-promotions-devo", Key=key, Body=b"CODE-1,new\n")


@pytest.mark.xfail(strict=True, reason="shows how an unmet expectation fails a test")
def test_unmet_expectation_fails(mocksrv, mocksrv_prime):
    mocksrv.expect(name="verify 999", match={"fields": {"offerCode": "999"}})
    mocksrv_prime.verify("123456789")
    mocksrv.assert_expectations_met()

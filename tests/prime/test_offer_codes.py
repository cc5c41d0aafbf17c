"""Prime offer-code APIs over a real socket, signed by botocore: outcomes, rules, errors."""

from __future__ import annotations

import http.client
from pathlib import Path

import pytest
import requests

from tests.support.paths import DATA, SCENARIOS
from tests.support.signing import Signer
from tests.support.wire import port_of

RULES = str(DATA / "prime-rules.yaml")
KEY, SECRET = "AKIATESTPRIME000001", "TestPrimeSecretKey00000000000000000000001"
BASE = "/v1/customer/benefit"
pytestmark = pytest.mark.mocksrv_scenario(RULES)


@pytest.fixture
def srv(mocksrv):
    """The plugin's session server on prime-rules.yaml, reset before each test."""
    return mocksrv


@pytest.fixture
def signer():
    return Signer(KEY, SECRET, "execute-api", "us-east-1")


def call(srv, signer, code, op="verify", benefit="BENEFIT_US", tz=None, extra=None, market="US"):
    method = "POST" if op == "redeem" else "GET"
    url = f"{srv.url}{BASE}/{benefit}/offer-code/{code}/{op}"
    headers = {"x-amz-marketplace": market, **(extra or {})}
    if tz:
        headers["x-amz-time-zone"] = tz
    return signer.send(method, url, headers, unsigned={"x-amz-request-id": "t-1"})


def set_clock(srv, when) -> None:
    """Move the scenario clock through the admin API, as a partner's harness would."""
    r = requests.put(f"{srv.url}/__admin/clock", json={"now": when.isoformat()}, timeout=5)
    assert r.status_code == 200, r.text


def advance(srv, seconds: int) -> None:
    r = requests.post(f"{srv.url}/__admin/clock/advance", json={"seconds": seconds}, timeout=5)
    assert r.status_code == 200, r.text


def message(r: requests.Response) -> str:
    assert r.status_code == 200, r.text
    return r.json()["message"]


def err(r: requests.Response) -> tuple[int, str, str]:
    return r.status_code, r.json()["error"]["code"], r.json()["error"]["message"]


# --- the four outcomes on the default scenario -------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("123456789", "SUCCESS"),
        ("111111111", "INVALID_OFFER_CODE"),
        ("999999999", "INVALID_OFFER_CODE"),
        ("222222222", "FAILURE:DENIED:EXCEEDED_USAGE_LIMIT"),
        ("333333333", "FAILURE:DENIED:DEAL_INACTIVE"),
    ],
)
@pytest.mark.mocksrv_scenario(str(SCENARIOS / "default.yaml"))
def test_default_scenario_outcomes(mocksrv, prime_signer, code, expected):
    url = f"{mocksrv.url}{BASE}/PRIME_3P_PARTNER_BENEFIT/offer-code/{code}/verify"
    r = prime_signer.send(
        "GET", url, {"x-amz-marketplace": "US"}, unsigned={"x-amz-request-id": "1"}
    )
    assert r.status_code == 200
    assert r.content == f'{{"message":"{expected}"}}'.encode()
    assert r.headers["Content-Type"] == "application/json"


# --- rules ---------------------------------------------------------------------------------------


def test_day_of_week_in_the_callers_time_zone(srv, signer):
    # the clock is frozen at Saturday 2026-05-16 02:00 UTC
    assert message(call(srv, signer, "WEEKEND")) == "SUCCESS"  # default UTC
    assert message(call(srv, signer, "WEEKEND", tz="UTC")) == "SUCCESS"
    assert message(call(srv, signer, "WEEKEND", tz="Asia/Kolkata")) == "SUCCESS"  # Sat 07:30
    la = call(srv, signer, "WEEKEND", tz="America/Los_Angeles")  # Fri 19:00
    assert message(la) == "FAILURE:DENIED:DEAL_INACTIVE"


def test_day_of_week_changes_when_the_clock_moves(srv, signer):
    advance(srv, 22 * 3600)  # Sun 00:00 UTC, Sat 17:00 in LA
    assert message(call(srv, signer, "WEEKEND", tz="America/Los_Angeles")) == "SUCCESS"
    advance(srv, 24 * 3600)  # Mon 00:00 UTC, Sun 17:00 LA
    assert message(call(srv, signer, "WEEKEND")) == "FAILURE:DENIED:DEAL_INACTIVE"
    assert message(call(srv, signer, "WEEKEND", tz="America/Los_Angeles")) == "SUCCESS"


def test_daily_limit_across_the_period_boundary(srv, signer):
    from datetime import UTC, datetime

    set_clock(srv, datetime(2026, 5, 16, 23, 50, tzinfo=UTC))
    assert message(call(srv, signer, "DAILY", op="redeem")) == "SUCCESS"
    assert message(call(srv, signer, "DAILY")) == "FAILURE:DENIED:EXCEEDED_USAGE_LIMIT"
    assert message(call(srv, signer, "DAILY", op="redeem")) == "FAILURE:DENIED:EXCEEDED_USAGE_LIMIT"
    advance(srv, 11 * 60)  # 2026-05-17 00:01 UTC: a new day in UTC
    assert message(call(srv, signer, "DAILY")) == "SUCCESS"
    # ...but in Kolkata (UTC+5:30) it is 05:31 on the 17th and the use at 05:20 was the same day
    assert (
        message(call(srv, signer, "DAILY", tz="Asia/Kolkata"))
        == "FAILURE:DENIED:EXCEEDED_USAGE_LIMIT"
    )
    # and in Los Angeles it is still the 16th, 17:01, same day as the use (16:50)
    la = call(srv, signer, "DAILY", tz="America/Los_Angeles")
    assert message(la) == "FAILURE:DENIED:EXCEEDED_USAGE_LIMIT"


def test_monthly_limit_and_month_boundary(srv, signer):
    from datetime import UTC, datetime

    set_clock(srv, datetime(2026, 5, 31, 23, 0, tzinfo=UTC))
    assert message(call(srv, signer, "MONTHLY", op="redeem")) == "SUCCESS"
    assert message(call(srv, signer, "MONTHLY", op="redeem")) == "SUCCESS"
    assert message(call(srv, signer, "MONTHLY")) == "FAILURE:DENIED:EXCEEDED_USAGE_LIMIT"
    # Tokyo (UTC+9) is already in June: both uses were made on June 1st, 08:00 local
    assert (
        message(call(srv, signer, "MONTHLY", tz="Asia/Tokyo"))
        == "FAILURE:DENIED:EXCEEDED_USAGE_LIMIT"
    )
    advance(srv, 3600)  # June 1st 00:00 UTC
    assert message(call(srv, signer, "MONTHLY")) == "SUCCESS"


def test_weekly_limit_weeks_start_on_monday(srv, signer):
    from datetime import UTC, datetime

    set_clock(srv, datetime(2026, 5, 17, 12, 0, tzinfo=UTC))  # Sunday
    assert message(call(srv, signer, "WEEKLY", op="redeem")) == "SUCCESS"
    assert message(call(srv, signer, "WEEKLY")) == "FAILURE:DENIED:EXCEEDED_USAGE_LIMIT"
    set_clock(srv, datetime(2026, 5, 18, 0, 0, 1, tzinfo=UTC))  # Monday
    assert message(call(srv, signer, "WEEKLY")) == "SUCCESS"


def test_verify_never_consumes(srv, signer):
    for _ in range(3):
        assert message(call(srv, signer, "DAILY")) == "SUCCESS"
    assert message(call(srv, signer, "DAILY", op="redeem")) == "SUCCESS"


def test_expired_window_and_pinned(srv, signer):
    assert message(call(srv, signer, "EXPIRED")) == "INVALID_OFFER_CODE"
    assert message(call(srv, signer, "LATER")) == "FAILURE:DENIED:DEAL_INACTIVE"
    assert message(call(srv, signer, "ENDED")) == "FAILURE:DENIED:DEAL_INACTIVE"
    assert message(call(srv, signer, "PINNED")) == "FAILURE:DENIED:DEAL_INACTIVE"
    assert message(call(srv, signer, "OTHER")) == "INVALID_OFFER_CODE"  # code of another benefit


def test_reply_sequence_then_last_repeats(srv, signer):
    assert message(call(srv, signer, "SEQ")) == "SUCCESS"
    r = call(srv, signer, "SEQ")
    assert err(r) == (503, "ServiceUnavailable", "Service Unavailable")
    assert r.headers["x-amzn-ErrorType"] == "ServiceUnavailable"
    assert message(call(srv, signer, "SEQ")) == "INVALID_OFFER_CODE"
    assert message(call(srv, signer, "SEQ")) == "INVALID_OFFER_CODE"


def test_percent_encoded_unicode_code(srv, signer):
    assert message(call(srv, signer, "caf%C3%A9%201")) == "SUCCESS"


def test_redemption_time_header(srv, signer):
    from datetime import UTC, datetime

    set_clock(srv, datetime(2026, 5, 17, 0, 5, tzinfo=UTC))
    # redeem as of yesterday 23:59, when the verify happened
    r = call(
        srv,
        signer,
        "DAILY",
        op="redeem",
        extra={"x-amz-offer-code-redemption-time": "20260516T2359Z"},
    )
    assert message(r) == "SUCCESS"
    assert message(call(srv, signer, "DAILY")) == "SUCCESS"  # today's use is still free
    bad = call(
        srv, signer, "DAILY", op="redeem", extra={"x-amz-offer-code-redemption-time": "2026-05-16"}
    )
    assert err(bad)[:2] == (400, "BadRequest")
    assert "x-amz-offer-code-redemption-time" in err(bad)[2]
    future = call(
        srv,
        signer,
        "DAILY",
        op="redeem",
        extra={"x-amz-offer-code-redemption-time": "20260518T0000Z"},
    )
    assert err(future) == (400, "BadRequest", "x-amz-offer-code-redemption-time is in the future")


def test_auth_code(srv, signer):
    r = call(srv, signer, "DAILY", op="auth-code")
    body = r.json()
    assert r.status_code == 200 and list(body) == ["message", "authCode"]
    assert body["message"] == "SUCCESS" and len(body["authCode"]) == 32
    assert (
        call(srv, signer, "EXPIRED", op="auth-code").content == b'{"message":"INVALID_OFFER_CODE"}'
    )


def test_india_marketplace_signs_for_eu_west_1(srv):
    signer = Signer(
        "AKIATESTPRIME000003",
        "TestPrimeSecretKey00000000000000000000003",
        "execute-api",
        "eu-west-1",
    )
    assert message(call(srv, signer, "INDIA", benefit="BENEFIT_IN", market="IN")) == "SUCCESS"
    us = Signer(
        "AKIATESTPRIME000003",
        "TestPrimeSecretKey00000000000000000000003",
        "execute-api",
        "us-east-1",
    )
    r = call(srv, us, "INDIA", benefit="BENEFIT_IN", market="IN")
    assert err(r) == (
        403,
        "InvalidSignature",
        "Credential should be scoped to a valid region, not 'us-east-1'.",
    )


# --- errors --------------------------------------------------------------------------------------


def test_unknown_benefit(srv, signer):
    assert err(call(srv, signer, "X", benefit="NOPE")) == (
        404,
        "NotFound",
        "Benefit 'NOPE' not found",
    )


def test_unknown_route_and_wrong_method(srv, signer):
    r = signer.send(
        "GET",
        f"{srv.url}/v1/customer/benefit/BENEFIT_US/offer-code/X/explode",
        {"x-amz-marketplace": "US"},
    )
    assert err(r) == (
        404,
        "NotFound",
        "No route for GET /v1/customer/benefit/BENEFIT_US/offer-code/X/explode",
    )
    r = signer.send(
        "POST", f"{srv.url}{BASE}/BENEFIT_US/offer-code/X/verify", {"x-amz-marketplace": "US"}
    )
    assert err(r)[:2] == (404, "NotFound")


def test_access_denied_for_other_benefits(srv):
    limited = Signer(
        "AKIATESTPRIME000002",
        "TestPrimeSecretKey00000000000000000000002",
        "execute-api",
        "us-east-1",
    )
    assert message(call(srv, limited, "OTHER", benefit="OTHER_BENEFIT")) == "SUCCESS"
    r = call(srv, limited, "WEEKEND")
    assert err(r) == (
        403,
        "AccessDenied",
        "Identity 'prime-limited' may not access benefit 'BENEFIT_US'",
    )


def test_invalid_time_zone(srv, signer):
    r = call(srv, signer, "WEEKEND", tz="Mars/Olympus")
    assert err(r) == (400, "BadRequest", "Invalid x-amz-time-zone: 'Mars/Olympus'")
    r = call(srv, signer, "WEEKEND", tz="../../etc/passwd")
    assert err(r)[:2] == (400, "BadRequest")


def test_missing_marketplace_and_request_id(srv, signer):
    url = f"{srv.url}{BASE}/BENEFIT_US/offer-code/WEEKEND/verify"
    r = signer.send("GET", url, {}, unsigned={"x-amz-request-id": "1"})
    assert err(r) == (400, "BadRequest", "Missing required header: x-amz-marketplace")
    r = signer.send("GET", url, {"x-amz-marketplace": "US"})
    assert err(r) == (400, "BadRequest", "Missing required header: x-amz-request-id")
    r = signer.send("GET", url, {"x-amz-marketplace": "ZZ"}, unsigned={"x-amz-request-id": "1"})
    assert err(r) == (400, "BadRequest", "Invalid x-amz-marketplace: 'ZZ'")
    r = signer.send("GET", url, {"x-amz-marketplace": "IN"}, unsigned={"x-amz-request-id": "1"})
    assert err(r) == (
        400,
        "BadRequest",
        "x-amz-marketplace 'IN' does not match the benefit's marketplace",
    )


def test_oversized_body(srv, signer):
    url = f"{srv.url}{BASE}/BENEFIT_US/offer-code/DAILY/redeem"
    body = b"x" * (1024 * 1024 + 1)
    r = signer.send(
        "POST", url, {"x-amz-marketplace": "US"}, body, unsigned={"x-amz-request-id": "1"}
    )
    assert err(r) == (
        400,
        "BadRequest",
        "Request body of 1048577 bytes exceeds the 1048576-byte limit",
    )


def test_non_utf8_path_raw_bytes(srv):
    conn = http.client.HTTPConnection("127.0.0.1", port_of(srv.url), timeout=5)
    try:
        conn.request(
            "GET", f"{BASE}/BENEFIT_US/offer-code/%FF%FE/verify", headers={"x-amz-request-id": "1"}
        )
        r = conn.getresponse()
        body = r.read()
    finally:
        conn.close()
    assert r.status == 400
    assert body == b'{"error":{"code":"BadRequest","message":"Path is not valid UTF-8"}}'


def test_non_utf8_path_signed(srv, signer):
    r = call(srv, signer, "%FF%FE")
    assert err(r) == (400, "BadRequest", "Path is not valid UTF-8")


def test_keep_alive_connection_is_reused(srv, signer):
    with requests.Session() as s:
        for _ in range(3):
            url = f"{srv.url}{BASE}/BENEFIT_US/offer-code/WEEKEND/verify"
            h = signer.headers("GET", url, {"x-amz-marketplace": "US"})
            r = s.get(url, headers={**h, "x-amz-request-id": "k"}, timeout=5)
            assert r.status_code == 200
            assert r.headers.get("Connection", "").lower() != "close"
        assert r.raw.version == 11


def test_rate_limit(server_factory, tmp_path, signer):
    sc = tmp_path / "rate.yaml"
    sc.write_text(Path(RULES).read_text() + "  rate_limit: {requests_per_second: 2, burst: 2}\n")
    srv = server_factory([str(sc)])
    # the bucket refills on the scenario clock: frozen, it refills only when the clock is moved
    requests.post(f"{srv.url}/__admin/clock/freeze", json={}, timeout=5).raise_for_status()
    codes = [call(srv, signer, "WEEKEND").status_code for _ in range(5)]
    assert codes == [200, 200, 429, 429, 429]
    r = call(srv, signer, "WEEKEND")
    assert err(r) == (429, "TooManyRequests", "Too Many Requests")
    advance = {"seconds": 0.5}  # one token at 2/s
    requests.post(f"{srv.url}/__admin/clock/advance", json=advance, timeout=5).raise_for_status()
    assert [call(srv, signer, "WEEKEND").status_code for _ in range(2)] == [200, 429]

"""Keep-state scenario switches carry the data, never a service's captured copy of the runtime."""

from __future__ import annotations

import json
import time
from pathlib import Path

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.support.paths import ROOT

CLOCK_MOVED = "2031-02-03T04:05:00Z"
PROMO = "clientname=clientname/marketplace=US/offertype=student-promo-deal/promotionid=PROMO-0001/"


def _badly_signed_verify(url: str) -> requests.Response:
    path = "/v1/customer/benefit/benefit-demo-001/offer-code/111111111/verify"
    req = AWSRequest(method="GET", url=url + path, headers={
        "x-amz-request-id": "r-1", "x-amz-marketplace": "ATVPDKIKX0DER"})  # fmt: skip
    wrong = Credentials("AKIAMOCKSRVPRIME0001", "this-is-not-the-secret-key-000000000")
    SigV4Auth(wrong, "execute-api", "us-east-1").add_auth(req)
    return requests.get(url + path, headers=dict(req.headers), timeout=10)


def _switch_to_debug_on(mocksrv, tmp_path: Path) -> dict:
    """Load a copy of the default, then switch, keeping state, to one that differs only in
    `settings.sigv4_debug`."""
    text = (ROOT / "scenarios/default.yaml").read_text()
    scenario = tmp_path / "mine.yaml"
    scenario.write_text(text)
    mocksrv.load([str(scenario)])
    on = text.replace("sigv4_debug: false", "sigv4_debug: true")
    assert on != text
    scenario.write_text(on)
    return mocksrv.admin("POST", "/scenarios", {"reload": True, "keepState": True})


def test_settings_only_keep_state_switch_turns_sigv4_debug_on(mocksrv, tmp_path):
    assert "Canonical String" not in _badly_signed_verify(mocksrv.url).text
    result = _switch_to_debug_on(mocksrv, tmp_path)
    assert {"prime", "agcod", "promotions"} <= set(result["keptState"])
    r = _badly_signed_verify(mocksrv.url)
    assert r.status_code == 403
    message = r.json()["error"]["message"]
    assert "The Canonical String for this request should have been" in message
    assert "The String-to-Sign should have been" in message


def test_kept_promotions_store_follows_the_new_runtimes_clock(mocksrv, mocksrv_s3, tmp_path):
    result = _switch_to_debug_on(mocksrv, tmp_path)
    assert "promotions" in result["keptState"]
    mocksrv.admin("PUT", "/clock", {"now": CLOCK_MOVED, "frozen": True})
    key = f"new-promo-codes/{PROMO}clientname_new_codes_20260601_0000.csv"
    mocksrv_s3.put_object(Bucket="partner-promotions-devo", Key=key, Body=b"KEEP-CLOCK-1,new\n")
    deadline = time.monotonic() + 30
    while True:
        try:
            obj = mocksrv_s3.get_object(
                Bucket="partner-promotions-devo", Key=f"processing-results/{key}.json"
            )
            break
        except mocksrv_s3.exceptions.NoSuchKey:
            assert time.monotonic() < deadline, "no report within 30 s"
            time.sleep(0.05)
    report = json.loads(obj["Body"].read())
    assert report["processedAt"].startswith("2031-02-03T04:05:00")

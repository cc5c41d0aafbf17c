"""Recorded replies in scenarios (`agcod.recorded`, `prime.recorded`, `promotions.recorded`): what
`mocksrv record` writes, answered per request key one per call, the last repeating; validated with
`file:line` problems like every other key."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import requests

from mocksrv.registry import validate_paths
from tests.support.agcod import Client, new_id
from tests.support.cli import Serve
from tests.support.promotions import DEVO, NEW, s3_client
from tests.support.signing import Signer

BENEFIT = "PRIME_3P_PARTNER_BENEFIT"
CARD = '{"cardInfo":{"value":{"amount":7.0}},"gcClaimCode":"RECD-000001-AAAA","status":"SUCCESS"}'
RESEND = '{"errorCode":"F400","errorType":"SystemTemporarilyUnavailable","status":"RESEND"}'


def overlay(tmp_path: Path, text: str, name: str = "recorded.yaml") -> str:
    path = tmp_path / name
    path.write_text("version: 1\nextends: default\n" + textwrap.dedent(text))
    return str(path)


AGCOD = f"""
agcod:
  recorded:
    - operation: CreateGiftCard
      partner_id: Mocks
      request_id: MocksRecorded1
      replies:
        - {{status: 503, headers: {{Content-Type: application/json, x-amzn-ErrorType: Busy}}, body: '{RESEND}'}}
        - {{status: 200, headers: {{Content-Type: application/json}}, body: '{CARD}'}}
    - operation: GetAvailableFunds
      partner_id: Mocks
      replies:
        - {{status: 200, headers: {{Content-Type: text/xml}}, body: <funds>recorded</funds>}}
"""


@pytest.fixture
def agcod_app(tmp_path, server_factory):
    return server_factory.in_process([overlay(tmp_path, AGCOD)])


def test_agcod_plays_each_reply_once_then_repeats_the_last(agcod_app):
    client = Client(agcod_app, "Mocks")
    first, second, third = (client.create("MocksRecorded1") for _ in range(3))
    assert (first.status_code, first.text) == (503, RESEND)
    assert first.headers["x-amzn-ErrorType"] == "Busy"
    assert (second.status_code, second.text) == (200, CARD)
    assert (third.status_code, third.text) == (200, CARD)
    assert "x-amzn-RequestId" in third.headers  # the server's own, as on every answer
    # XML asks the same request: the key is operation, partnerId and request id
    assert client.create("MocksRecorded1", xml=True).text == CARD
    funds = client.funds()
    assert (funds.text, funds.headers["Content-Type"]) == ("<funds>recorded</funds>", "text/xml")


def test_agcod_requests_not_recorded_get_the_emulation(agcod_app):
    client = Client(agcod_app, "Mocks")
    other = client.create(new_id())
    assert other.status_code == 200 and other.json()["cardInfo"]["value"]["amount"] == 10.0
    assert client.cancel("MocksRecorded1").json()["errorType"] == "CardNotFound"  # not recorded
    # a production partner sends another partnerId: not the recorded one
    assert Client(agcod_app, "MocksProd").funds().json()["availableFunds"]["amount"] == 10000.0


def test_agcod_answers_a_recorded_reply_only_to_a_valid_signature(agcod_app):
    client = Client(agcod_app, "Mocks")
    bad = client.create("MocksRecorded1", secret="WrongSecretKeyWrongSecretKey0000000000000")
    assert bad.status_code == 403 and bad.json()["__type"] == "InvalidSignatureException"
    assert client.create("MocksRecorded1").status_code == 503  # the first reply is still next


def test_agcod_reset_starts_the_replies_again_and_the_state_view_counts_them(agcod_app):
    client = Client(agcod_app, "Mocks")
    client.create("MocksRecorded1")
    admin = agcod_app.session()
    view = admin.get(f"{agcod_app.url}/__admin/state/agcod").json()
    played = {tuple(r["key"]): (r["played"], r["replies"]) for r in view["recorded"]}
    assert played == {
        ("CreateGiftCard", "Mocks", "MocksRecorded1"): (1, 2),
        ("GetAvailableFunds", "Mocks", ""): (0, 1),
    }
    journal = admin.get(f"{agcod_app.url}/__admin/journal?api=agcod").json()["entries"]
    assert journal[0]["outcome"] == "recorded"
    assert admin.post(f"{agcod_app.url}/__admin/reset", json={}).status_code == 200
    assert client.create("MocksRecorded1").status_code == 503


PRIME = f"""
prime:
  recorded:
    - operation: verify
      benefit_id: {BENEFIT}
      offer_code: "123456789"
      replies:
        - {{status: 200, headers: {{Content-Type: application/json}}, body: '{{"message":"INVALID_OFFER_CODE"}}'}}
        - status: 429
          headers: {{Content-Type: application/json, x-amzn-ErrorType: TooManyRequests}}
          body: '{{"error":{{"code":"TooManyRequests","message":"recorded"}}}}'
"""


def test_prime_plays_replies_per_operation_benefit_and_code(tmp_path, server_factory):
    app = server_factory.in_process([overlay(tmp_path, PRIME)])
    signer = Signer("AKIAMOCKSRVPRIME0001", "MockSrvPrimeDemoSecretKey000000000000001",
                    "execute-api", "us-east-1")  # fmt: skip
    session = app.session()

    def call(method: str, code: str, op: str) -> requests.Response:
        url = f"{app.url}/v1/customer/benefit/{BENEFIT}/offer-code/{code}/{op}"
        return signer.send(method, url, {"x-amz-marketplace": "US"},
                           unsigned={"x-amz-request-id": "r1"}, session=session)  # fmt: skip

    first, second, third = (call("GET", "123456789", "verify") for _ in range(3))
    assert (first.status_code, first.json()) == (200, {"message": "INVALID_OFFER_CODE"})
    assert second.status_code == third.status_code == 429
    assert third.headers["x-amzn-ErrorType"] == "TooManyRequests"
    assert third.headers["x-amz-request-id"] == "r1"  # echoed, as on every Prime answer
    # redeem of the same code is not recorded: the code's rules answer
    assert call("POST", "123456789", "redeem").json() == {"message": "SUCCESS"}
    # the header checks still come first
    url = f"{app.url}/v1/customer/benefit/{BENEFIT}/offer-code/123456789/verify"
    plain = signer.send("GET", url, {"x-amz-marketplace": "US"}, session=session)
    assert plain.status_code == 400  # no x-amz-request-id


def test_promotions_plays_replies_per_operation_bucket_and_key(tmp_path, server_factory):
    key = NEW + "clientname_new_codes_20260516_0900.csv"
    text = f"""
    promotions:
      recorded:
        - operation: PutObject
          bucket: {DEVO}
          key: {key}
          replies:
            - {{status: 200, headers: {{ETag: '"recorded-etag"'}}}}
    """
    srv = server_factory([overlay(tmp_path, text)])
    s3 = s3_client(srv.url)
    put = s3.put_object(Bucket=DEVO, Key=key, Body=b"CODE-1,new\n")
    assert put["ETag"] == '"recorded-etag"'
    listed = s3.list_objects_v2(Bucket=DEVO, Prefix=NEW).get("Contents", [])
    assert key not in [o["Key"] for o in listed]  # answered from the recording: nothing stored
    other = NEW + "clientname_new_codes_20260516_0901.csv"
    assert s3.put_object(Bucket=DEVO, Key=other, Body=b"CODE-2,new\n")["ETag"] != '"recorded-etag"'


def test_every_recorded_problem_has_its_line(tmp_path):
    path = overlay(
        tmp_path,
        """
        agcod:
          recorded:
            - operation: CreateGiftCard
              partner_id: Mocks
              replies: [{status: 200}]
            - operation: GetAvailableFunds
              partner_id: Mocks
              request_id: X
              replies: [{status: 200}]
            - operation: CancelGiftCard
              partner_id: Mocks
              request_id: A
              replies: [{status: 200, headers: {Content-Length: "3"}, body: abc}]
            - operation: CancelGiftCard
              partner_id: Mocks
              request_id: A
              replies: [{status: 200, body: x, body_base64: eA==}]
        prime:
          recorded:
            - operation: verify
              benefit_id: NO_SUCH_BENEFIT
              offer_code: "1"
              replies: [{status: 200, body_base64: "not base64!"}]
        promotions:
          recorded:
            - operation: GetObject
              bucket: some-other-bucket
              key: a
              replies: [{status: 600}]
        """,
    )
    problems = validate_paths([path])
    expected = [
        (6, "agcod.recorded[0]: CreateGiftCard needs request_id (the body's creationRequestId)"),
        (11, "agcod.recorded[1].request_id: GetAvailableFunds has no request id"),
        (16, "agcod.recorded[2].replies[0].headers.Content-Length: set by the server"),
        (17, "agcod.recorded[3]: the same request as agcod.recorded[2]"),
        (20, "agcod.recorded[3].replies[0]: give either body or body_base64, not both"),
        (24, "prime.recorded[0].benefit_id: unknown benefit 'NO_SUCH_BENEFIT'"),
        (26, "prime.recorded[0].replies[0].body_base64: not valid base64"),
        (30, "promotions.recorded[0].bucket: not a bucket of promotions.environments"),
        (32, "promotions.recorded[0].replies[0].status: 600 is greater than the maximum of 599"),
    ]
    for line, text in expected:
        assert any(p.startswith(f"{path}:{line}: {text}") for p in problems), (line, problems)
    assert len(problems) == len(expected), problems


def test_recorded_positions_survive_a_restart_with_state(tmp_path):
    scenario = overlay(tmp_path, AGCOD)
    state = str(tmp_path / "state.db")
    srv = Serve("--scenario", scenario, "--state", state)
    body = {"creationRequestId": "MocksRecorded1", "partnerId": "Mocks",
            "value": {"currencyCode": "USD", "amount": 7}}  # fmt: skip

    def create(url: str) -> requests.Response:
        signer = Signer("AKIAMOCKSRVAGCOD0001", "MockSrvAgcodDemoSecretKey000000000000001",
                        "AGCODService", "us-east-1")  # fmt: skip
        headers = {"accept": "application/json", "content-type": "application/json"}
        return signer.send("POST", f"{url}/CreateGiftCard", headers, json.dumps(body).encode())

    try:
        assert create(srv.url).status_code == 503
    finally:
        srv.kill()
    srv = Serve("--scenario", scenario, "--state", state)
    try:
        assert (create(srv.url).status_code, create(srv.url).text) == (200, CARD)
    finally:
        srv.stop()

"""Every API accepts only its own identities, and STS session keys only where the real service
takes temporary credentials (S3 and STS, with their token and before their expiry): one test per
API and key kind, botocore-signed requests on the wire, the embedded default scenario."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.support.sts import ROLE

UNKNOWN = "The security token included in the request is invalid."
LONG_TERM = {
    "prime": ("AKIAMOCKSRVPRIME0001", "MockSrvPrimeDemoSecretKey000000000000001"),
    "agcod": ("AKIAMOCKSRVAGCOD0001", "MockSrvAgcodDemoSecretKey000000000000001"),
    "promotions": ("AKIAMOCKSRVPROMO0001", "MockSrvPromoDemoSecretKey000000000000001"),
}
LISTING = "/partner-promotions-devo?list-type=2&prefix=new-promo-codes%2Fclientname%3Dclientname%2F"
# api -> (method, path, headers, body, SigV4 service)
REQUESTS: dict[str, tuple[str, str, dict[str, str], bytes, str]] = {
    "prime": ("GET", "/v1/customer/benefit/PRIME_3P_PARTNER_BENEFIT/offer-code/123456789/verify",
              {"x-amz-marketplace": "US"}, b"", "execute-api"),
    "agcod": ("POST", "/GetAvailableFunds",
              {"accept": "application/json", "content-type": "application/json"},
              b'{"partnerId":"Mocks"}', "AGCODService"),
    "s3": ("GET", LISTING, {}, b"", "s3"),
    "sts": ("POST", "/", {"content-type": "application/x-www-form-urlencoded"},
            b"Action=GetCallerIdentity&Version=2011-06-15", "sts"),
}  # fmt: skip
OWN = {"prime": "prime", "agcod": "agcod", "s3": "promotions", "sts": "promotions"}


def send(url: str, api: str, key: str, secret: str, token: str | None = None) -> requests.Response:
    """The API's request signed by botocore with these credentials (the token signed too)."""
    method, path, headers, body, service = REQUESTS[api]
    req = AWSRequest(method=method, url=url + path, data=body, headers=dict(headers))
    signer = S3SigV4Auth if service == "s3" else SigV4Auth
    signer(Credentials(key, secret, token), service, "us-east-1").add_auth(req)
    sent = dict(req.headers.items())
    if api == "prime":
        sent["x-amz-request-id"] = "keys-1"  # unsigned, as the Prime docs send it
    return requests.request(method, url + path, headers=sent, data=body, timeout=10)


def session(url: str, duration: int = 3600) -> dict[str, Any]:
    """AssumeRole's credentials (the default scenario's role of `clientname`), botocore-signed."""
    body = f"Action=AssumeRole&Version=2011-06-15&RoleArn={ROLE}&RoleSessionName=keys&DurationSeconds={duration}"
    req = AWSRequest(method="POST", url=url + "/", data=body.encode(),
                     headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    SigV4Auth(Credentials(*LONG_TERM["promotions"]), "sts", "us-east-1").add_auth(req)
    r = requests.post(url + "/", data=body.encode(), headers=dict(req.headers.items()), timeout=10)
    assert r.status_code == 200, r.text

    def field(name: str) -> str:
        return r.text.split(f"<{name}>", 1)[1].split(f"</{name}>", 1)[0]

    return {"key": field("AccessKeyId"), "secret": field("SecretAccessKey"),
            "token": field("SessionToken")}  # fmt: skip


def refused(api: str, r: requests.Response, kind: str = "unknown") -> None:
    """The API's own answer to a key it does not know (`kind`: or a token it cannot accept,
    or an expired one)."""
    if api == "prime":
        assert (r.status_code, r.json()) == (
            403, {"error": {"code": "InvalidSignature", "message": UNKNOWN}}
        ), r.text  # fmt: skip
        assert r.headers["x-amzn-ErrorType"] == "InvalidSignature"
    elif api == "agcod":
        assert (r.status_code, r.json()) == (
            403, {"__type": "UnrecognizedClientException", "message": UNKNOWN}
        ), r.text  # fmt: skip
    elif api == "s3":
        code, status = {"unknown": ("InvalidAccessKeyId", 403), "token": ("InvalidToken", 400),
                        "expired": ("ExpiredToken", 400)}[kind]  # fmt: skip
        assert r.status_code == status and f"<Code>{code}</Code>" in r.text, r.text
    else:
        code, status = {"unknown": ("InvalidClientTokenId", 403),
                        "token": ("InvalidClientTokenId", 403),
                        "expired": ("ExpiredTokenException", 400)}[kind]  # fmt: skip
        assert r.status_code == status and f"<Code>{code}</Code>" in r.text, r.text


@pytest.fixture(scope="module")
def server(module_server_factory):
    return module_server_factory()  # the embedded default scenario: every API, and the role


@pytest.mark.parametrize("api", sorted(REQUESTS))
def test_own_long_term_key_is_accepted(server, api):
    r = send(server.url, api, *LONG_TERM[OWN[api]])
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    ("api", "other"),
    [(api, other) for api in sorted(REQUESTS) for other in sorted(LONG_TERM) if other != OWN[api]],
)
def test_another_apis_long_term_key_is_unknown(server, api, other):
    refused(api, send(server.url, api, *LONG_TERM[other]))


@pytest.mark.parametrize("api", sorted(REQUESTS))
def test_session_key_without_its_token_is_unknown(server, api):
    creds = session(server.url)
    refused(api, send(server.url, api, creds["key"], creds["secret"]))


@pytest.mark.parametrize("api", ["prime", "agcod"])
def test_session_key_with_its_token_is_unknown_where_sessions_are_not_taken(server, api):
    creds = session(server.url)
    refused(api, send(server.url, api, creds["key"], creds["secret"], creds["token"]))


@pytest.mark.parametrize("api", ["s3", "sts"])
def test_session_key_with_its_token_is_accepted_by_s3_and_sts(server, api):
    creds = session(server.url)
    r = send(server.url, api, creds["key"], creds["secret"], creds["token"])
    assert r.status_code == 200, r.text
    if api == "sts":
        assert ":assumed-role/clientname-PromoCodesUpload-Role/keys</Arn>" in r.text


@pytest.mark.parametrize("api", sorted(REQUESTS))
def test_expired_session_key(server_factory, api):
    srv = server_factory()
    creds = session(srv.url, duration=900)
    clock = requests.post(f"{srv.url}/__admin/clock/advance", json={"seconds": 901}, timeout=5)
    assert clock.status_code == 200, clock.text
    with_token = send(srv.url, api, creds["key"], creds["secret"], creds["token"])
    refused(api, with_token, "expired")
    refused(api, send(srv.url, api, creds["key"], creds["secret"]))  # and without it


@pytest.mark.parametrize("api", sorted(REQUESTS))
def test_own_long_term_key_with_a_session_token_is_refused(server, api):
    """A token beside a long-term key (a stale AWS_SESSION_TOKEN, say) names no session of it."""
    token = session(server.url)["token"]
    refused(api, send(server.url, api, *LONG_TERM[OWN[api]], token), "token")


def test_the_journal_names_no_session_on_prime(server):
    creds = session(server.url)
    send(server.url, "prime", creds["key"], creds["secret"], creds["token"])
    entries = requests.get(f"{server.url}/__admin/journal", params={"api": "prime", "limit": 1},
                           timeout=5).json()["entries"]  # fmt: skip
    assert entries[0]["identity"] is None and entries[0]["outcome"] == "signature:unknown_key"
    assert json.dumps(entries).count("assumed-role") == 0

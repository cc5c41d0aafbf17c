"""The region of a request's credential scope, as real S3 checks it: first, before the access key
and the signature, with `<Region>` naming the bucket's region; in a presigned URL as a parameter
error. Raw requests signed by botocore (no redirecting client), and boto3's redirect."""

from __future__ import annotations

import hashlib

import boto3
import pytest
import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from tests.support.promotions import DEVO, KEY, NEW, SECRET, file_name

HEADER_WRONG = (
    "<Code>AuthorizationHeaderMalformed</Code><Message>The authorization header is malformed; "
    "the region 'eu-west-1' is wrong; expecting 'us-east-1'</Message><Region>us-east-1</Region>"
)
QUERY_WRONG = (
    "<Code>AuthorizationQueryParametersError</Code><Message>Error parsing the X-Amz-Credential "
    "parameter; the region 'eu-west-1' is wrong; expecting 'us-east-1'</Message>"
    "<Region>us-east-1</Region>"
)


@pytest.fixture(scope="module")
def server(module_server_factory):
    return module_server_factory()


def put(url: str, key: str, body: bytes, access_key: str, secret: str, region: str):
    """A PutObject signed by botocore's S3 signer for `region`, sent as signed."""
    req = AWSRequest(method="PUT", url=f"{url}/{DEVO}/{key}", data=body)
    req.headers["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
    S3SigV4Auth(Credentials(access_key, secret), "s3", region).add_auth(req)
    return requests.put(req.url, data=body, headers=dict(req.headers.items()), timeout=10)


def listed(server, key: str) -> list[str]:
    s3 = boto3.client("s3", endpoint_url=server.url, region_name="us-east-1",
                      aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                      config=Config(s3={"addressing_style": "path"}))  # fmt: skip
    found = s3.list_objects_v2(Bucket=DEVO, Prefix=key).get("Contents", [])
    return [item["Key"] for item in found]


def test_a_put_signed_for_another_region_is_refused_and_stores_nothing(server):
    key = NEW + file_name()
    r = put(server.url, key, b"REGION-1,new\n", KEY, SECRET, "eu-west-1")
    assert r.status_code == 400 and HEADER_WRONG in r.text, r.text
    assert listed(server, key) == []


@pytest.mark.parametrize(
    ("access_key", "secret"),
    [(KEY, "NotTheSecret000000000000000000000000000"), ("AKIAUNKNOWN000000000", SECRET)],
    ids=["wrong-secret", "unknown-key"],
)
def test_the_region_is_checked_before_the_key_and_the_signature(server, access_key, secret):
    key = NEW + file_name()
    r = put(server.url, key, b"REGION-2,new\n", access_key, secret, "eu-west-1")
    assert r.status_code == 400 and HEADER_WRONG in r.text, r.text


def test_boto3_signed_for_another_region_redirects_and_then_succeeds(server):
    """What the issue saw: botocore's S3 region redirector reads `<Region>` from the 400 and
    signs the request again for us-east-1, as it does against real S3."""
    s3 = boto3.client("s3", endpoint_url=server.url, region_name="eu-west-1",
                      aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                      config=Config(s3={"addressing_style": "path"}))  # fmt: skip
    key = NEW + file_name()
    assert s3.put_object(Bucket=DEVO, Key=key, Body=b"REGION-3,new\n")["ETag"]
    entries = requests.get(
        f"{server.url}/__admin/journal", params={"operation": "PutObject", "limit": 2}, timeout=5
    ).json()
    answers = [(e["status"], e["outcome"]) for e in reversed(entries["entries"])
               if e["fields"].get("key") == key]  # fmt: skip
    assert answers == [(400, "AuthorizationHeaderMalformed"), (200, "OK")]


def presigned(server, access_key: str, region: str) -> str:
    s3 = boto3.client("s3", endpoint_url=server.url, region_name=region,
                      aws_access_key_id=access_key, aws_secret_access_key=SECRET,
                      config=Config(signature_version="s3v4",
                                    s3={"addressing_style": "path"}))  # fmt: skip
    return str(s3.generate_presigned_url("list_objects_v2", Params={"Bucket": DEVO, "Prefix": NEW}))


@pytest.mark.parametrize("access_key", [KEY, "AKIAUNKNOWN000000000"], ids=["known", "unknown"])
def test_a_presigned_url_for_another_region_is_a_query_parameters_error(server, access_key):
    url = presigned(server, access_key, "eu-west-1")
    assert "X-Amz-Credential=" in url and "%2Feu-west-1%2Fs3%2F" in url
    r = requests.get(url, timeout=10)
    assert r.status_code == 400 and QUERY_WRONG in r.text, r.text


def test_a_presigned_url_for_the_buckets_region_works(server):
    r = requests.get(presigned(server, KEY, "us-east-1"), timeout=10)
    assert r.status_code == 200 and "<ListBucketResult" in r.text, r.text

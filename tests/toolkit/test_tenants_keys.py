"""A tenant's keys after it is deleted: each API's own unknown-key error, to clients signing with
botocore (AGCOD, Prime) and boto3 (S3, STS), for its long-term keys and its STS sessions alike."""

from __future__ import annotations

import pytest
import requests
from botocore.exceptions import ClientError

from tests.support.promotions import DEVO, NEW, file_name
from tests.support.sts import ROLE
from tests.support.tenants import boto, create_card, keys, make, prime


@pytest.fixture
def url(server_factory) -> str:
    return str(server_factory().url)


def _code(call) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    with pytest.raises(ClientError) as info:
        call()
    err = info.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


def test_a_deleted_tenants_keys_get_each_apis_unknown_key_error(url):
    tenant = make(url)
    agcod, prime_key = keys(tenant, "agcod-production"), keys(tenant, "prime-partner")
    promo = keys(tenant, "clientname")
    s3, sts = boto("s3", url, promo), boto("sts", url, promo)
    # working while the tenant lives
    assert create_card(url, agcod, "MocksProdT1", 5).status_code == 200
    assert prime(url, prime_key, "123456789").json() == {"message": "SUCCESS"}
    s3.put_object(Bucket=DEVO, Key=NEW + file_name(), Body=b"TENANT-CODE-1,new\n")
    assert sts.get_caller_identity()["Arn"].endswith(":user/clientname")
    session = sts.assume_role(RoleArn=ROLE, RoleSessionName="upload")["Credentials"]
    session_s3 = boto("s3", url, (session["AccessKeyId"], session["SecretAccessKey"]),
                      session["SessionToken"])  # fmt: skip
    session_s3.put_object(Bucket=DEVO, Key=NEW + file_name(), Body=b"TENANT-CODE-2,new\n")
    session_sts = boto("sts", url, (session["AccessKeyId"], session["SecretAccessKey"]),
                       session["SessionToken"])  # fmt: skip
    assert ":assumed-role/" in session_sts.get_caller_identity()["Arn"]

    assert requests.delete(f"{url}/__admin/tenants/{tenant['id']}", timeout=10).ok

    gone = create_card(url, agcod, "MocksProdT2", 5)
    assert (gone.status_code, gone.json()["__type"]) == (403, "UnrecognizedClientException")
    gone = prime(url, prime_key, "123456789")
    assert (gone.status_code, gone.json()["error"]["code"]) == (403, "InvalidSignature")
    assert _code(lambda: s3.list_objects_v2(Bucket=DEVO)) == ("InvalidAccessKeyId", 403)
    # its sessions' tokens open nowhere now: S3's and STS's own answers to such a token
    late = NEW + file_name()
    assert _code(lambda: session_s3.put_object(Bucket=DEVO, Key=late, Body=b"X,new\n")) == (
        "InvalidToken", 400,
    )  # fmt: skip
    assert _code(session_sts.get_caller_identity) == ("InvalidClientTokenId", 403)
    assert _code(sts.get_caller_identity) == ("InvalidClientTokenId", 403)
    assert _code(lambda: sts.assume_role(RoleArn=ROLE, RoleSessionName="again")) == (
        "InvalidClientTokenId", 403,
    )  # fmt: skip
    # and nothing of the tenant reached the default tenant
    journal = requests.get(url + "/__admin/journal", timeout=10).json()["entries"]
    assert {e["outcome"] for e in journal} == {"signature:unknown_key", "token:invalid"}, journal
    assert requests.get(url + "/__admin/state/agcod", timeout=10).json()["cards"] == []

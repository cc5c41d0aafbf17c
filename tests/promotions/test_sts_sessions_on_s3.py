"""Assumed-role sessions on S3: the client's policy, token checks, presigned URLs, the journal."""

from __future__ import annotations

import pytest
import requests
from botocore.exceptions import ClientError

from tests.support.promotions import DEVO, NEW, PROD, file_name, wait_report
from tests.support.sts import KEYS, STS_ROLES, assume, session_client


@pytest.fixture(scope="module")
def server(module_server_factory):
    return module_server_factory([STS_ROLES])


def test_session_uploads_with_the_clients_policy_and_the_journal_names_the_role(server):
    s3 = session_client("s3", server.url, assume(server.url)["Credentials"])
    key = NEW + file_name()
    s3.put_object(Bucket=DEVO, Key=key, Body=b"ROLE-1,new\nROLE-2,new\n")
    assert wait_report(s3, key)["rows"]["accepted"] == 2  # the report is the client's
    for bucket, other in ((DEVO, "new-promo-codes/clientname=otherclient/x.csv"), (PROD, key)):
        with pytest.raises(ClientError) as err:
            s3.put_object(Bucket=bucket, Key=other, Body=b"X,new\n")
        assert err.value.response["Error"]["Code"] == "AccessDenied"
    journal = requests.get(f"{server.url}/__admin/journal", params={"operation": "PutObject"},
                           timeout=5).json()  # fmt: skip
    entries = journal if isinstance(journal, list) else journal["entries"]
    put = next(e for e in entries if e["fields"].get("key") == key)
    assert put["identity"] == (
        "arn:aws:sts::111122223333:assumed-role/clientname-PromoCodesUpload-Role/upload"
    )


def test_expired_session_on_s3_is_expired_token(server_factory):
    srv = server_factory([STS_ROLES])
    creds = assume(srv.url, DurationSeconds=900)["Credentials"]
    s3 = session_client("s3", srv.url, creds)
    prefix = "new-promo-codes/clientname=clientname/"
    assert s3.list_objects_v2(Bucket=DEVO, Prefix=prefix)["KeyCount"] == 0
    srv.app.runtime.clock.advance(900)  # the expiry instant itself is past
    with pytest.raises(ClientError) as err:
        s3.list_objects_v2(Bucket=DEVO, Prefix=prefix)
    e = err.value.response["Error"]
    assert (e["Code"], e["Message"]) == ("ExpiredToken", "The provided token has expired.")
    assert e["Token-0"] == creds["SessionToken"]
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_unknown_or_wrong_tokens_on_s3_are_invalid_token(server):
    creds = assume(server.url)["Credentials"]
    cases = [
        {**creds, "SessionToken": "FwoGZXIvYXdzEsomebodyelses"},  # a token of no session
        {**creds, "AccessKeyId": "ASIAAAAAAAAAAAAAAAAA"},  # a key no session has
        {"AccessKeyId": KEYS["clientname"][0], "SecretAccessKey": KEYS["clientname"][1],
         "SessionToken": creds["SessionToken"]},  # a long-term key with a token
    ]  # fmt: skip
    for case in cases:
        with pytest.raises(ClientError) as err:
            session_client("s3", server.url, case).list_objects_v2(Bucket=DEVO, Prefix=NEW)
        e = err.value.response["Error"]
        assert (e["Code"], e["Message"]) == (
            "InvalidToken", "The provided token is malformed or otherwise invalid."
        )  # fmt: skip


def test_session_key_without_its_token_on_s3(server):
    creds = assume(server.url)["Credentials"]
    s3 = session_client("s3", server.url, {**creds, "SessionToken": None})
    with pytest.raises(ClientError) as err:
        s3.list_objects_v2(Bucket=DEVO, Prefix=NEW)
    assert err.value.response["Error"]["Code"] == "InvalidAccessKeyId"


def test_presigned_url_of_a_session(server_factory):
    srv = server_factory([STS_ROLES])
    s3 = session_client("s3", srv.url, assume(srv.url)["Credentials"],
                        signature_version="s3v4")  # fmt: skip
    key = NEW + file_name()
    s3.put_object(Bucket=DEVO, Key=key, Body=b"PRESIGN-1,new\n")
    wait_report(s3, key)
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": DEVO, "Key": f"processing-results/{key}.json"}
    )
    assert "X-Amz-Security-Token=" in url
    assert requests.get(url, timeout=5).json()["status"] == "ACCEPTED"
    srv.app.runtime.clock.advance(3600)
    expired = requests.get(url, timeout=5)
    assert expired.status_code == 400 and "<Code>ExpiredToken</Code>" in expired.text


def test_sessions_outlive_a_reset_as_they_outlive_a_restart(server_factory):
    """A token carries its session (sealed under the scenario's key): a reset on the same
    scenario, like a restart, still accepts it; the state view's record starts again."""
    srv = server_factory([STS_ROLES])
    creds = assume(srv.url)["Credentials"]
    assert requests.post(f"{srv.url}/__admin/reset", json={}, timeout=5).status_code == 200
    s3 = session_client("s3", srv.url, creds)
    assert s3.list_objects_v2(Bucket=DEVO, Prefix=NEW)["KeyCount"] == 0
    state = requests.get(f"{srv.url}/__admin/state/sts", timeout=5).json()
    assert state["sessions"] == []

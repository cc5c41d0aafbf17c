"""STS session tokens verified without a lookup: they carry their session, sealed under a key of
the scenario, so a restarted server (no `--state`) or another server on the same scenario takes
them, and an altered, expired or foreign one is refused."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from tests.support.cli import Serve
from tests.support.promotions import DEVO, NEW
from tests.support.recipes import PREFIX, recipe, require, run, tool_env, write
from tests.support.sts import KEYS, ROLE, STS_ROLES, assume, session_client

ROLE_ARN = "arn:aws:sts::111122223333:assumed-role/clientname-PromoCodesUpload-Role/"
LIST = f"aws --profile partner s3api list-objects-v2 --bucket {DEVO} --prefix {PREFIX}"


def s3_error(err: ClientError) -> tuple[str, int]:
    return err.value.response["Error"]["Code"], err.value.response["ResponseMetadata"][
        "HTTPStatusCode"
    ]


def refused_by_s3_and_sts(url: str, creds: dict) -> None:
    """S3 answers the credentials `InvalidToken`, STS `InvalidClientTokenId`."""
    with pytest.raises(ClientError) as err:
        session_client("s3", url, creds).list_objects_v2(Bucket=DEVO, Prefix=NEW)
    assert s3_error(err) == ("InvalidToken", 400)
    with pytest.raises(ClientError) as err:
        session_client("sts", url, creds).get_caller_identity()
    assert err.value.response["Error"]["Code"] == "InvalidClientTokenId"


def aws_home(home, url: str) -> None:
    """The docs' role profile (`role_arn` + `source_profile`) pointed at `url`."""
    write(home / ".aws" / "config", recipe("aws-config", url))
    write(home / ".aws" / "credentials", recipe("aws-credentials", url))


def journal(url: str, **filters: str) -> list[dict]:
    return list(requests.get(f"{url}/__admin/journal", params=filters, timeout=5).json()["entries"])


def test_aws_cli_cached_role_credentials_outlive_a_restart(tmp_path):
    """The acceptance of issue 20: list, restart without --state, list again with the CLI's
    cached credentials (no second AssumeRole)."""
    require("aws")
    env = tool_env(tmp_path)
    first = Serve()
    try:
        aws_home(tmp_path, first.url)
        listed = run(LIST, tmp_path, env)
        assert listed.returncode == 0, listed.stderr
        assert [e["operation"] for e in journal(first.url, api="sts")] == ["AssumeRole"]
    finally:
        first.stop()
    cached = list((tmp_path / ".aws" / "cli" / "cache").glob("*.json"))
    assert len(cached) == 1
    token = json.loads(cached[0].read_text())["Credentials"]["SessionToken"]
    second = Serve()  # a new process: nothing of the first one's memory
    try:
        aws_home(tmp_path, second.url)  # a new port; the cache does not depend on it
        again = run(LIST, tmp_path, env)
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout or "{}").get("Prefix", PREFIX) == PREFIX
        assert journal(second.url, api="sts") == []  # the cached credentials were used
        (listing,) = journal(second.url, operation="ListObjectsV2")
        assert listing["status"] == 200 and listing["identity"].startswith(ROLE_ARN)
        # the same token, expired on the new server's scenario clock (moved by the admin API)
        moved = requests.post(f"{second.url}/__admin/clock/advance", json={"seconds": 3601},
                              timeout=5)  # fmt: skip
        assert moved.status_code == 200, moved.text
        expired = run(LIST, tmp_path, env)
        assert expired.returncode != 0
        assert "(ExpiredToken) when calling the ListObjectsV2 operation" in expired.stderr
    finally:
        second.stop()
    assert json.loads(cached[0].read_text())["Credentials"]["SessionToken"] == token


@pytest.fixture(scope="module")
def server(module_server_factory):
    return module_server_factory([STS_ROLES])


def tampered(token: str, at: int) -> str:
    """The token with one bit of its sealed part flipped (still valid base64)."""
    head = len("FwoGZXIvYXdzE")
    raw = bytearray(base64.b64decode(token[head:]))
    raw[at] ^= 0x01
    return token[:head] + base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize("at", [0, 3, 12, 30, -1])  # version, key id, nonce, claims, tag
def test_a_tampered_token_is_refused_by_s3_and_sts(server, at):
    creds = assume(server.url)["Credentials"]
    bad = {**creds, "SessionToken": tampered(creds["SessionToken"], at)}
    refused_by_s3_and_sts(server.url, bad)


@pytest.mark.parametrize(
    "token",
    ["FwoGZXIvYXdzE", "FwoGZXIvYXdzE!!not-base64!!", "FwoGZXIvYXdzE" + "A" * 5000, "x" * 40],
)
def test_a_token_that_is_not_one_is_refused(server, token):
    creds = {**assume(server.url)["Credentials"], "SessionToken": token}
    with pytest.raises(ClientError) as err:
        session_client("s3", server.url, creds).list_objects_v2(Bucket=DEVO, Prefix=NEW)
    assert s3_error(err) == ("InvalidToken", 400)


def test_the_access_key_is_bound_to_its_token(server):
    one, two = (assume(server.url)["Credentials"] for _ in range(2))
    crossed = {**one, "SessionToken": two["SessionToken"]}  # one's key and secret, two's token
    refused_by_s3_and_sts(server.url, crossed)
    for creds in (one, two):  # each with its own token still works
        assert session_client("s3", server.url, creds).list_objects_v2(Bucket=DEVO, Prefix=NEW)


def test_another_server_on_the_same_scenario_accepts_the_token(server, module_server_factory):
    replica = module_server_factory([STS_ROLES])
    creds = assume(server.url)["Credentials"]
    me = session_client("sts", replica.url, creds).get_caller_identity()
    assert me["Arn"] == ROLE_ARN + "upload"
    assert session_client("s3", replica.url, creds).list_objects_v2(Bucket=DEVO, Prefix=NEW)


def test_a_token_of_another_scenario_is_refused(server, server_factory, tmp_path):
    """The same role ARN, but its owner has another secret there: another key."""
    secret = "MockSrvPromoDemoSecretKey0000000000000XX"
    other = tmp_path / "other-scenario.yaml"
    other.write_text(
        Path(STS_ROLES).read_text().replace("MockSrvPromoDemoSecretKey000000000000001", secret)
    )
    there = server_factory([str(other)]).url
    sts = boto3.client(
        "sts",
        endpoint_url=there,
        region_name="us-east-1",
        aws_access_key_id=KEYS["clientname"][0],
        aws_secret_access_key=secret,
    )
    foreign = sts.assume_role(RoleArn=ROLE, RoleSessionName="upload")["Credentials"]
    refused_by_s3_and_sts(server.url, foreign)


def test_the_token_holds_no_secret_in_clear(server):
    creds = assume(server.url)["Credentials"]
    decoded = base64.b64decode(creds["SessionToken"][len("FwoGZXIvYXdzE") :])
    for text in (creds["SecretAccessKey"], creds["AccessKeyId"], "clientname", "upload"):
        assert text.encode() not in decoded

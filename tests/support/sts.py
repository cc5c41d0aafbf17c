"""Shared STS test helpers (no tests here): boto3 clients as the scenario identities or a session."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from tests.support.paths import DATA

STS_ROLES = str(DATA / "sts-roles.yaml")
ROLE = "arn:aws:iam::111122223333:role/clientname-PromoCodesUpload-Role"
OTHER_ROLE = "arn:aws:iam::444455556666:role/otherclient-PromoCodesUpload-Role"
THIRD_ROLE = "arn:aws:iam::777788889999:role/uploads/thirdclient-PromoCodesUpload-Role"
KEYS = {
    "clientname": ("AKIAMOCKSRVPROMO0001", "MockSrvPromoDemoSecretKey000000000000001"),
    "otherclient": ("AKIAMOCKSRVPROMO0002", "MockSrvPromoDemoSecretKey000000000000002"),
    "thirdclient": ("AKIAMOCKSRVPROMO0003", "MockSrvPromoDemoSecretKey000000000000003"),
    "stranger": ("AKIAMOCKSRVPROMO0009", "MockSrvPromoDemoSecretKey000000000000009"),
}
NO_RETRY = {"retries": {"total_max_attempts": 1}, "connect_timeout": 5, "read_timeout": 30}


def client(service: str, url: str, who: str = "clientname", **config: Any) -> Any:
    key, secret = KEYS[who]
    return boto3.client(
        service, endpoint_url=url, region_name="us-east-1", aws_access_key_id=key,
        aws_secret_access_key=secret, config=Config(**{**NO_RETRY, **config}),
    )  # fmt: skip


def session_client(service: str, url: str, creds: dict[str, Any], **config: Any) -> Any:
    """A client signing with AssumeRole's temporary credentials (and their session token)."""
    if service == "s3":
        config.setdefault("s3", {"addressing_style": "path"})
    return boto3.client(
        service, endpoint_url=url, region_name="us-east-1",
        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"], config=Config(**{**NO_RETRY, **config}),
    )  # fmt: skip


def assume(url: str, who: str = "clientname", role: str = ROLE, **kw: Any) -> dict[str, Any]:
    answer = client("sts", url, who).assume_role(RoleArn=role, RoleSessionName="upload", **kw)
    return dict(answer)

"""Shared helpers for the promotions tests (real boto3 clients against a started server)."""

from __future__ import annotations

import itertools
import json
import re
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support.paths import ROOT

KEY = "AKIAMOCKSRVPROMO0001"
SECRET = "MockSrvPromoDemoSecretKey000000000000001"
DEVO = "partner-promotions-devo"
PROD = "partner-promotions"
PARTS = "clientname=clientname/marketplace=US/offertype=student-promo-deal/promotionid=PROMO-0001/"
NEW = "new-promo-codes/" + PARTS
REDEEMED = "redeemed-promo-codes/" + PARTS
_stamps = itertools.count(1)


def without_preload(tmp_dir: Path) -> str:
    """The default scenario without PROMO-0001's preloaded codes: for tests that count the
    inventory from zero."""
    text = (ROOT / "scenarios" / "default.yaml").read_text()
    kept = re.sub(r"\n {10}inventory:.*\n {12}devo: .*", "", text)
    assert kept != text and "DEMO-CODE" not in kept
    path = tmp_dir / "default-without-preload.yaml"
    path.write_text(kept)
    return str(path)


def s3_client(url: str, secret: str = SECRET, **config: Any) -> Any:
    cfg = Config(
        s3={"addressing_style": "path"},
        retries={"total_max_attempts": 1},
        connect_timeout=5,
        read_timeout=60,
        **config,
    )
    return boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id=KEY,
        aws_secret_access_key=secret,
        region_name="us-east-1",
        config=cfg,
    )


def file_name(kind: str = "new", client: str = "clientname") -> str:
    """A fresh, valid file name (a distinct UTC minute each call)."""
    n = next(_stamps)
    return f"{client}_{kind}_codes_202605{1 + n // 1440:02d}_{(n % 1440) // 60:02d}{n % 60:02d}.csv"


def wait_report(s3: Any, key: str, bucket: str = DEVO, timeout: float = 30.0) -> dict[str, Any]:
    """Poll (bounded) for the JSON report of an upload, read back with the client's own keys."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            body = s3.get_object(Bucket=bucket, Key=f"processing-results/{key}.json")["Body"].read()
            return dict(json.loads(body))
        except ClientError as err:
            if err.response["Error"]["Code"] != "NoSuchKey" or time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def errors_csv(s3: Any, key: str, bucket: str = DEVO) -> list[list[str]]:
    import csv
    import io

    body = s3.get_object(Bucket=bucket, Key=f"processing-results/{key}.errors.csv")["Body"].read()
    return list(csv.reader(io.StringIO(body.decode())))


def upload(
    s3: Any, body: bytes, kind: str = "new", name: str | None = None, prefix: str | None = None
) -> str:
    key = (prefix or (NEW if kind == "new" else REDEEMED)) + (name or file_name(kind))
    s3.put_object(Bucket=DEVO, Key=key, Body=body)
    return key


def error_code(err: ClientError) -> tuple[str, str]:
    return err.response["Error"]["Code"], err.response["Error"].get("Message", "")

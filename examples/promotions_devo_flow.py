"""Example partner client for scenarios/promotions-devo-flow.yaml: the Devo flow with boto3.

Uses only what `mocksrv run` exports (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...), so the same
script runs unchanged against any S3 endpoint. Exits 1 if a processing report is not as expected.

    mocksrv run --scenario scenarios/promotions-devo-flow.yaml -- python examples/promotions_devo_flow.py
    python examples/promotions_devo_flow.py --skip-redeemed   # leaves an expectation unmet
"""

from __future__ import annotations

import json
import os
import sys
import time

import boto3
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

BUCKET = "partner-promotions-devo"
PARTS = (
    "clientname=clientname/marketplace=US/offertype=student-promo-deal/promotionid=PROMO-DEVO-1/"
)
s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}))  # endpoint from env


def upload(kind: str, stamp: str, body: bytes) -> str:
    key = f"{kind}-promo-codes/{PARTS}clientname_{kind}_codes_{stamp}.csv"
    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    return key


def report(key: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        try:
            obj = s3.get_object(Bucket=BUCKET, Key=f"processing-results/{key}.json")
            return dict(json.loads(obj["Body"].read()))
        except ClientError as err:
            if err.response["Error"]["Code"] != "NoSuchKey" or time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def check(what: str, ok: bool, detail: object) -> None:
    print(f"{'ok ' if ok else 'BAD'} {what}: {detail}")
    if not ok:
        sys.exit(1)


def main(argv: list[str]) -> int:
    codes = [f"DEVO-{i:03d}" for i in range(6)]
    good = report(upload("new", "20260516_1200", "".join(f"{c},new\n" for c in codes).encode()))
    check("good file accepted", good["status"] == "ACCEPTED", good["rows"])
    bom = report(upload("new", "20260516_1201", b"\xef\xbb\xbfDEVO-100,new\n"))
    check("file with a BOM rejected", bom["status"] == "REJECTED", bom.get("fileErrors"))
    rows = report(upload("new", "20260516_1202", b"DEVO-200,new\nDEVO-200,new\nDEVO-201,used\n"))
    check("bad rows rejected, the rest kept", rows["rows"]["rejected"] == 2, rows["rows"])
    landing = f"{os.environ['AWS_ENDPOINT_URL']}/promotions/PROMO-DEVO-1/landing"
    claim = requests.get(landing, params={"member": "member-1"}, timeout=5).json()
    check("member got a code", claim["code"] in codes, claim["url"])
    if "--skip-redeemed" not in argv:
        done = report(upload("redeemed", "20260516_1300", f"{claim['code']},redeemed\n".encode()))
        check("redeemed diff accepted", done["status"] == "ACCEPTED", done["inventory"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

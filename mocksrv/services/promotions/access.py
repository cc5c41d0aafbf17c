"""S3 request classification (operation, IAM action, resource) and each client's IAM policy."""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

from mocksrv.services.promotions.config import (
    NEW_PREFIX,
    REDEEMED_PREFIX,
    RESULTS_PREFIX,
    Client,
    PromotionsConfig,
)

_AWS_PATH_STYLE = re.compile(r"^s3([.-](dualstack|fips))?([.-][a-z0-9-]+)?\.amazonaws\.com$")


@dataclass(frozen=True)
class S3Target:
    """What an S3 request addresses and which IAM action it needs."""

    bucket: str
    key: str
    operation: str
    action: str
    prefix: str | None = None  # s3:prefix of a listing

    @property
    def resource(self) -> str:
        if not self.bucket:
            return "*"
        return (
            f"arn:aws:s3:::{self.bucket}/{self.key}" if self.key else f"arn:aws:s3:::{self.bucket}"
        )


def split_target(host: str, raw_path: str) -> tuple[str, str]:
    """(bucket, key) as moto will see them: virtual-host style unless the host is an IP, has no
    dot, is `localhost...`, or is an AWS path-style endpoint."""
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    name = name.strip("[]").lower()
    path = unquote(raw_path)
    if _virtual_host(name):
        return name.split(".", 1)[0], path[1:]
    bucket, _, key = path[1:].partition("/")
    return bucket, key


def _virtual_host(name: str) -> bool:
    if not name or "." not in name or name.startswith("localhost"):
        return False
    try:
        ipaddress.ip_address(name)
        return False
    except ValueError:
        pass
    return not _AWS_PATH_STYLE.match(name)


def classify(method: str, host: str, raw_path: str, query: str, copy_source: str) -> S3Target:
    """The S3 operation and IAM action of a request (the few a promo-code partner uses are exact;
    the rest map to a representative action so that policies still apply)."""
    bucket, key = split_target(host, raw_path)
    q = parse_qs(query, keep_blank_values=True)
    if "X-Amz-" in query:  # a presigned URL's own parameters name no operation
        q = {k: v for k, v in q.items() if not k.startswith("X-Amz-")}
    if not bucket:
        return S3Target("", "", "ListBuckets", "s3:ListAllMyBuckets")
    if not key:
        return _bucket_target(method, bucket, q)
    op, action = _object_op(method, q, copy_source)
    return S3Target(bucket, key, op, action)


def _bucket_target(method: str, bucket: str, q: dict[str, list[str]]) -> S3Target:
    if method in ("GET", "HEAD") and not q.keys() - {"list-type", "prefix", "delimiter",
                                                     "max-keys", "marker", "continuation-token",
                                                     "start-after", "encoding-type",
                                                     "fetch-owner"}:  # fmt: skip
        op = "HeadBucket" if method == "HEAD" else (
            "ListObjectsV2" if q.get("list-type") == ["2"] else "ListObjects"
        )  # fmt: skip
        prefix = q["prefix"][0] if "prefix" in q else None
        return S3Target(bucket, "", op, "s3:ListBucket", prefix)
    if method == "GET" and "uploads" in q:
        return S3Target(bucket, "", "ListMultipartUploads", "s3:ListBucketMultipartUploads")
    if method == "GET" and "location" in q:
        return S3Target(bucket, "", "GetBucketLocation", "s3:GetBucketLocation")
    if method == "GET" and "versions" in q:
        return S3Target(bucket, "", "ListObjectVersions", "s3:ListBucketVersions")
    if method == "POST" and "delete" in q:
        return S3Target(bucket, "", "DeleteObjects", "s3:DeleteObject")
    sub = next(iter(sorted(q)), "")
    verb = {"GET": "GetBucket", "PUT": "PutBucket", "DELETE": "DeleteBucket"}.get(method, method)
    if not sub:
        action = {"PUT": "s3:CreateBucket", "DELETE": "s3:DeleteBucket"}.get(
            method, "s3:ListBucket"
        )
        return S3Target(bucket, "", {"PUT": "CreateBucket"}.get(method, verb), action)
    name = sub.title().replace("-", "")
    return S3Target(bucket, "", f"{verb}{name}", f"s3:{verb}{name}")


def _object_op(method: str, q: dict[str, list[str]], copy_source: str) -> tuple[str, str]:
    if method == "PUT":
        if "partNumber" in q and "uploadId" in q:
            return ("UploadPartCopy" if copy_source else "UploadPart"), "s3:PutObject"
        for sub, op in (("acl", "PutObjectAcl"), ("tagging", "PutObjectTagging")):
            if sub in q:
                return op, f"s3:{op}"
        return ("CopyObject" if copy_source else "PutObject"), "s3:PutObject"
    if method == "POST":
        if "uploads" in q:
            return "CreateMultipartUpload", "s3:PutObject"
        if "uploadId" in q:
            return "CompleteMultipartUpload", "s3:PutObject"
        return "PostObject", "s3:PutObject"
    if method == "DELETE":
        if "uploadId" in q:
            return "AbortMultipartUpload", "s3:AbortMultipartUpload"
        return "DeleteObject", "s3:DeleteObject"
    if "uploadId" in q:
        return "ListParts", "s3:ListMultipartUploadParts"
    for sub, op in (("acl", "GetObjectAcl"), ("tagging", "GetObjectTagging")):
        if sub in q:
            return op, f"s3:{op}"
    if "attributes" in q:
        return "GetObjectAttributes", "s3:GetObject"
    return ("HeadObject" if method == "HEAD" else "GetObject"), "s3:GetObject"


def client_policy(client: Client, cfg: PromotionsConfig) -> dict[str, Any]:
    """The IAM policy the guide describes, for one client, as a real IAM policy document."""
    envs = ["devo"] + (["prod"] if client.prod_enabled else [])
    buckets = [cfg.buckets[e] for e in envs if e in cfg.buckets]
    own = [f"{kind}clientname={client.name}/" for kind in (NEW_PREFIX, REDEEMED_PREFIX)]
    results = [f"{RESULTS_PREFIX}{p}" for p in own]
    list_prefixes = [p + s for p in own + results for s in ("", "*")]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ListOwnPrefixes",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": [f"arn:aws:s3:::{b}" for b in buckets],
                "Condition": {"StringLike": {"s3:prefix": list_prefixes}},
            },
            {
                "Sid": "UploadOwnPrefixes",
                "Effect": "Allow",
                "Action": [
                    "s3:PutObject",
                    "s3:AbortMultipartUpload",
                    "s3:ListMultipartUploadParts",
                ],
                "Resource": [f"arn:aws:s3:::{b}/{p}*" for b in buckets for p in own],
            },
            {
                "Sid": "ReadOwnReports",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": [f"arn:aws:s3:::{b}/{p}*" for b in buckets for p in results],
            },
        ],
    }


def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(
        "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    )


def _glob_list(value: Any) -> list[re.Pattern[str]]:
    return [_glob(v) for v in ([value] if isinstance(value, str) else value)]


@dataclass(frozen=True)
class _Statement:
    allow: bool
    actions: list[re.Pattern[str]]
    resources: list[re.Pattern[str]]
    prefix_like: list[re.Pattern[str]] | None


class CompiledPolicy:
    """An IAM policy compiled once at load; evaluates Allow/Deny with Action/Resource globs and
    `StringLike`/`StringEquals` on `s3:prefix` (moto's own evaluator ignores these conditions)."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self._statements = [self._compile(s) for s in document["Statement"]]

    @staticmethod
    def _compile(s: dict[str, Any]) -> _Statement:
        cond = s.get("Condition") or {}
        like = (cond.get("StringLike") or {}).get("s3:prefix")
        equals = (cond.get("StringEquals") or {}).get("s3:prefix")
        prefix = _glob_list(like) if like is not None else None
        if equals is not None:
            prefix = [
                re.compile(re.escape(v)) for v in ([equals] if isinstance(equals, str) else equals)
            ]
        return _Statement(
            allow=s["Effect"] == "Allow",
            actions=_glob_list(s["Action"]),
            resources=_glob_list(s["Resource"]),
            prefix_like=prefix,
        )

    def allows(self, action: str, resource: str, prefix: str | None = None) -> bool:
        allowed = False
        for st in self._statements:
            if not any(p.fullmatch(action) for p in st.actions):
                continue
            if not any(p.fullmatch(resource) for p in st.resources):
                continue
            if st.prefix_like is not None and (
                not prefix or not any(p.fullmatch(prefix) for p in st.prefix_like)
            ):
                continue
            if not st.allow:
                return False
            allowed = True
        return allowed

    def to_json(self) -> str:
        return json.dumps(self.document, indent=2)

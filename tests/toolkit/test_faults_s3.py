"""Faults on the S3 side of Partner Promotions, seen by a boto3 client."""

from __future__ import annotations

import botocore.exceptions
import pytest

BUCKET = "partner-promotions-devo"
PREFIX = (
    "new-promo-codes/clientname=clientname/marketplace=US/offertype=student-promo-deal/"
    "promotionid=PROMO-0001/"
)
KEY = PREFIX + "clientname_new_codes_20260516_1200.csv"


def test_throttled_upload_is_slow_down(mocksrv, mocksrv_s3):
    mocksrv.fault(match={"api": "s3", "operation": "PutObject"}, throttle=True, times=1)
    with pytest.raises(botocore.exceptions.ClientError) as info:
        mocksrv_s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"CODE-1,new\n")
    assert info.value.response["Error"]["Code"] == "SlowDown"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    mocksrv_s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"CODE-1,new\n")


def test_s3_error_by_name(mocksrv, mocksrv_s3):
    mocksrv.fault(match={"api": "s3", "operation": "ListObjectsV2"}, error="InternalError")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        mocksrv_s3.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX)
    assert info.value.response["Error"]["Code"] == "InternalError"


def test_commit_then_fail_upload_is_stored(mocksrv, mocksrv_s3):
    mocksrv.fault(match={"api": "s3", "operation": "PutObject"}, commit_then_fail=True, times=1)
    with pytest.raises(botocore.exceptions.ConnectionClosedError):
        mocksrv_s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"CODE-1,new\n")
    listed = mocksrv_s3.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX)
    assert [o["Key"] for o in listed["Contents"]] == [KEY]


def test_unknown_s3_error_is_refused(mocksrv):
    with pytest.raises(AssertionError, match="'NoSuchThing' is not a promotions wire error"):
        mocksrv.fault(match={"api": "s3"}, error="NoSuchThing")

"""The request id on S3's answers: S3 names it `x-amz-request-id`, on successes and errors alike,
and sends none of the headers moto adds of its own (`x-amzn-RequestId`, a `status` header). Seen
on the wire with plain `requests` and as boto3 reads it."""

from __future__ import annotations

import uuid

import pytest
import requests
from botocore.exceptions import ClientError

from tests.support.cli import Serve
from tests.support.promotions import DEVO, NEW, file_name, s3_client


@pytest.fixture(scope="module")
def server():
    srv = Serve()
    yield srv
    srv.stop()


def _request_id(headers: dict[str, str]) -> str:
    names = {k.lower() for k in headers}
    assert "x-amzn-requestid" not in names and "status" not in names, headers
    rid = headers["x-amz-request-id"]
    uuid.UUID(rid)
    return rid


def test_every_s3_answer_names_its_request_id_as_s3_does(server):
    s3 = s3_client(server.url)
    key = NEW + file_name()
    answers = [
        s3.put_object(Bucket=DEVO, Key=key, Body=b"F1,new\n"),
        s3.list_objects_v2(Bucket=DEVO, Prefix=NEW),
        s3.put_object(Bucket=DEVO, Key=NEW + file_name(), Body=b"F2,new\n"),
    ]
    seen = set()
    for answer in answers:
        meta = answer["ResponseMetadata"]
        rid = _request_id(meta["HTTPHeaders"])
        assert meta["RequestId"] == rid
        seen.add(rid)
    assert len(seen) == len(answers)
    with pytest.raises(ClientError) as refused:  # the partner may not read its uploads back
        s3.get_object(Bucket=DEVO, Key=key)
    meta = refused.value.response["ResponseMetadata"]
    assert _request_id(meta["HTTPHeaders"]) == meta["RequestId"]


def test_an_anonymous_request_is_refused_with_the_id_in_header_and_body(server):
    r = requests.get(server.url + "/anything", timeout=10)
    assert r.status_code == 403
    rid = _request_id(dict(r.headers))
    assert f"<RequestId>{rid}</RequestId>" in r.text
    journal = requests.get(f"{server.url}/__admin/journal/{rid}", timeout=10)
    assert journal.status_code == 200, journal.text

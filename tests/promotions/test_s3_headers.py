"""The request ids on S3's answers: S3 names its request id `x-amz-request-id` and its extended
id `x-amz-id-2`, on successes and errors alike, and an error's XML names the same two
(`<RequestId>`, `<HostId>`); none of the headers moto adds of its own (`x-amzn-RequestId`, a
`status` header, `Access-Control-Allow-Origin`). Seen on the wire with plain `requests` and as
boto3 reads it."""

from __future__ import annotations

import base64
import re
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
    assert not names & {"x-amzn-requestid", "status", "access-control-allow-origin"}, headers
    rid = headers["x-amz-request-id"]
    uuid.UUID(rid)
    host = headers["x-amz-id-2"]  # 76 base64 characters, as S3's
    assert len(host) == 76 and len(base64.b64decode(host, validate=True)) == 56, host
    return rid


def _error_ids(body: bytes) -> tuple[str, str]:
    found = re.search(rb"<RequestId>([^<]*)</RequestId><HostId>([^<]*)</HostId></Error>$", body)
    assert found is not None, body
    return found.group(1).decode(), found.group(2).decode()


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
        assert meta["HostId"] == meta["HTTPHeaders"]["x-amz-id-2"]
        seen.add(meta["HostId"])
    assert len(seen) == len(answers)
    bodies: list[bytes] = []
    s3.meta.events.register("after-call", lambda http_response, **_: bodies.append(
        http_response.content))  # fmt: skip
    missing = "processing-results/" + NEW + "never-uploaded.json"  # may be read: NoSuchKey
    for reading in (key, missing):  # the partner may not read its uploads back: AccessDenied
        with pytest.raises(ClientError) as refused:
            s3.get_object(Bucket=DEVO, Key=reading)
        meta = refused.value.response["ResponseMetadata"]
        assert _request_id(meta["HTTPHeaders"]) == meta["RequestId"]
        assert meta["HostId"] == meta["HTTPHeaders"]["x-amz-id-2"]
        assert _error_ids(bodies[-1]) == (meta["RequestId"], meta["HostId"])
        assert int(meta["HTTPHeaders"]["content-length"]) == len(bodies[-1])
    assert refused.value.response["Error"]["Code"] == "NoSuchKey"


def test_an_anonymous_request_is_refused_with_the_id_in_header_and_body(server):
    r = requests.get(server.url + "/anything", timeout=10)
    assert r.status_code == 403
    rid = _request_id(dict(r.headers))
    assert _error_ids(r.content) == (rid, r.headers["x-amz-id-2"])
    journal = requests.get(f"{server.url}/__admin/journal/{rid}", timeout=10)
    assert journal.status_code == 200, journal.text


def test_an_empty_answer_to_a_write_has_no_content_type(server):
    """S3 labels no empty answer (PutObject, UploadPart, AbortMultipartUpload); moto labels them
    text/html. An answer with a body keeps its type."""
    s3 = s3_client(server.url)
    put = s3.put_object(Bucket=DEVO, Key=NEW + file_name(), Body=b"E1,new\n")
    key = NEW + file_name()
    started = s3.create_multipart_upload(Bucket=DEVO, Key=key)
    part = s3.upload_part(
        Bucket=DEVO, Key=key, UploadId=started["UploadId"], PartNumber=1, Body=b"E2,new\n"
    )
    aborted = s3.abort_multipart_upload(Bucket=DEVO, Key=key, UploadId=started["UploadId"])
    for answer in (put, part, aborted):
        headers = answer["ResponseMetadata"]["HTTPHeaders"]
        assert "content-type" not in headers and headers["content-length"] == "0", headers
    assert started["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/xml"

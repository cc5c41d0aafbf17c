"""Partner Promotions over S3: the happy path, scoped access, signatures, multipart, the aws CLI."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
import uuid
from urllib.parse import quote

import pytest
import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from mocksrv.server import ServerThread
from tests.support.promotions import (
    DEVO,
    KEY,
    NEW,
    PROD,
    REDEEMED,
    SECRET,
    error_code,
    errors_csv,
    file_name,
    s3_client,
    upload,
    wait_report,
    without_preload,
)
from tests.support.signing import Signer


@pytest.fixture(scope="module")
def server(module_server_factory):
    return module_server_factory()


@pytest.fixture(scope="module")
def s3(server: ServerThread):  # type: ignore[no-untyped-def]
    return s3_client(server.url)


def landing(server: ServerThread, member: str, **params: str) -> requests.Response:
    url = f"{server.url}/promotions/PROMO-0001/landing"
    return requests.get(url, params={"member": member, **params}, timeout=10, allow_redirects=False)


def test_happy_path_upload_claim_redeem(server_factory, tmp_path):
    server = server_factory([without_preload(tmp_path)])
    s3 = s3_client(server.url)
    codes = [f"HAPPY-{i:03d}" for i in range(5)]
    key = upload(s3, "".join(f"{c},new\r\n" for c in codes).encode())
    report = wait_report(s3, key)
    assert report["status"] == "ACCEPTED", report
    assert report["rows"] == {"total": 5, "accepted": 5, "rejected": 0}
    assert report["errorsFile"] is None
    before = report["inventory"]
    assert before == {"available": 5, "assigned": 0, "redeemed": 0}

    first = landing(server, "member-happy")
    assert first.status_code == 200, first.text
    claim = first.json()
    assert claim["code"] == codes[0]
    assert claim["url"] == f"https://partner.example.com/prime?code={codes[0]}"
    assert claim["newlyAssigned"] is True
    again = landing(server, "member-happy").json()
    assert (again["code"], again["newlyAssigned"]) == (codes[0], False)

    key = upload(s3, f"{codes[0]}\u002credeemed\n{codes[3]},redeemed\n".encode(), kind="redeemed")
    report = wait_report(s3, key)
    assert report["status"] == "ACCEPTED", report
    # codes[0] was assigned to the member, codes[3] still available: both are now redeemed
    assert report["inventory"] == {"available": 3, "assigned": 0, "redeemed": 2}
    after = report["inventory"]
    snap = server.app.runtime.stores["promotions"].snapshot()
    devo = next(p for p in snap["inventory"] if p["environment"] == "devo")
    assert devo["redeemed"] == after["redeemed"]
    assert any(r["key"] == key for r in snap["reports"])


def test_landing_redirect_and_errors(server, s3):
    r = landing(server, "")
    assert r.status_code == 400
    assert r.json()["error"] == {
        "code": "BadRequest",
        "message": "Query parameter 'member' is required: 1-128 printable characters",
    }
    r = requests.get(f"{server.url}/promotions/NOPE/landing?member=m", timeout=10)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "PromotionNotFound"
    r = landing(server, "m-prod", environment="prod")
    assert r.status_code == 409
    assert r.json()["error"] == {
        "code": "NoCodeAvailable",
        "message": "Promotion PROMO-0001 has no available codes in prod",
    }


def test_landing_redirects_to_partner_url(server, s3):
    key = upload(s3, b"REDIRECT-1,new\n")
    wait_report(s3, key)
    r = landing(server, f"member-{uuid.uuid4()}", redirect="1")
    assert r.status_code == 302
    assert r.headers["Location"].startswith("https://partner.example.com/prime?code=")


def test_write_outside_own_prefix_is_access_denied(s3):
    for key in (
        "other/clientname_new_codes_20260515_1400.csv",
        "new-promo-codes/clientname=someoneelse/x.csv",
        "processing-results/" + NEW + "forged.json",
    ):
        with pytest.raises(ClientError) as info:
            s3.put_object(Bucket=DEVO, Key=key, Body=b"A,new\n")
        assert error_code(info.value) == ("AccessDenied", "Access Denied")


def test_prod_is_access_denied_until_enabled(s3):
    with pytest.raises(ClientError) as info:
        s3.put_object(Bucket=PROD, Key=NEW + file_name(), Body=b"A,new\n")
    assert error_code(info.value) == ("AccessDenied", "Access Denied")


def test_list_needs_own_prefix(s3):
    with pytest.raises(ClientError) as info:
        s3.list_objects_v2(Bucket=DEVO)
    assert error_code(info.value) == ("AccessDenied", "Access Denied")
    key = upload(s3, b"LIST-1,new\n")
    wait_report(s3, key)
    listed = s3.list_objects_v2(Bucket=DEVO, Prefix=NEW)
    assert key in [o["Key"] for o in listed["Contents"]]


def test_uploads_themselves_are_not_readable(s3):
    key = upload(s3, b"READ-1,new\n")
    wait_report(s3, key)
    with pytest.raises(ClientError) as info:
        s3.get_object(Bucket=DEVO, Key=key)
    assert error_code(info.value) == ("AccessDenied", "Access Denied")


def test_wrong_secret_is_signature_does_not_match(server):
    bad = s3_client(server.url, secret="NotTheSecret000000000000000000000000000")
    with pytest.raises(ClientError) as info:
        bad.put_object(Bucket=DEVO, Key=NEW + file_name(), Body=b"A,new\n")
    code, message = error_code(info.value)
    assert code == "SignatureDoesNotMatch"
    assert message.startswith("The request signature we calculated does not match")


def test_unknown_key_is_invalid_access_key_id(server):
    import boto3

    other = boto3.client(
        "s3", endpoint_url=server.url, aws_access_key_id="AKIAUNKNOWN000000000",
        aws_secret_access_key=SECRET, region_name="us-east-1",
    )  # fmt: skip
    with pytest.raises(ClientError) as info:
        other.list_objects_v2(Bucket=DEVO, Prefix=NEW)
    assert error_code(info.value) == (
        "InvalidAccessKeyId",
        "The AWS Access Key Id you provided does not exist in our records.",
    )


def test_unsigned_request_is_access_denied(server):
    r = requests.get(f"{server.url}/{DEVO}?list-type=2&prefix={NEW}", timeout=10)
    assert r.status_code == 403
    assert b"<Code>AccessDenied</Code><Message>Access Denied</Message>" in r.content


def test_wrong_region_is_authorization_header_malformed(server, s3):
    """boto3 recovers from this on its own (it re-signs for the <Region> named in the error),
    so the first answer is checked with a raw request signed by botocore for eu-west-1."""
    url = f"{server.url}/{DEVO}?list-type=2&prefix=new-promo-codes%2Fclientname%3Dclientname%2F"
    r = Signer(KEY, SECRET, "s3", "eu-west-1").send("GET", url)
    assert r.status_code == 400, r.text
    assert b"<Code>AuthorizationHeaderMalformed</Code>" in r.content
    assert (
        b"<Message>The authorization header is malformed; the region 'eu-west-1' is wrong; "
        b"expecting 'us-east-1'</Message><Region>us-east-1</Region>" in r.content
    )
    s3.list_objects_v2(Bucket=DEVO, Prefix=NEW)  # same request, right region: allowed


def test_virtual_host_style_put(server, s3):
    """`Host: <bucket>.localhost:<port>`, signed by botocore's S3 signer, sent to 127.0.0.1."""
    key = NEW + file_name()
    host = f"{DEVO}.localhost:{server.port}"
    body = b"VHOST-1,new\n"
    path = "/" + quote(key, safe="/~")  # as botocore's S3 serializer encodes a key
    req = AWSRequest(method="PUT", url=f"http://{host}{path}", data=body)
    req.headers["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
    S3SigV4Auth(Credentials(KEY, SECRET), "s3", "us-east-1").add_auth(req)
    headers = dict(req.headers.items())
    headers["Host"] = host
    r = requests.put(f"{server.url}{path}", data=body, headers=headers, timeout=10)
    # the URL path is the key only: moto and mocksrv take the bucket from the Host header
    assert r.status_code == 200, r.text
    assert wait_report(s3, key)["status"] == "ACCEPTED"


def test_presigned_get_of_report(server, s3):
    key = upload(s3, b"PRESIGN-1,new\n")
    wait_report(s3, key)
    v2 = s3.generate_presigned_url(
        "get_object", Params={"Bucket": DEVO, "Key": f"processing-results/{key}.json"}, ExpiresIn=60
    )
    r = requests.get(v2, timeout=10)
    assert r.status_code == 400
    assert (
        b"<Code>InvalidRequest</Code><Message>The authorization mechanism you have provided is not "
        b"supported. Please use AWS4-HMAC-SHA256.</Message>" in r.content
    )
    url = s3_client(server.url, signature_version="s3v4").generate_presigned_url(
        "get_object", Params={"Bucket": DEVO, "Key": f"processing-results/{key}.json"}, ExpiresIn=60
    )
    r = requests.get(url, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["key"] == key
    r = requests.get(url.replace("X-Amz-Signature=", "X-Amz-Signature=0"), timeout=10)
    assert r.status_code == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in r.content


def test_multipart_upload_of_large_file_is_processed(tmp_path, server, s3):
    from boto3.s3.transfer import TransferConfig

    path = tmp_path / "big.csv"
    rows = 400_000
    with path.open("w") as f:
        for i in range(rows):
            f.write(f"MP-{i:08d},new\n")
    assert path.stat().st_size > 5 * 1024 * 1024
    key = NEW + file_name()
    cfg = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
    s3.upload_file(str(path), DEVO, key, Config=cfg)
    report = wait_report(s3, key, timeout=60)
    assert report["status"] == "ACCEPTED", report
    assert report["rows"] == {"total": rows, "accepted": rows, "rejected": 0}
    latest = server.app.runtime.stores["promotions"].snapshot()["reports"][-1]
    assert latest["key"] == key  # the admin view holds the same report


def test_aws_cli_cp_and_report(tmp_path, server, s3):
    name = file_name()
    path = tmp_path / name
    path.write_bytes(b"CLI-001,new\nCLI-002,new\n")
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": server.url,
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }
    dest = f"s3://{DEVO}/{NEW}"
    cmd = ["aws", "s3", "cp", str(path), dest]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = wait_report(s3, NEW + name)
    assert report["rows"]["accepted"] == 2
    ls = subprocess.run(
        ["aws", "s3", "ls", dest], env=env, capture_output=True, text=True, timeout=120
    )
    assert ls.returncode == 0, ls.stderr
    assert name in ls.stdout
    denied = subprocess.run(
        ["aws", "s3", "cp", str(path), f"s3://{PROD}/{NEW}"], env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert denied.returncode != 0
    assert "AccessDenied" in denied.stderr, denied.stderr


def test_redeemed_prefix_report(s3):
    key = upload(s3, b"NEVER-ISSUED,redeemed\n", kind="redeemed")
    report = wait_report(s3, key)
    assert report["kind"] == "redeemed" and report["status"] == "REJECTED"
    rows = errors_csv(s3, key)
    assert rows[1][:3] == ["1", "unknown_code", "promo code was never uploaded to this promotion"]
    assert key.startswith(REDEEMED)


def test_tampered_body_is_content_sha256_mismatch(server):
    key = NEW + file_name()
    url = f"{server.url}/{DEVO}/{quote(key, safe='/~')}"
    signed_body = b"TAMPER-1,new\n"
    req = AWSRequest(method="PUT", url=url, data=signed_body)
    req.headers["x-amz-content-sha256"] = hashlib.sha256(signed_body).hexdigest()
    S3SigV4Auth(Credentials(KEY, SECRET), "s3", "us-east-1").add_auth(req)
    r = requests.put(url, data=b"TAMPER-2,new\n", headers=dict(req.headers.items()), timeout=10)
    assert r.status_code == 400, r.text
    assert (
        b"<Code>XAmzContentSHA256Mismatch</Code><Message>The provided 'x-amz-content-sha256' "
        b"header does not match what was computed.</Message>" in r.content
    )


def test_clock_skew_is_request_time_too_skewed(server):
    import datetime as dt

    url = f"{server.url}/{DEVO}?list-type=2&prefix=new-promo-codes%2Fclientname%3Dclientname%2F"
    at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=16)
    r = Signer(KEY, SECRET, "s3", "us-east-1").send("GET", url, at=at)
    assert r.status_code == 403, r.text
    assert (
        b"<Code>RequestTimeTooSkewed</Code><Message>The difference between the request time and "
        b"the current time is too large.</Message>" in r.content
    )
    assert b"<MaxAllowedSkewMilliseconds>900000</MaxAllowedSkewMilliseconds>" in r.content


def test_other_api_identity_is_an_unknown_key(server):
    """A Prime partner's valid keys, correctly signed for S3: an identity signs for its own API
    only, so S3 does not know the key (docs/sts.md)."""
    url = f"{server.url}/{DEVO}/{quote(NEW + file_name(), safe='/~')}"
    body = b"A,new\n"
    req = AWSRequest(method="PUT", url=url, data=body)
    req.headers["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
    creds = Credentials("AKIAMOCKSRVPRIME0001", "MockSrvPrimeDemoSecretKey000000000000001")
    S3SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    r = requests.put(url, data=body, headers=dict(req.headers.items()), timeout=10)
    assert r.status_code == 403
    assert (
        b"<Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id you provided does not "
        b"exist in our records.</Message><AWSAccessKeyId>AKIAMOCKSRVPRIME0001</AWSAccessKeyId>"
    ) in r.content


def test_head_object_of_report_has_its_length(s3):
    key = upload(s3, b"HEAD-1,new\n")
    wait_report(s3, key)
    report_key = f"processing-results/{key}.json"
    body = s3.get_object(Bucket=DEVO, Key=report_key)["Body"].read()
    head = s3.head_object(Bucket=DEVO, Key=report_key)
    assert head["ContentLength"] == len(body) > 0
    assert head["ContentType"] == "application/json"


def test_copy_into_own_prefix_needs_read_access_to_the_source(s3):
    key = upload(s3, b"COPY-1,new\n")
    wait_report(s3, key)
    with pytest.raises(ClientError) as info:  # uploads are not readable, so not copyable
        s3.copy_object(Bucket=DEVO, Key=NEW + file_name(), CopySource={"Bucket": DEVO, "Key": key})
    assert error_code(info.value) == ("AccessDenied", "Access Denied")


def test_keys_with_percent_and_unicode_keep_their_exact_name(s3):
    for name in ("%41.csv", "clientname_new_codes_20260515_1400 é+ü.csv"):
        key = upload(s3, b"PCT-1,new\n", name=name)
        listed = [o["Key"] for o in s3.list_objects_v2(Bucket=DEVO, Prefix=NEW)["Contents"]]
        assert key in listed
        report = wait_report(s3, key)
        assert report["key"] == key
        assert [e["reason"] for e in report["fileErrors"]] == ["file_name"]


def test_sigv4_debug_returns_canonical_request(server_factory):
    server = server_factory(sigv4_debug=True)
    bad = s3_client(server.url, secret="NotTheSecret000000000000000000000000000")
    with pytest.raises(ClientError) as info:
        bad.list_objects_v2(Bucket=DEVO, Prefix=NEW)
    error = info.value.response["Error"]
    assert error["Code"] == "SignatureDoesNotMatch"
    assert error["CanonicalRequest"].startswith("GET\n/partner-promotions-devo\n")
    assert error["StringToSign"].startswith("AWS4-HMAC-SHA256\n")


def test_concurrent_members_get_distinct_codes(server_factory, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    server = server_factory([without_preload(tmp_path)])
    s3 = s3_client(server.url)
    codes = {f"CONC-{i:03d}" for i in range(30)}
    wait_report(s3, upload(s3, "".join(f"{c},new\n" for c in sorted(codes)).encode()))

    def claim(i: int) -> str:
        r = requests.get(
            f"{server.url}/promotions/PROMO-0001/landing", params={"member": f"m{i}"}, timeout=10
        )
        assert r.status_code == 200, r.text
        return str(r.json()["code"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(claim, range(30)))
    assert sorted(got) == sorted(codes)  # every member a different code, none lost
    r = requests.get(f"{server.url}/promotions/PROMO-0001/landing?member=late", timeout=10)
    assert r.status_code == 409
    snap = server.app.runtime.stores["promotions"].snapshot()
    devo = next(p for p in snap["inventory"] if p["environment"] == "devo")
    assert (devo["available"], devo["assigned"], devo["members"]) == (0, 30, 30)


def test_reset_drops_the_old_s3_world(server_factory):
    server = server_factory()
    s3 = s3_client(server.url)
    key = upload(s3, b"RESET-1,new\n")
    wait_report(s3, key)
    r = requests.post(f"{server.url}/__admin/reset", json={}, timeout=30)
    assert r.status_code == 200, r.text
    assert s3.list_objects_v2(Bucket=DEVO, Prefix=NEW)["KeyCount"] == 0
    key = upload(s3, b"RESET-1,new\n")  # the code is new again after the reset
    assert wait_report(s3, key)["rows"]["accepted"] == 1


def test_expired_presigned_url_is_access_denied(server, s3):
    key = upload(s3, b"EXPIRE-1,new\n")
    wait_report(s3, key)
    url = s3_client(server.url, signature_version="s3v4").generate_presigned_url(
        "get_object", Params={"Bucket": DEVO, "Key": f"processing-results/{key}.json"}, ExpiresIn=1
    )
    time.sleep(2.1)
    r = requests.get(url, timeout=10)
    assert r.status_code == 403
    assert b"<Code>AccessDenied</Code><Message>Request has expired</Message>" in r.content
    assert b"<X-Amz-Expires>1</X-Amz-Expires>" in r.content

"""Client recipes of docs/promotions.md, run as printed: the aws CLI with a role, and boto3."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

import boto3
import pytest
import requests
from botocore.config import Config

from tests.support.promotions import DEVO, KEY, SECRET, s3_client, wait_report
from tests.support.recipes import (
    PREFIX,
    codes_file,
    recipe,
    require,
    run,
    run_ok,
    tool_env,
    write,
)

ROLE_ARN = "arn:aws:sts::111122223333:assumed-role/clientname-PromoCodesUpload-Role/"
SIGV2_REFUSED = (
    "<Code>InvalidRequest</Code><Message>The authorization mechanism you have provided is not "
    "supported. Please use AWS4-HMAC-SHA256.</Message>"
)


@pytest.fixture(scope="module")
def server(module_server_factory):
    return module_server_factory()  # the embedded default scenario


@pytest.fixture
def home(tmp_path, server):
    """A HOME with the recipe's ~/.aws/config and ~/.aws/credentials."""
    require("aws")
    write(tmp_path / ".aws" / "config", recipe("aws-config", server.url))
    write(tmp_path / ".aws" / "credentials", recipe("aws-credentials", server.url))
    return tmp_path


def cli_lines(server) -> list[str]:
    lines = [line for line in recipe("aws-cli", server.url).splitlines() if line.strip()]
    assert len(lines) == 5 and all(line.startswith("aws --profile partner ") for line in lines)
    return lines


def test_aws_cli_role_profile_recipe(server, home):
    env = tool_env(home)
    who, cp, sync, ls, presign = cli_lines(server)
    assert json.loads(run_ok(who, home, env))["Arn"].startswith(ROLE_ARN)
    codes_file(home / "clientname_new_codes_20260515_1200.csv", "CLI")
    codes_file(home / "outbox" / "clientname_new_codes_20260515_1201.csv", "SYNC")
    assert "upload:" in run_ok(cp, home, env)
    assert "clientname_new_codes_20260515_1201.csv" in run_ok(sync, home, env)
    reader = s3_client(server.url)
    for name in (
        "clientname_new_codes_20260515_1200.csv",
        "clientname_new_codes_20260515_1201.csv",
    ):
        assert wait_report(reader, PREFIX + name)["status"] == "ACCEPTED"
    listing = run_ok(ls, home, env)
    assert "clientname_new_codes_20260515_1200.csv.json" in listing
    url = run_ok(presign, home, env).strip()
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url and "X-Amz-Security-Token=" in url
    report = requests.get(url, timeout=10)
    assert report.status_code == 200 and report.json()["rows"]["accepted"] == 2
    journal = requests.get(f"{server.url}/__admin/journal", params={"operation": "PutObject"},
                           timeout=5).json()  # fmt: skip
    entries = journal if isinstance(journal, list) else journal["entries"]
    assert any(e["identity"].startswith(ROLE_ARN) for e in entries)


def test_aws_cli_role_writes_elsewhere_are_access_denied(server, home):
    env = tool_env(home)
    codes_file(home / "clientname_new_codes_20260515_1202.csv", "ELSE")
    other = "s3://partner-promotions-devo/new-promo-codes/clientname=otherclient/"
    denied = run(f"aws --profile partner s3 cp clientname_new_codes_20260515_1202.csv {other}",
                 home, env)  # fmt: skip
    assert denied.returncode != 0
    assert "An error occurred (AccessDenied) when calling the PutObject operation" in denied.stderr


def test_aws_cli_role_the_user_may_not_assume(server, home):
    config = home / ".aws" / "config"
    config.write_text(config.read_text() + (
        "\n[profile wrongrole]\n"
        "role_arn = arn:aws:iam::111122223333:role/otherclient-PromoCodesUpload-Role\n"
        f"source_profile = base\nregion = us-east-1\nendpoint_url = {server.url}\n"
    ))  # fmt: skip
    done = run("aws --profile wrongrole sts get-caller-identity", home, tool_env(home))
    assert done.returncode != 0
    assert (
        "An error occurred (AccessDenied) when calling the AssumeRole operation: User: "
        "arn:aws:iam::111122223333:user/clientname is not authorized to perform: sts:AssumeRole on "
        "resource: arn:aws:iam::111122223333:role/otherclient-PromoCodesUpload-Role"
    ) in done.stderr, done.stderr
    assert "Unknown" not in done.stderr


def test_aws_cli_session_past_its_expiry_on_the_scenario_clock(home, server_factory):
    srv = server_factory()
    for name in ("aws-config", "aws-credentials"):
        path = home / ".aws" / name.split("-")[1]
        write(path, recipe(name, srv.url))
    env = tool_env(home)
    ls = f"aws --profile partner s3api list-objects-v2 --bucket {DEVO} --prefix {PREFIX}"
    first = run(ls, home, env)  # assumes the role, caches the credentials
    assert first.returncode == 0, first.stderr
    srv.app.runtime.clock.advance(3601)  # the session lasted 3600 s of scenario time
    done = run(ls, home, env)
    assert done.returncode != 0
    assert "An error occurred (ExpiredToken) when calling the ListObjectsV2 operation: " \
           "The provided token has expired." in done.stderr, done.stderr  # fmt: skip


def test_aws_cli_default_presign_is_sigv2_and_refused(server, home):
    key = f"s3://{DEVO}/processing-results/{PREFIX}x.json"
    url = run_ok(f"aws --profile base s3 presign {shlex.quote(key)}", home, tool_env(home)).strip()
    assert "AWSAccessKeyId=" in url and "Signature=" in url and "Expires=" in url
    refused = requests.get(url, timeout=10)
    assert refused.status_code == 400 and SIGV2_REFUSED in refused.text


# --- boto3 -----------------------------------------------------------------------------------


def run_python(code: str, cwd, env) -> str:
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_boto3_assume_role_multipart_upload_and_presigned_get(server, tmp_path):
    name = "clientname_new_codes_20260515_1210.csv"
    rows = 5 * 1024 * 1024 // 16 + 1000  # just over 5 MiB: two parts
    codes_file(tmp_path / name, "MPART", rows)
    url = run_python(recipe("boto3-assume-role", server.url), tmp_path, tool_env(tmp_path)).strip()
    assert "X-Amz-Security-Token=" in url
    report = requests.get(url, timeout=10).json()
    assert report["status"] == "ACCEPTED" and report["rows"]["accepted"] == rows
    journal = requests.get(f"{server.url}/__admin/journal",
                           params={"operation": "CompleteMultipartUpload"}, timeout=5).json()  # fmt: skip
    entries = journal if isinstance(journal, list) else journal["entries"]
    assert any(e["fields"].get("key") == PREFIX + name for e in entries)


def test_boto3_role_via_profile(server, home):
    name = "clientname_new_codes_20260515_1211.csv"
    codes_file(home / name, "PROFILE")
    out = run_python(recipe("boto3-profile", server.url), home, tool_env(home))
    assert out.strip().startswith(ROLE_ARN)
    assert wait_report(s3_client(server.url), PREFIX + name)["status"] == "ACCEPTED"


def test_boto3_default_presigned_url_is_sigv2_and_refused(server):
    s3 = boto3.client("s3", endpoint_url=server.url, region_name="us-east-1",
                      aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                      config=Config(s3={"addressing_style": "path"}))  # fmt: skip
    url = s3.generate_presigned_url("get_object", Params={"Bucket": DEVO, "Key": "x"})
    assert "AWSAccessKeyId=" in url and "Signature=" in url
    refused = requests.get(url, timeout=10)
    assert refused.status_code == 400 and SIGV2_REFUSED in refused.text

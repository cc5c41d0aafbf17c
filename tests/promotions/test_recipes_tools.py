"""Client recipes of docs/promotions.md, run as printed: the JavaScript SDK v3, MinIO's Python
client, rclone and s3cmd, against a prefix-scoped client policy."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from tests.support.promotions import s3_client, wait_report
from tests.support.recipes import (
    PREFIX,
    TOOLS,
    codes_file,
    recipe,
    require,
    require_node_sdk,
    run,
    run_ok,
    tool_env,
    write,
)
from tests.support.sts import ROLE, assume


@pytest.fixture(scope="module")
def server(module_server_factory):
    return module_server_factory()  # the embedded default scenario


def accepted(server, *names: str) -> None:
    reader = s3_client(server.url)
    for name in names:
        assert wait_report(reader, PREFIX + name)["status"] == "ACCEPTED", name


def test_js_sdk_v3_upload_with_a_roles_session(server, tmp_path):
    modules = require_node_sdk()
    shutil.copy(TOOLS / "js-upload.mjs", tmp_path / "js-upload.mjs")
    (tmp_path / "node_modules").symlink_to(modules, target_is_directory=True)
    name = "clientname_new_codes_20260515_1220.csv"
    rows = 6 * 1024 * 1024 // 16  # over 5 MiB: lib-storage uploads it in two parts
    codes_file(tmp_path / name, "JSSDK", rows)
    creds = assume(server.url, role=ROLE)["Credentials"]
    env = tool_env(tmp_path, AWS_ACCESS_KEY_ID=creds["AccessKeyId"],
                   AWS_SECRET_ACCESS_KEY=creds["SecretAccessKey"],
                   AWS_SESSION_TOKEN=creds["SessionToken"])  # fmt: skip
    out = run_ok(recipe("js-run", server.url), tmp_path, env)
    answer = json.loads(out.strip().splitlines()[-1])
    assert answer["uploaded"] == PREFIX + name and PREFIX + name in answer["listed"]
    report = wait_report(s3_client(server.url), PREFIX + name)
    assert report["rows"]["accepted"] == rows


def test_js_recipe_in_the_docs_is_the_tested_script():
    assert recipe("js-upload") == (TOOLS / "js-upload.mjs").read_text()


def test_minio_client_with_the_region(server, tmp_path):
    import minio  # noqa: F401  (a test extra: missing, this fails the test)

    name = "clientname_new_codes_20260515_1230.csv"
    codes_file(tmp_path / name, "MINIO")
    done = subprocess.run([sys.executable, "-c", recipe("minio", server.url)], cwd=tmp_path,
                          env=tool_env(tmp_path), capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert PREFIX + name in done.stdout
    accepted(server, name)


def test_minio_client_without_the_region_is_access_denied_like_real_s3(server, tmp_path):
    code = recipe("minio", server.url).replace(', region="us-east-1"', "")
    assert "region=" not in code
    codes_file(tmp_path / "clientname_new_codes_20260515_1231.csv", "NOREGION")
    code = code.replace("20260515_1230", "20260515_1231")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=tool_env(tmp_path),
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode != 0
    assert "code: AccessDenied" in done.stderr  # its GetBucketLocation, outside the policy


def test_rclone_recipe(server, tmp_path):
    require("rclone")
    write(tmp_path / ".config" / "rclone" / "rclone.conf", recipe("rclone-config", server.url))
    env = tool_env(tmp_path)
    copy, ls = [line for line in recipe("rclone", server.url).splitlines() if line.strip()]
    first = "clientname_new_codes_20260515_1240.csv"
    codes_file(tmp_path / "outbox" / first, "RCLONE")
    run_ok(copy, tmp_path, env)
    accepted(server, first)
    second = "clientname_new_codes_20260515_1241.csv"
    codes_file(tmp_path / "outbox" / second, "RCLONE2")
    run_ok(copy, tmp_path, env)  # the first file is already there: compared by size, no HEAD
    accepted(server, second)
    listing = run_ok(ls, tmp_path, env)
    assert f"{first}.json" in listing and f"{second}.json" in listing


def test_rclone_defaults_fail_on_the_head_like_real_s3(server, tmp_path):
    require("rclone")
    write(tmp_path / ".config" / "rclone" / "rclone.conf", recipe("rclone-config", server.url))
    copy = recipe("rclone", server.url).splitlines()[0]
    plain = copy.replace(" --s3-no-check-bucket --s3-no-head --size-only", "")
    assert plain != copy
    codes_file(tmp_path / "outbox" / "clientname_new_codes_20260515_1242.csv", "RCDEF")
    done = run(plain + " --retries 1 --low-level-retries 1", tmp_path, tool_env(tmp_path))
    assert done.returncode != 0 and "403" in done.stderr  # the HEAD after the upload


def test_s3cmd_recipe(server_factory, tmp_path):
    """On a server of its own: `s3cmd sync` HEADs the multipart uploads of other tools (403)."""
    require("s3cmd")
    server = server_factory()
    write(tmp_path / ".s3cfg", recipe("s3cmd-config", server.url))
    env = tool_env(tmp_path)
    put, sync, ls = [line for line in recipe("s3cmd", server.url).splitlines() if line.strip()]
    codes_file(tmp_path / "clientname_new_codes_20260515_1250.csv", "S3CMD")
    codes_file(tmp_path / "outbox" / "clientname_new_codes_20260515_1251.csv", "S3CMDSYNC")
    run_ok(put, tmp_path, env)
    run_ok(sync, tmp_path, env)
    accepted(
        server, "clientname_new_codes_20260515_1250.csv", "clientname_new_codes_20260515_1251.csv"
    )
    codes_file(tmp_path / "outbox" / "clientname_new_codes_20260515_1252.csv", "S3CMDSYNC2")
    assert "clientname_new_codes_20260515_1252.csv" in run_ok(sync, tmp_path, env)
    listing = run_ok(ls, tmp_path, env)
    assert "clientname_new_codes_20260515_1251.csv.json" in listing


def test_a_missing_tool_fails_naming_the_installer():
    with pytest.raises(pytest.fail.Exception) as failed:
        require("no-such-s3-client")
    assert "no-such-s3-client is not installed: run tests/tools/install-s3-clients.sh" in str(
        failed.value
    )

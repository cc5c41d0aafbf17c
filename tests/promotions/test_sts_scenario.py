"""STS in scenarios: role problems named by file:line, sessions across scenario switches."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import requests
from botocore.exceptions import ClientError

from mocksrv.registry import validate_paths
from tests.support.promotions import DEVO, NEW
from tests.support.sts import STS_ROLES, assume, session_client

HEAD = """\
version: 1
identities:
  - {name: clientname, api: promotions, access_key: AKIAMOCKSRVPROMO0001,
     secret_key: MockSrvPromoDemoSecretKey000000000000001}
promotions:
  environments: {devo: {bucket: b-devo}}
  clients:
    - name: clientname
      identity: clientname
"""


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("role: {arn: 'arn:aws:iam::111122223333:role/r', trusted: [nobody]}",
         "promotions.clients[0].role.trusted[0]: no identity 'nobody'"),
        ("role: {arn: 'arn:aws:iam::111122223333:role/r', trusted: ['arn:aws:iam::1:user/x']}",
         "promotions.clients[0].role.trusted[0]: not a user or account root ARN"),
        ("role: {arn: 'arn:aws:iam::1111:role/r', trusted: [clientname]}",
         "promotions.clients[0].role.arn: 'arn:aws:iam::1111:role/r' does not match"),
        ("role: {arn: 'arn:aws:iam::111122223333:role/r', trusted: [clientname],"
         " max_session_duration_seconds: 50000}",
         "promotions.clients[0].role.max_session_duration_seconds: 50000 is greater than"),
        ("role: {arn: 'arn:aws:iam::111122223333:role/r'}",
         "promotions.clients[0].role: 'trusted' is a required property"),
    ],
)  # fmt: skip
def test_role_problems(tmp_path, role, expected):
    path = tmp_path / "s.yaml"
    path.write_text(HEAD + textwrap.indent(role, "      ") + "\n")
    found = validate_paths([str(path)])
    assert any(expected in p for p in found), found


def test_a_valid_role_has_no_problems(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(
        HEAD + "      role: {arn: 'arn:aws:iam::111122223333:role/r', trusted: [clientname]}\n"
    )
    assert validate_paths([str(path)]) == []


def test_sessions_survive_a_switch_that_keeps_state(server_factory):
    srv = server_factory([STS_ROLES])
    creds = assume(srv.url)["Credentials"]
    r = requests.post(f"{srv.url}/__admin/scenarios", json={"reload": True, "keepState": True},
                      timeout=10)  # fmt: skip
    assert r.status_code == 200, r.text
    assert "promotions" in r.json()["keptState"]
    s3 = session_client("s3", srv.url, creds)
    assert s3.list_objects_v2(Bucket=DEVO, Prefix=NEW)["KeyCount"] == 0
    srv.app.runtime.clock.advance(3600)  # the new runtime's clock decides the expiry
    with pytest.raises(ClientError) as err:
        s3.list_objects_v2(Bucket=DEVO, Prefix=NEW)
    assert err.value.response["Error"]["Code"] == "ExpiredToken"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # the role's owner has another secret: its tokens are sealed under another key
        ("MockSrvPromoDemoSecretKey000000000000001", "MockSrvPromoDemoSecretKey00000000000000X"),
        # the scenario no longer has the role
        ("clientname-PromoCodesUpload-Role", "clientname-Other-Role"),
    ],
)
def test_sessions_end_with_a_switch_that_changes_the_role_or_its_owner(server_factory, old, new):
    srv = server_factory([STS_ROLES])
    creds = assume(srv.url)["Credentials"]
    text = Path(STS_ROLES).read_text()
    assert old in text
    r = requests.post(f"{srv.url}/__admin/scenarios", json={"yaml": text.replace(old, new)},
                      timeout=10)  # fmt: skip
    assert r.status_code == 200, r.text
    with pytest.raises(ClientError) as err:
        session_client("s3", srv.url, creds).list_objects_v2(Bucket=DEVO, Prefix=NEW)
    assert err.value.response["Error"]["Code"] == "InvalidToken"

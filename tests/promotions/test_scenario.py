"""The `promotions:` scenario section, start-up without moto, isolation, and the journal fields."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import requests
from botocore.exceptions import ClientError

from mocksrv.registry import validate_paths
from tests.support.paths import ROOT
from tests.support.promotions import DEVO, NEW, error_code, s3_client, upload, wait_report

HEAD = """\
version: 1
identities:
  - {name: clientname, api: promotions, access_key: AKIAMOCKSRVPROMO0001,
     secret_key: MockSrvPromoDemoSecretKey000000000000001}
  - {name: primer, api: prime, access_key: AKIAMOCKSRVPRIME0001,
     secret_key: MockSrvPrimeDemoSecretKey000000000000001}
"""
PROMO = "{id: P1, marketplace: US, offer_type: t, url_template: 'https://x/{code}'}"


def problems(tmp_path, body: str) -> list[str]:
    path = tmp_path / "s.yaml"
    path.write_text(HEAD + textwrap.dedent(body))
    return validate_paths([str(path)])


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "promotions:\n  environments: {devo: {bucket: b-devo}}\n"
            "  clients: [{name: c, identity: nobody}]\n",
            ":9: promotions.clients[0].identity: no identity 'nobody' with api: promotions",
        ),
        (
            "promotions:\n  environments: {devo: {bucket: b-devo}}\n"
            "  clients: [{name: c, identity: primer}]\n",
            ":9: promotions.clients[0].identity: no identity 'primer' with api: promotions",
        ),
        (
            "promotions:\n  environments: {devo: {bucket: b-devo}}\n"
            "  clients: [{name: c, identity: clientname, prod_enabled: true}]\n",
            "promotions.clients[0].prod_enabled: no prod bucket in promotions.environments",
        ),
        (
            "promotions:\n  environments: {devo: {bucket: same}, prod: {bucket: same}}\n",
            ":8: promotions.environments: devo and prod need distinct buckets",
        ),
        (
            "promotions:\n  environments: {devo: {bucket: b-devo}}\n  clients:\n"
            "    - name: c\n      identity: clientname\n      promotions:\n"
            f"        - {PROMO}\n        - {PROMO}\n",
            ":14: promotions.clients[0].promotions[1].id: duplicate promotion id 'P1'",
        ),
        (
            "promotions:\n  environments: {devo: {bucket: b-devo}}\n  clients:\n"
            "    - name: c\n      identity: clientname\n      promotions:\n"
            "        - {id: P1, marketplace: US, offer_type: t, url_template: 'https://x/'}\n",
            "promotions.clients[0].promotions[0].url_template: must contain {code}",
        ),
        (
            "promotions:\n  environments: {devo: {bucket: b-devo}}\n  clients:\n"
            "    - name: c\n      identity: clientname\n      promotions:\n"
            "        - {id: P1, marketplace: US, offer_type: t, url_template: 'x{code}',"
            " code_charset: 'z-a'}\n",
            "promotions.clients[0].promotions[0].code_charset: not a valid character class: "
            "bad character range z-a",
        ),
        (
            "promotions:\n  environments: {devo: {bucket: B_Devo}}\n",
            "promotions.environments.devo.bucket: 'B_Devo' does not match",
        ),
    ],
)
def test_scenario_problems(tmp_path, body, expected):
    found = problems(tmp_path, body)
    assert any(expected in p for p in found), found


def test_bundled_promotions_scenarios_are_valid():
    paths = [
        ROOT / "scenarios" / "default.yaml",
        ROOT / "scenarios" / "promotions-prod-enabled.yaml",
    ]
    for path in paths:
        assert validate_paths([str(path)]) == []


def test_startup_does_not_import_moto():
    code = (
        "import sys; from mocksrv.app import create_app; app = create_app(); "
        "assert 'promotions' in app.runtime.stores; print('moto' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_two_servers_in_one_process_are_isolated(server_factory):
    one, two = server_factory(), server_factory()
    s3_one, s3_two = s3_client(one.url), s3_client(two.url)
    key = upload(s3_one, b"ISO-1,new\n")
    assert wait_report(s3_one, key)["status"] == "ACCEPTED"
    # same bucket names in both: the second server neither sees the object nor the report
    listed = s3_two.list_objects_v2(Bucket=DEVO, Prefix=NEW)
    assert listed["KeyCount"] == 0
    with pytest.raises(ClientError) as info:
        s3_two.get_object(Bucket=DEVO, Key=f"processing-results/{key}.json")
    assert error_code(info.value)[0] == "NoSuchKey"
    key_two = upload(s3_two, b"ISO-1,new\n")  # the same code is new to the second server
    assert wait_report(s3_two, key_two)["rows"]["accepted"] == 1
    one.stop()  # closing one runtime leaves the other's moto state intact
    assert wait_report(s3_two, key_two)["status"] == "ACCEPTED"


def test_journal_fields(server_factory):
    server = server_factory()
    seen: list[tuple[str, str, str, str]] = []
    server.app.runtime.recorders.append(
        lambda call: seen.append((call.api, call.operation, call.identity, call.outcome))
    )
    s3 = s3_client(server.url)
    key = upload(s3, b"JOURNAL-1,new\n")
    wait_report(s3, key)
    with pytest.raises(ClientError):
        s3.put_object(Bucket=DEVO, Key="elsewhere.csv", Body=b"x")
    assert ("promotions", "PutObject", "clientname", "OK") in seen
    assert ("promotions", "GetObject", "clientname", "OK") in seen
    assert ("promotions", "PutObject", "clientname", "AccessDenied") in seen


def test_injected_s3_fault_is_rendered_as_s3_error(tmp_path, server_factory):
    faults = tmp_path / "faults.yaml"
    faults.write_text(
        "version: 1\nfaults:\n"
        "  - {match: {api: s3, operation: PutObject}, error: SlowDown, times: 1}\n"
        "  - {match: {api: landing}, error: Unavailable, times: 1}\n"
    )
    server = server_factory([str(ROOT / "scenarios" / "default.yaml"), str(faults)])
    s3 = s3_client(server.url)
    with pytest.raises(ClientError) as info:
        upload(s3, b"FAULT-1,new\n")
    assert error_code(info.value) == ("SlowDown", "Please reduce your request rate.")
    key = upload(s3, b"FAULT-1,new\n")  # fired once: the retry goes through and is processed
    assert wait_report(s3, key)["rows"]["accepted"] == 1
    r = requests.get(f"{server.url}/promotions/PROMO-0001/landing?member=m", timeout=10)
    assert r.status_code == 503
    assert r.json() == {"error": {"code": "Unavailable", "message": "Injected fault: Unavailable"}}


def test_domain_modules_import_no_http_framework():
    code = (
        "import sys\n"
        "import mocksrv.services.promotions.pipeline, mocksrv.services.promotions.models\n"
        "import mocksrv.services.promotions.config, mocksrv.services.promotions.access\n"
        "import mocksrv.services.promotions.inventory, mocksrv.services.promotions.reports\n"
        "print(sorted(m for m in ('werkzeug', 'flask', 'moto') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"

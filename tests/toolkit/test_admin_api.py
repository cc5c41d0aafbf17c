"""The admin API over HTTP: health, reset, scenarios, clock, state views, journal, bad input."""

from __future__ import annotations

import re
import time

import pytest
import requests

import mocksrv as pkg
from mocksrv.toolkit.client import AdminError
from tests.support.cli import Serve
from tests.support.paths import ROOT


def get(mocksrv, path: str, **params) -> requests.Response:
    return requests.get(f"{mocksrv.admin_url}{path}", params=params, timeout=5)


def post(mocksrv, path: str, body=None, data: bytes | None = None) -> requests.Response:
    if data is not None:
        headers = {"Content-Type": "application/json"}
        return requests.post(f"{mocksrv.admin_url}{path}", data=data, headers=headers, timeout=5)
    return requests.post(f"{mocksrv.admin_url}{path}", json={} if body is None else body, timeout=5)


def test_health_and_version(mocksrv):
    health = get(mocksrv, "/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok" and health.json()["version"] == pkg.__version__
    assert get(mocksrv, "/version").json() == {"version": pkg.__version__, "name": "mocksrv"}


def test_health_uptime_counts_from_start_not_from_the_first_admin_call():
    # a fresh process: the admin app is loaded on its first request, the uptime must not be
    srv = Serve()
    try:
        time.sleep(1.0)
        uptime = requests.get(f"{srv.url}/__admin/health", timeout=5).json()["uptimeSeconds"]
    finally:
        srv.stop()
    assert uptime >= 0.9


def test_index_lists_endpoints_and_openapi_is_served(mocksrv):
    index = get(mocksrv, "/").json()
    assert "POST /__admin/reset" in index["endpoints"]
    spec = get(mocksrv, "/openapi.yaml")
    assert spec.status_code == 200 and spec.text.startswith("openapi: 3.")

    import yaml

    def shape(path: str) -> str:  # route variables and OpenAPI parameters alike
        return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)

    document = yaml.safe_load(spec.text)
    paths = {shape(p): v for p, v in document["paths"].items()}
    match_api = document["components"]["schemas"]["Match"]["properties"]["api"]["enum"]
    assert match_api == ["prime", "agcod", "promotions", "s3", "landing", "sts", "iam"]
    for line in index["endpoints"]:
        *methods, path = line.split(" ")
        path = shape(path)
        assert path in paths, f"{path} missing from openapi.yaml"
        assert {m.lower() for m in methods} & set(paths[path]), f"{line} not documented"


def test_unknown_admin_path_is_a_json_404(mocksrv):
    r = get(mocksrv, "/nope")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "NotFound"
    assert "GET /__admin/nope" in r.json()["error"]["message"]


def test_wrong_method_is_a_json_405(mocksrv):
    r = requests.delete(f"{mocksrv.admin_url}/health", timeout=5)
    assert r.status_code == 405
    assert r.json()["error"]["code"] == "MethodNotAllowed"


def test_bad_json_body_is_a_400(mocksrv):
    r = post(mocksrv, "/faults", data=b"{not json")
    assert r.status_code == 400
    assert r.json()["error"]["message"].startswith("request body is not valid JSON")
    r = post(mocksrv, "/faults", data=b"[1, 2]")
    assert r.json()["error"]["message"] == "request body must be a JSON object"


def test_reset_restores_state_and_clears_the_journal(mocksrv, mocksrv_prime):
    assert mocksrv_prime.redeem("444444444").json() == {"message": "SUCCESS"}
    assert mocksrv_prime.redeem("444444444").json()["message"].endswith("EXCEEDED_USAGE_LIMIT")
    mocksrv.fault(match={"api": "prime"}, error="ServiceUnavailable", nth=5)
    assert post(mocksrv, "/reset").json()["reset"] is True
    assert mocksrv.journal() == []
    assert mocksrv.admin("GET", "/faults")["faults"] == []
    assert mocksrv_prime.redeem("444444444").json() == {"message": "SUCCESS"}


def test_reset_empties_s3(mocksrv, mocksrv_s3):
    bucket = "partner-promotions-devo"
    prefix = "new-promo-codes/clientname=clientname/"
    key = prefix + "marketplace=US/offertype=student-promo-deal/promotionid=PROMO-0001/x.csv"
    mocksrv_s3.put_object(Bucket=bucket, Key=key, Body=b"A,new\n")
    assert mocksrv_s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["KeyCount"] == 1
    mocksrv.reset()
    assert mocksrv_s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["KeyCount"] == 0


# --- clock -------------------------------------------------------------------------------------
def test_clock_set_freeze_advance_drive_business_rules(mocksrv, mocksrv_prime, mocksrv_clock):
    mocksrv_clock.set("2025-12-31T23:00:00Z", frozen=True)
    assert mocksrv_clock.now() == "2025-12-31T23:00:00.000Z"
    assert mocksrv_prime.verify("333333333").json() == {"message": "SUCCESS"}
    moved = mocksrv_clock.advance(hours=1, minutes=30)
    assert moved["now"] == "2026-01-01T00:30:00.000Z" and moved["advancedSeconds"] == 5400
    assert mocksrv_prime.verify("333333333").json() == {"message": "FAILURE:DENIED:DEAL_INACTIVE"}
    assert mocksrv_clock.unfreeze()["frozen"] is False
    assert mocksrv_clock.freeze()["frozen"] is True


def test_clock_bad_input(mocksrv):
    r = requests.put(f"{mocksrv.admin_url}/clock", json={"now": "tomorrow"}, timeout=5)
    assert r.status_code == 400
    assert r.json()["error"]["message"] == (
        "now: 'tomorrow' is not an ISO-8601 instant (e.g. 2026-05-15T14:00:00Z)"
    )
    r = post(mocksrv, "/clock/advance", {"minutes": "ten"})
    assert r.json()["error"]["message"] == "minutes must be a number, got 'ten'"
    r = post(mocksrv, "/clock/advance", {"days": -1})
    assert r.status_code == 400 and "only moves forward" in r.json()["error"]["message"]
    r = post(mocksrv, "/clock/advance", {"days": 1e15})
    assert r.json()["error"]["message"] == (
        "cannot advance the clock by 8.64e+19 seconds: out of range"
    )
    r = post(mocksrv, "/clock/advance", {"seconds": "nan"})
    assert r.json()["error"]["message"] == "seconds must be a finite number, got 'nan'"
    r = post(mocksrv, "/clock/advance", {})
    assert r.json()["error"]["message"] == "give one or more of seconds, minutes, hours, days"


# --- state views -------------------------------------------------------------------------------
def test_state_views_per_api(mocksrv, mocksrv_prime):
    mocksrv_prime.redeem("123456789")
    prime = mocksrv.state("prime")
    (code,) = [c for c in prime["offerCodes"] if c["code"] == "123456789"]
    assert code["calls"] == {"redeem": 1, "redeem:SUCCESS": 1} and len(code["redemptions"]) == 1
    everything = mocksrv.state()
    assert everything["prime"] == prime and "agcod" in everything
    assert "partners" in everything["agcod"] and "inventory" in everything["promotions"]


def test_unknown_state_api_is_a_404(mocksrv):
    r = get(mocksrv, "/state/nothing")
    assert r.status_code == 404
    assert r.json()["error"]["message"].startswith("no state for API 'nothing' (known: ")


# --- journal -----------------------------------------------------------------------------------
def test_journal_records_every_request_matched_or_not(mocksrv, mocksrv_prime):
    mocksrv_prime.verify("123456789")
    requests.get(f"{mocksrv.url}/not/an/api", timeout=5)
    unsigned = f"{mocksrv.url}/v1/customer/benefit/PRIME_3P_PARTNER_BENEFIT/offer-code/1/verify"
    requests.get(unsigned, headers={"x-amz-request-id": "1", "x-amz-marketplace": "US"}, timeout=5)
    newest, unmatched, verified = mocksrv.journal()
    assert (verified["api"], verified["operation"], verified["identity"]) == (
        "prime", "verify", "prime-partner"
    )  # fmt: skip
    assert verified["outcome"] == "SUCCESS" and verified["status"] == 200
    assert verified["latencyMs"] > 0 and verified["fields"]["offerCode"] == "123456789"
    # nothing serves this path but the S3 fallback, which refuses it: journaled all the same
    assert unmatched["path"] == "/not/an/api" and unmatched["status"] >= 400
    assert newest["signature_failed"] is True and newest["status"] == 403


def test_journal_filters(mocksrv, mocksrv_prime):
    for code in ("123456789", "111111111", "123456789"):
        mocksrv_prime.verify(code)
    mocksrv_prime.redeem("123456789")
    assert len(mocksrv.journal(operation="verify")) == 3
    assert len(mocksrv.journal(outcome="INVALID_OFFER_CODE")) == 1
    assert len(mocksrv.journal(api="prime", identity="prime-partner", status=200)) == 4
    assert [e["operation"] for e in mocksrv.journal(limit=1)] == ["redeem"]
    assert mocksrv.journal(since="2999-01-01T00:00:00Z") == []
    assert len(mocksrv.journal(since="2000-01-01T00:00:00Z")) == 4


def test_journal_bad_filters(mocksrv):
    r = get(mocksrv, "/journal", colour="red")
    assert r.status_code == 400 and r.json()["error"]["message"] == "unknown filter(s) colour"
    r = get(mocksrv, "/journal", limit="0")
    assert r.json()["error"]["message"] == "limit must be at least 1, got '0'"
    r = get(mocksrv, "/journal", limit="nan")
    assert r.json()["error"]["message"] == "limit must be an integer, got 'nan'"
    r = get(mocksrv, "/journal", status="abc")
    assert r.json()["error"]["message"] == "status must be an integer, got 'abc'"
    r = get(mocksrv, "/journal", since="yesterday")
    assert "since: 'yesterday' is not an ISO-8601 instant" in r.json()["error"]["message"]


def test_journal_is_bounded(mocksrv, mocksrv_prime):
    text = (ROOT / "scenarios/default.yaml").read_text().replace("capacity: 10000", "capacity: 3")
    mocksrv.admin("POST", "/scenarios", {"yaml": text, "name": "small"})
    for _ in range(5):
        mocksrv_prime.verify("123456789")
    page = mocksrv.admin("GET", "/journal")
    assert (page["size"], page["capacity"], page["dropped"]) == (3, 3, 2)
    assert [e["seq"] for e in page["entries"]] == [5, 4, 3]
    assert requests.delete(f"{mocksrv.admin_url}/journal", timeout=5).json() == {"cleared": True}
    assert mocksrv.journal() == []


# --- scenarios ---------------------------------------------------------------------------------
def test_list_and_switch_scenarios_by_name(mocksrv, mocksrv_prime):
    mocksrv.load([str(ROOT / "scenarios/default.yaml")])
    listed = mocksrv.admin("GET", "/scenarios")
    assert listed["active"] == [{"name": "default", "source": str(ROOT / "scenarios/default.yaml")}]
    assert "prime-outcomes" in listed["available"] and "failure-drill" in listed["available"]
    switched = mocksrv.admin("POST", "/scenarios", {"names": ["prime-outcomes"]})
    assert switched["active"] == [str(ROOT / "scenarios/prime-outcomes.yaml")]
    assert mocksrv_prime.verify("100000001").json() == {"message": "SUCCESS"}
    assert mocksrv_prime.verify("123456789").json() == {"message": "INVALID_OFFER_CODE"}


def test_unknown_scenario_name(mocksrv):
    mocksrv.load([str(ROOT / "scenarios/default.yaml")])
    r = post(mocksrv, "/scenarios", {"names": ["nope"]})
    assert r.status_code == 404
    assert r.json()["error"]["message"].startswith("unknown scenario name(s) nope; available: ")


def test_invalid_scenario_is_refused_with_file_and_line(mocksrv, mocksrv_prime):
    bad = "version: 1\nname: bad\nprime:\n  benefits:\n    - id: X\n      marketplace: usa\n"
    r = post(mocksrv, "/scenarios", {"yaml": bad})
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "InvalidScenario"
    assert error["problems"] == [  # schema and semantic problems in one round, as for files
        "<admin>/posted.yaml:6: prime.benefits[0].marketplace: 'usa' does not match '^[A-Z]{2}$'",
        "<admin>/posted.yaml:6: prime.benefits[0].marketplace: marketplace has no region: add it "
        "to prime.marketplaces",
    ]
    # the running scenario is untouched
    assert mocksrv_prime.verify("123456789").json() == {"message": "SUCCESS"}


def test_missing_scenario_file(mocksrv, tmp_path):
    # outside what the server may read: one answer, whether the file exists or not
    for paths in (["/nonexistent/x.yaml"], ["/dev/zero"], ["/etc/passwd"]):
        r = post(mocksrv, "/scenarios", {"paths": paths})
        assert r.status_code == 403, r.text
        assert r.json()["error"]["code"] == "Forbidden"
        assert "passwd" not in r.text and "nonexistent" not in r.text
    # inside (the test's temp directory is one of the plugin server's roots): named
    missing = str(tmp_path / "x.yaml")
    r = post(mocksrv, "/scenarios", {"paths": [missing]})
    assert r.status_code == 400
    assert r.json()["error"]["message"] == f"not a file or directory on the server: {missing}"


def test_scenario_file_that_is_not_a_scenario(mocksrv, tmp_path):
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    r = post(mocksrv, "/scenarios", {"paths": [str(tmp_path / "list.yaml")]})
    assert r.status_code == 400
    assert r.json()["error"]["problems"] == [
        f"{tmp_path / 'list.yaml'}:1: (top): a scenario must be a YAML mapping"
    ]


def test_scenario_request_needs_one_source(mocksrv):
    r = post(mocksrv, "/scenarios", {"paths": ["a"], "names": ["b"]})
    assert r.status_code == 400
    assert r.json()["error"]["message"] == (
        "give exactly one of paths, names, yaml, reload: true or default: true"
    )
    r = post(mocksrv, "/scenarios", {"default": True, "keepState": "yes"})
    assert r.json()["error"]["message"] == "keepState must be true or false"


def test_reload_keeping_or_dropping_state(mocksrv, mocksrv_prime, tmp_path):
    scenario = tmp_path / "mine.yaml"
    scenario.write_text((ROOT / "scenarios/default.yaml").read_text())
    mocksrv.load([str(scenario)])
    assert mocksrv_prime.redeem("444444444").json() == {"message": "SUCCESS"}
    scenario.write_text(scenario.read_text() + "\nexpectations:\n  - match: {api: prime}\n")
    kept = mocksrv.admin("POST", "/scenarios", {"reload": True, "keepState": True})
    assert "prime" in kept["keptState"]
    assert mocksrv_prime.redeem("444444444").json()["message"].endswith("EXCEEDED_USAGE_LIMIT")
    assert len(mocksrv.journal()) == 2  # the journal was kept too
    assert mocksrv.verify()["expectations"][0]["actual"] == 2
    dropped = mocksrv.admin("POST", "/scenarios", {"reload": True, "keepState": False})
    assert dropped["keptState"] == [] and "prime" in dropped["resetState"]
    assert mocksrv_prime.redeem("444444444").json() == {"message": "SUCCESS"}


def test_keep_state_resets_an_api_whose_section_changed(mocksrv, mocksrv_prime, tmp_path):
    scenario = tmp_path / "mine.yaml"
    text = (ROOT / "scenarios/default.yaml").read_text()
    scenario.write_text(text)
    mocksrv.load([str(scenario)])
    mocksrv_prime.redeem("444444444")
    scenario.write_text(text.replace("one use per day in", "one use a day in"))
    result = mocksrv.admin("POST", "/scenarios", {"reload": True, "keepState": True})
    assert "prime" in result["resetState"] and "agcod" in result["keptState"]
    assert mocksrv_prime.redeem("444444444").json() == {"message": "SUCCESS"}


def test_admin_errors_in_the_client_carry_the_message(mocksrv):
    with pytest.raises(AdminError, match="no fault with id 'ghost'"):
        mocksrv.admin("DELETE", "/faults/ghost")


BODIES = [b"", b"null", b"[]", b"7", b'{"x": 1}', b"\xff\xfe\x00", b'{"now": null, "paths": [1]}',
          b'{"seconds": {}, "match": [], "count": "x", "yaml": 5, "keepState": 1}',
          b'{"match": {"api": "prime", "fields": {"a": {"matches": "["}}}, "error": 3}']  # fmt: skip


def test_no_admin_input_gives_a_500(mocksrv):
    endpoints = get(mocksrv, "/").json()["endpoints"]
    for line in endpoints:
        *methods, path = line.split(" ")
        path = path.replace("<api>", "\x00nothing").replace("<fault_id>", "%ff")
        path = path.replace("<request_id>", "%00x").replace("<asset>", "..%2fadmin.py")
        # the dashboard page itself is the one HTML answer, the metrics the one plain text
        kinds = ("application/json", "application/yaml")
        if path == "/__admin/dashboard":
            kinds = ("text/html",)
        if path == "/__admin/metrics":
            kinds = ("text/plain; version=0.0.4",)
        for method in methods:
            for body in BODIES:
                r = requests.request(
                    method, f"{mocksrv.url}{path}?limit=x&since=&status=-1", data=body, timeout=10
                )
                assert r.status_code < 500, (method, path, body, r.text)
                assert r.headers["Content-Type"].startswith(kinds), (path, r.headers)


def test_keep_state_carries_s3_objects_over(mocksrv, mocksrv_s3, tmp_path):
    scenario = tmp_path / "mine.yaml"
    scenario.write_text((ROOT / "scenarios/default.yaml").read_text())
    mocksrv.load([str(scenario)])
    bucket, prefix = "partner-promotions-devo", "new-promo-codes/clientname=clientname/"
    mocksrv_s3.put_object(Bucket=bucket, Key=prefix + "kept.csv", Body=b"A,new\n")
    kept = mocksrv.admin("POST", "/scenarios", {"reload": True, "keepState": True})
    assert "promotions" in kept["keptState"]
    assert mocksrv_s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["KeyCount"] == 1
    mocksrv.admin("POST", "/scenarios", {"reload": True, "keepState": False})
    assert mocksrv_s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["KeyCount"] == 0

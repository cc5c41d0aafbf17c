"""The admin API's tenants on a real server: making one (bundled scenarios, files, overlays,
another tenant's scenarios), its refusals, listing, looking up, deleting, expiry, the limit, and
every admin operation under /__admin/tenants/{id}/ acting on that tenant alone."""

from __future__ import annotations

import re
import time

import pytest
import requests

from tests.support.paths import SCENARIOS
from tests.support.tenants import admin, create_card, keys, make, prime

DEMO_PRIME = ("AKIAMOCKSRVPRIME0001", "MockSrvPrimeDemoSecretKey000000000000001")
DEMO_PROD = ("AKIAMOCKSRVAGCOD0002", "MockSrvAgcodDemoSecretKey000000000000002")
OVERLAY = """version: 1
prime:
  benefits:
    - id: MY_BENEFIT
      marketplace: US
      offer_codes: [{code: "900000001"}]
"""


@pytest.fixture
def url(server_factory) -> str:
    return str(server_factory().url)


def _error(r: requests.Response, status: int, code: str) -> str:
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code, r.text
    return str(r.json()["error"]["message"])


def test_a_tenant_on_a_bundled_scenario_has_fresh_keys_and_the_scenarios_data(url):
    tenant = make(url, name="ci-job-42", scenario="prime-outcomes", ttl_seconds=600)
    assert re.fullmatch(r"t-[a-z0-9]{12}", tenant["id"])
    assert tenant["name"] == "ci-job-42" and tenant["admin"] == f"/__admin/tenants/{tenant['id']}/"
    assert [s.rsplit("/", 1)[-1] for s in tenant["scenario"]] == ["prime-outcomes.yaml"]
    (ident,) = tenant["identities"]
    assert ident["name"] == "prime-partner" and ident["access_key"] != DEMO_PRIME[0]
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", ident["access_key"]) and len(ident["secret_key"]) == 40
    key = keys(tenant, "prime-partner")
    # prime-outcomes' code answers in the tenant; the default tenant runs the default scenario
    assert prime(url, key, "100000001").json() == {"message": "SUCCESS"}
    assert prime(url, DEMO_PRIME, "100000001").json() == {"message": "INVALID_OFFER_CODE"}


def test_a_yaml_overlay_goes_on_top_of_the_servers_scenarios(url):
    tenant = make(url, yaml=OVERLAY)
    key = keys(tenant, "prime-partner")
    assert prime(url, key, "900000001", benefit="MY_BENEFIT").json() == {"message": "SUCCESS"}
    assert prime(url, key, "123456789").json() == {"message": "SUCCESS"}  # the default's too
    other = prime(url, DEMO_PRIME, "900000001", benefit="MY_BENEFIT")  # the default lacks it
    assert other.json()["error"] == {
        "code": "NotFound",
        "message": "Benefit 'MY_BENEFIT' not found",
    }


def test_an_overlay_alone_and_a_file_the_server_may_load(url):
    alone = make(url, scenario=[], yaml=OVERLAY.replace("version: 1\n", (
        "version: 1\nidentities:\n  - {name: p1, api: prime, access_key: AKIAMOCKSRVPRIME0009,"
        " secret_key: MockSrvPrimeDemoSecretKey000000000000009}\n"
    )))  # fmt: skip
    assert [i["name"] for i in alone["identities"]] == ["p1"]
    assert prime(url, keys(alone, "p1"), "900000001", benefit="MY_BENEFIT").json() == {
        "message": "SUCCESS"
    }
    assert prime(url, keys(alone, "p1"), "123456789").status_code == 404  # not the default's
    from_file = make(url, scenario=[str(SCENARIOS / "prime-outcomes.yaml")])
    assert from_file["scenario"] == [str(SCENARIOS / "prime-outcomes.yaml")]
    r = requests.post(url + "/__admin/tenants", json={"scenario": "/etc/x.yaml"}, timeout=10)
    _error(r, 403, "Forbidden")


def test_like_copies_another_tenants_scenarios(url):
    first = make(url, scenario="prime-outcomes", yaml=OVERLAY)
    copy = make(url, like=first["id"])
    assert copy["scenario"] == first["scenario"]
    assert prime(url, keys(copy, "prime-partner"), "900000001", benefit="MY_BENEFIT").json() == {
        "message": "SUCCESS"
    }
    assert keys(copy, "prime-partner") != keys(first, "prime-partner")
    default = make(url, like="")
    assert [s.rsplit("/", 1)[-1] for s in default["scenario"]] == ["default.yaml"]


@pytest.mark.parametrize(
    ("body", "status", "code", "message"),
    [
        ({"ttl_seconds": 0}, 400, "BadRequest", "ttl_seconds must be between 1 and 2592000, got 0"),
        ({"ttl_seconds": 2592001}, 400, "BadRequest", "ttl_seconds must be between 1 and 2592000"),
        ({"ttl_seconds": "60"}, 400, "BadRequest", "ttl_seconds must be a number of seconds"),
        ({"ttl_seconds": True}, 400, "BadRequest", "ttl_seconds must be a number of seconds"),
        ({"name": "x" * 65}, 400, "BadRequest", "name must be text of at most 64"),
        ({"name": "a\nb"}, 400, "BadRequest", "name must be text of at most 64 printable"),
        ({"colour": "red"}, 400, "BadRequest", "unknown field(s) colour; a tenant takes"),
        ({"scenario": "no-such"}, 404, "NotFound", "unknown scenario name(s) no-such"),
        ({"scenario": 7}, 400, "BadRequest", "scenario must be a scenario name or file"),
        (
            {"scenario": None},
            400,
            "BadRequest",
            "scenario must not be null",
        ),  # the admin fuzz's find
        ({"like": None, "yaml": None}, 400, "BadRequest", "like, yaml must not be null"),
        ({"scenario": []}, 400, "BadRequest", "scenario: [] needs a yaml overlay"),
        ({"scenario": "default", "like": ""}, 400, "BadRequest", "give scenario or like"),
        ({"like": "t-nothere"}, 404, "NotFound", "like: no tenant 't-nothere'"),
        ({"yaml": ""}, 400, "BadRequest", "yaml must be the overlay scenario's text"),
    ],
)
def test_bad_input_is_refused_and_makes_nothing(url, body, status, code, message):
    r = requests.post(url + "/__admin/tenants", json=body, timeout=10)
    assert message in _error(r, status, code)
    assert requests.get(url + "/__admin/tenants", timeout=10).json()["count"] == 0


def test_a_bad_overlay_gives_file_line_problems_and_makes_nothing(url):
    bad = "version: 1\nfaults:\n  - match: {api: prime}\n    error: Nope\n"
    r = requests.post(url + "/__admin/tenants", json={"yaml": bad}, timeout=10)
    _error(r, 400, "InvalidScenario")
    (problem,) = r.json()["error"]["problems"]
    assert problem.startswith("<admin>/tenant-overlay.yaml:3: faults[0]: error: 'Nope' is not a")
    assert requests.get(url + "/__admin/tenants", timeout=10).json()["count"] == 0


def test_list_get_and_delete(url):
    one, two = make(url, name="one"), make(url, name="two", ttl_seconds=120)
    listed = requests.get(url + "/__admin/tenants", timeout=10).json()
    assert (listed["count"], listed["max"]) == (2, 1000)
    assert [t["name"] for t in listed["tenants"]] == ["one", "two"]
    assert all("identities" not in t for t in listed["tenants"])  # no keys in the list
    got = requests.get(f"{url}/__admin/tenants/{two['id']}", timeout=10).json()
    assert got["identities"] == two["identities"] and 0 < got["expiresInSeconds"] <= 120
    r = requests.delete(f"{url}/__admin/tenants/{one['id']}", timeout=10)
    assert r.json() == {"deleted": one["id"]}
    _error(requests.get(f"{url}/__admin/tenants/{one['id']}", timeout=10), 404, "NotFound")
    _error(requests.delete(f"{url}/__admin/tenants/{one['id']}", timeout=10), 404, "NotFound")
    assert [
        t["id"] for t in requests.get(url + "/__admin/tenants", timeout=10).json()["tenants"]
    ] == [two["id"]]
    gone = prime(url, keys(one, "prime-partner"), "123456789")
    assert (gone.status_code, gone.json()["error"]["code"]) == (403, "InvalidSignature")


def test_a_tenant_expires_after_its_ttl(url):
    tenant = make(url, ttl_seconds=1)
    key = keys(tenant, "prime-partner")
    assert prime(url, key, "123456789").json() == {"message": "SUCCESS"}
    deadline = time.monotonic() + 15
    while requests.get(f"{url}/__admin/tenants/{tenant['id']}", timeout=10).status_code == 200:
        assert time.monotonic() < deadline, "the tenant outlived its ttl by 14 s"
        time.sleep(0.1)
    assert requests.get(url + "/__admin/tenants", timeout=10).json()["count"] == 0
    assert prime(url, key, "123456789").status_code == 403


def test_the_tenant_limit_is_a_409_until_one_is_deleted(server_factory):
    url = server_factory(max_tenants=2).url
    first, _ = make(url), make(url)
    r = requests.post(url + "/__admin/tenants", json={}, timeout=10)
    assert "2 tenants at most (--max-tenants)" in _error(r, 409, "TenantLimitReached")
    requests.delete(f"{url}/__admin/tenants/{first['id']}", timeout=10)
    make(url)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/journal"), ("POST", "/reset"), ("PUT", "/clock"), ("GET", "/dashboard"),
     ("POST", "/faults"), ("GET", "/state/agcod"), ("GET", "/identities")],
)  # fmt: skip
def test_an_unknown_tenant_under_its_admin_path_is_a_404_and_touches_nothing(url, method, path):
    assert create_card(url, DEMO_PROD, "MocksProdKeep1", 5).status_code == 200
    r = admin(url, "t-nosuchtenant", method, path, json={"now": "2030-01-01T00:00:00Z"})
    assert _error(r, 404, "NotFound") == "no tenant 't-nosuchtenant'"
    cards = admin(url, "", "GET", "/state/agcod").json()["cards"]
    assert [c["creationRequestId"] for c in cards] == ["MocksProdKeep1"]
    assert admin(url, "", "GET", "/clock").json()["now"] < "2030"


def test_each_tenants_admin_operations_act_on_it_alone(url):
    a, b = make(url, name="a"), make(url, name="b")
    ka, kb = keys(a, "agcod-production"), keys(b, "agcod-production")
    assert create_card(url, ka, "MocksProdA1", 10).status_code == 200
    assert create_card(url, kb, "MocksProdB1", 20).status_code == 200
    assert create_card(url, DEMO_PROD, "MocksProdD1", 30).status_code == 200
    admin(url, a["id"], "PUT", "/clock", json={"now": "2031-01-01T00:00:00Z", "frozen": True})
    fault = {
        "match": {"api": "agcod", "operation": "CreateGiftCard"},
        "error": "ThrottlingException",
    }
    assert admin(url, b["id"], "POST", "/faults", json=fault).ok
    assert admin(url, a["id"], "POST", "/reset").json()["reset"] is True
    cards = {t: [c["creationRequestId"] for c in admin(url, t, "GET", "/state/agcod").json()["cards"]]
             for t in ("", a["id"], b["id"])}  # fmt: skip
    assert cards == {"": ["MocksProdD1"], a["id"]: [], b["id"]: ["MocksProdB1"]}
    assert admin(url, a["id"], "GET", "/clock").json()["now"] < "2031"  # reset: the clock too
    assert admin(url, "", "GET", "/faults").json()["faults"] == []
    assert len(admin(url, b["id"], "GET", "/faults").json()["faults"]) == 1
    assert create_card(url, kb, "MocksProdB2", 1).json()["__type"] == "ThrottlingException"
    assert create_card(url, ka, "MocksProdA2", 1).status_code == 200
    journal = admin(url, b["id"], "GET", "/journal").json()["entries"]
    assert [e["fields"]["creationRequestId"] for e in journal] == ["MocksProdB2", "MocksProdB1"]


def test_a_reset_and_a_scenario_switch_keep_the_tenants_keys(url):
    """A tenant's reset (the pytest plugin's per-test one) rebuilt it on the scenario's demo keys:
    its clients then signed into the default tenant."""
    tenant = make(url)
    key = keys(tenant, "prime-partner")
    assert admin(url, tenant["id"], "POST", "/reset").ok
    assert (
        admin(url, tenant["id"], "GET", "/identities").json()["identities"] == tenant["identities"]
    )
    assert prime(url, key, "123456789").json() == {"message": "SUCCESS"}
    switched = admin(url, tenant["id"], "POST", "/scenarios", json={"names": ["failure-drill"]})
    assert switched.ok, switched.text
    assert (
        admin(url, tenant["id"], "GET", "/identities").json()["identities"] == tenant["identities"]
    )
    assert prime(url, key, "444444444", "verify").json() == {"message": "SUCCESS"}
    assert len(admin(url, tenant["id"], "GET", "/journal").json()["entries"]) == 1
    assert admin(url, "", "GET", "/journal").json()["entries"] == []
    assert (
        admin(url, "", "GET", "/identities").json()["identities"][0]["access_key"] == DEMO_PRIME[0]
    )


def test_a_tenant_cannot_switch_to_a_scenario_with_identities_it_lacks(url):
    tenant = make(url)
    r = admin(url, tenant["id"], "POST", "/scenarios", json={"names": ["agcod-strict"]})
    _error(r, 400, "InvalidScenario")
    (problem,) = r.json()["error"]["problems"]
    assert "identities: agcod-strict, agcod-strict-prod: a tenant keeps the identities" in problem
    active = admin(url, tenant["id"], "GET", "/scenarios").json()["active"]
    assert [s["name"] for s in active] == ["default"]


def test_the_landing_page_claims_in_the_tenant_it_names_and_never_in_another(url):
    tenant = make(url)
    landing = url + "/promotions/PROMO-0001/landing"
    mine = requests.get(landing, params={"member": "m1", "tenant": tenant["id"]}, timeout=10)
    assert mine.json()["code"] == "DEMO-CODE-001"
    default = requests.get(landing, params={"member": "m2"}, timeout=10)
    assert default.json()["code"] == "DEMO-CODE-001"  # the default's inventory is its own
    requests.delete(f"{url}/__admin/tenants/{tenant['id']}", timeout=10)
    for named in (tenant["id"], "t-neverexisted"):  # a deleted or unknown tenant: a 404
        r = requests.get(landing, params={"member": "m3", "tenant": named}, timeout=10)
        assert _error(r, 404, "NotFound") == f"no tenant {named!r}"
    inventory = admin(url, "", "GET", "/state/promotions").json()["inventory"]
    assert [(i["environment"], i["assigned"]) for i in inventory] == [("devo", 1), ("prod", 0)]

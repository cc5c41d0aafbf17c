"""The dashboard in a real browser: headless Chromium (Debian's `chromium`) driven by Playwright.

Each test starts its own server, makes real requests to the emulated APIs (signed with botocore,
boto3 for S3) and checks what a person would see on the page. Set MOCKSRV_SCREENSHOTS=DIR to save a
screenshot of each panel with some traffic in it (how the pictures in docs/dashboard/ are made).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, expect, sync_playwright

from tests.support.browser import CHROMIUM_ARGS, chromium_path
from tests.support.promotions import s3_client, upload, wait_report
from tests.support.signing import Signer

PROD = Signer(
    "AKIAMOCKSRVAGCOD0002", "MockSrvAgcodDemoSecretKey000000000000002", "AGCODService", "us-east-1"
)
WRONG = Signer("AKIAMOCKSRVAGCOD0002", "not-the-secret", "AGCODService", "us-east-1")
PRIME = Signer(
    "AKIAMOCKSRVPRIME0001", "MockSrvPrimeDemoSecretKey000000000000001", "execute-api", "us-east-1"
)
AGCOD_HEADERS = {"content-type": "application/json", "accept": "application/json"}
SECOND = 1000  # ms: "within a second" of the request
NEW_KEY = (
    "new-promo-codes/clientname=clientname/marketplace=US/offertype=student-promo-deal/"
    "promotionid=PROMO-0001/clientname_new_codes_20260601_0101.csv"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def server(server_factory):
    return server_factory()  # the embedded default; the bundled scenarios are its library


@pytest.fixture
def page(browser, server) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 1280, "height": 860}, permissions=["clipboard-read", "clipboard-write"]
    )
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.goto(server.url + "/")
    yield pg
    context.close()
    assert not errors, errors


def tab(page: Page, name: str) -> None:
    page.click(f"#tabs button[data-panel={name}]")
    expect(page.get_by_test_id(f"panel-{name}")).to_be_visible()
    expect(page.get_by_test_id("status")).to_have_text("live")


def create_card(server, request_id: str, amount: float = 25, signer: Signer = PROD) -> Any:
    body = json.dumps(
        {
            "creationRequestId": request_id,
            "partnerId": "MocksProd",
            "value": {"currencyCode": "USD", "amount": amount},
        }
    ).encode()
    return signer.send("POST", server.url + "/CreateGiftCard", AGCOD_HEADERS, body=body)


def test_a_browser_opening_the_server_is_sent_to_the_dashboard(server, page):
    expect(page).to_have_url(server.url + "/__admin/dashboard#overview")
    expect(page).to_have_title("mocksrv dashboard")
    # an API client asking for / is not redirected: S3 answers it as before
    plain = requests.get(server.url + "/", timeout=5, allow_redirects=False)
    assert plain.status_code == 403 and plain.text.startswith("<?xml")
    browser_like = requests.get(
        server.url + "/", headers={"Accept": "text/html"}, timeout=5, allow_redirects=False
    )
    assert browser_like.status_code == 302
    assert browser_like.headers["Location"] == "/__admin/dashboard"


def test_overview_shows_scenarios_and_copyable_keys(server, page):
    tab(page, "overview")
    expect(page.locator("#scenarios-active")).to_contain_text("default")
    row = page.locator("#identities tbody tr", has_text="agcod-production")
    expect(row).to_contain_text("AKIAMOCKSRVAGCOD0002")
    expect(row).to_contain_text("MockSrvAgcodDemoSecretKey000000000000002")  # loopback, no token
    row.locator("button.copy").first.click()
    expect(row.locator("button.copy").first).to_have_text("copied")
    assert page.evaluate("navigator.clipboard.readText()") == "AKIAMOCKSRVAGCOD0002"


def test_a_signed_create_shows_in_the_journal_and_agcod_within_a_second(server, page):
    tab(page, "journal")
    rid = f"MocksProdDash{uuid.uuid4().hex[:10]}"
    created = create_card(server, rid)
    assert created.status_code == 200, created.text
    claim = created.json()["gcClaimCode"]
    row = page.locator("#journal tbody tr", has_text="CreateGiftCard")
    expect(row).to_contain_text("agcod-production", timeout=SECOND)
    expect(row).to_contain_text("SUCCESS")
    expect(row).to_contain_text("200")
    row.click()
    expect(page.get_by_test_id("exchange-request")).to_contain_text(rid)
    expect(page.get_by_test_id("exchange-request")).to_contain_text("authorization: AWS4-HMAC")
    expect(page.get_by_test_id("exchange-response")).to_contain_text(claim)

    tab(page, "agcod")
    card = page.locator("#agcod-cards tbody tr", has_text=rid)
    expect(card).to_contain_text("Fulfilled", timeout=SECOND)
    expect(card).to_contain_text("25.00 USD")
    expect(card).to_contain_text("left")  # the cancel-window countdown
    partner = page.locator("#agcod-partners tbody tr", has_text="MocksProd")
    expect(partner).to_contain_text("9975.00 USD")
    expect(partner).to_contain_text("CreateGiftCard")
    expect(partner).to_contain_text("-25.00 = 9975.00")


def test_cancel_and_the_closed_window_show_in_the_agcod_panel(server, page):
    rid = f"MocksProdDash{uuid.uuid4().hex[:10]}"
    assert create_card(server, rid, 40).status_code == 200
    tab(page, "agcod")
    card = page.locator("#agcod-cards tbody tr", has_text=rid)
    expect(card).to_contain_text("left")
    requests.post(server.url + "/__admin/clock/advance", json={"minutes": 16}, timeout=5)
    expect(card).to_contain_text("closed", timeout=SECOND)
    other = f"MocksProdDash{uuid.uuid4().hex[:10]}"
    assert create_card(server, other, 10).status_code == 200
    body = json.dumps({"creationRequestId": other, "partnerId": "MocksProd"}).encode()
    cancelled = PROD.send("POST", server.url + "/CancelGiftCard", AGCOD_HEADERS, body=body)
    assert cancelled.status_code == 200, cancelled.text
    row = page.locator("#agcod-cards tbody tr", has_text=other)
    expect(row).to_contain_text("RefundedToPurchaser", timeout=SECOND)
    partner = page.locator("#agcod-partners tbody tr", has_text="MocksProd")
    expect(partner).to_contain_text("9960.00 USD")  # 10000 - 40 - 10 + 10
    expect(partner).to_contain_text("+10.00 = 9960.00")


def test_a_signature_failure_shows_what_the_client_must_have_signed(server, page):
    tab(page, "journal")
    r = create_card(server, "MocksProdBadSig1", signer=WRONG)
    assert r.status_code == 403
    row = page.locator("#journal tbody tr", has_text="signature:mismatch")
    expect(row).to_be_visible(timeout=SECOND)
    row.click()
    canonical = page.get_by_test_id("sig-canonical")
    expect(canonical).to_contain_text("POST\n/CreateGiftCard\n")
    expect(canonical).to_contain_text("x-amz-date:")
    expect(page.get_by_test_id("sig-sts")).to_contain_text("AWS4-HMAC-SHA256\n")
    expect(page.get_by_test_id("sig-sts")).to_contain_text("/us-east-1/AGCODService/aws4_request")


def test_journal_shows_hostile_paths_as_text(server, page):
    tab(page, "journal")
    requests.get(server.url + "/<img src=x onerror=window.pwned=1>", timeout=5)
    expect(page.locator("#journal tbody")).to_contain_text("<img src=x", timeout=SECOND)
    row = page.locator("#journal tbody tr", has_text="<img src=x")
    row.click()
    expect(page.get_by_test_id("exchange")).to_contain_text("<img src=x onerror=")
    assert page.locator("main img").count() == 0
    assert page.evaluate("window.pwned") is None


def test_prime_panel_shows_uses_and_the_outcome_a_call_would_give_now(server, page):
    tab(page, "prime")
    code = page.locator("#prime-codes tbody tr", has_text="444444444")
    expect(code).to_contain_text("1 per day")
    expect(code).to_contain_text("SUCCESS")
    url = server.url + "/v1/customer/benefit/PRIME_3P_PARTNER_BENEFIT/offer-code/444444444/redeem"
    r = PRIME.send("POST", url, {"x-amz-marketplace": "US"}, unsigned={"x-amz-request-id": "d1"})
    assert r.json() == {"message": "SUCCESS"}, r.text
    expect(code).to_contain_text("FAILURE:DENIED:EXCEEDED_USAGE_LIMIT", timeout=SECOND)
    cells = code.locator("td")
    expect(cells.nth(3)).to_have_text("1")  # used this period
    expect(cells.nth(5)).to_contain_text("redeem 1")


def test_promotions_panel_shows_reports_inventory_and_assignments(server, page):
    preloaded = report_inventory(server)  # the default scenario preloads a few demo codes
    s3 = s3_client(server.url)
    key = upload(s3, b"DASH-0001,new\nDASH-0002,new\nDASH-0001,new\nbad code!,new\n")
    report = wait_report(s3, key)
    assert report["rows"]["accepted"] == 2, report
    member = f"member-{uuid.uuid4().hex[:8]}"
    claimed = requests.get(
        server.url + "/promotions/PROMO-0001/landing", params={"member": member}, timeout=10
    )
    assert claimed.status_code == 200, claimed.text
    tab(page, "promotions")
    file_row = page.locator("#promo-reports tbody tr", has_text=key.rsplit("/", 1)[1])
    expect(file_row).to_contain_text(report["status"])
    for reason, count in report["reasons"].items():
        expect(file_row).to_contain_text(f"{reason} {count}")
    inventory = page.locator("#promo-inventory tbody tr", has_text="devo")
    expect(inventory.locator("td").nth(2)).to_have_text(str(preloaded["available"] + 1))
    expect(inventory.locator("td").nth(3)).to_have_text(str(preloaded["assigned"] + 1))
    assignment = page.locator("#promo-assignments tbody tr", has_text=member)
    expect(assignment).to_contain_text(claimed.json()["code"])


def report_inventory(server) -> dict[str, int]:
    state = requests.get(server.url + "/__admin/state/promotions", timeout=5).json()
    return dict(next(i for i in state["inventory"] if i["environment"] == "devo"))


def test_controls_drive_the_documented_admin_api(server, page):
    tab(page, "controls")
    # clock: freeze, advance, set
    page.click("#btn-freeze")
    expect(page.locator("#clock-frozen")).to_have_text("frozen")
    page.fill("#clock-set", "2026-05-15T14:00:00Z")
    page.click("#btn-set-clock")
    expect(page.get_by_test_id("clock-now")).to_have_text("2026-05-15 14:00:00Z")
    page.fill("#advance-minutes", "90")
    page.click("#btn-advance")
    expect(page.get_by_test_id("clock-now")).to_have_text("2026-05-15 15:30:00Z")
    assert requests.get(server.url + "/__admin/clock", timeout=5).json() == {
        "now": "2026-05-15T15:30:00.000Z",
        "frozen": True,
    }
    # faults: add one from the text box, see it fire, remove it
    page.click("#btn-add-fault")
    expect(page.get_by_test_id("controls-message")).to_have_text("fault added")
    fault_row = page.locator("#faults tbody tr", has_text="SystemTemporarilyUnavailable")
    expect(fault_row).to_contain_text("0 / 0")
    faulted = create_card(server, "MocksProdFault1")
    assert (
        faulted.status_code == 400 and faulted.json()["errorType"] == "SystemTemporarilyUnavailable"
    )
    expect(fault_row).to_contain_text("1 / 1", timeout=SECOND)
    fault_row.locator("button", has_text="remove").click()
    expect(page.locator("#faults tbody")).to_contain_text("no faults")
    assert requests.get(server.url + "/__admin/faults", timeout=5).json() == {"faults": []}
    # expectations: a run-time expectation, checked from the page
    added = requests.post(
        server.url + "/__admin/expectations",
        json={
            "name": "one-create",
            "match": {"operation": "CreateGiftCard"},
            "count": {"exactly": 5},
        },
        timeout=5,
    )
    assert added.status_code == 200, added.text
    page.click("#btn-verify")
    expect(page.get_by_test_id("verify-result")).to_contain_text("NOT MET")
    expect(page.get_by_test_id("verify-result")).to_contain_text("FAIL one-create")
    # switch scenario (from the server's scenario directory), then reset
    page.select_option("#scenario-choice", "failure-drill")
    page.click("#btn-switch")
    expect(page.get_by_test_id("controls-message")).to_have_text("switched to failure-drill")
    active = requests.get(server.url + "/__admin/scenarios", timeout=5).json()["active"]
    assert [a["name"] for a in active][-1] == "failure-drill"  # it extends the default
    page.click("#btn-reset")
    expect(page.get_by_test_id("controls-message")).to_contain_text("reset")
    assert requests.get(server.url + "/__admin/journal", timeout=5).json()["size"] <= 1


def test_the_dashboard_loads_nothing_from_outside(server, page):
    hosts = set()
    page.on("request", lambda req: hosts.add(req.url.split("/")[2]))
    page.reload()
    tab(page, "journal")
    assert hosts == {server.url.split("/")[2]}
    served = requests.get(server.url + "/__admin/dashboard", timeout=5)
    assert "default-src 'none'" in served.headers["Content-Security-Policy"]
    for asset in ("", "/dashboard.js", "/dashboard.css"):
        text = requests.get(server.url + "/__admin/dashboard" + asset, timeout=5).text
        assert "http://" not in text and "https://" not in text, asset
    missing = requests.get(server.url + "/__admin/dashboard/../admin.py", timeout=5)
    assert missing.status_code == 404


def test_every_panel_with_traffic_in_it(server, page):
    """Some traffic of every API, then each panel as a person sees it (and, with
    MOCKSRV_SCREENSHOTS=DIR, a screenshot of each)."""
    for i, amount in enumerate((25, 40, 10)):
        assert create_card(server, f"MocksProdShot{i}", amount).status_code == 200
    body = json.dumps({"creationRequestId": "MocksProdShot2", "partnerId": "MocksProd"}).encode()
    assert PROD.send("POST", server.url + "/CancelGiftCard", AGCOD_HEADERS, body=body).ok
    verify = server.url + "/v1/customer/benefit/PRIME_3P_PARTNER_BENEFIT/offer-code/{}/{}"
    for method, code, op in (("POST", "444444444", "redeem"), ("GET", "123456789", "verify")):
        r = PRIME.send(
            method,
            verify.format(code, op),
            {"x-amz-marketplace": "US"},
            unsigned={"x-amz-request-id": f"shot-{op}"},
        )
        assert r.json() == {"message": "SUCCESS"}, r.text
    s3 = s3_client(server.url)
    codes = "".join(f"SHOT-{i:04d},new\n" for i in range(120)) + "SHOT-0001,new\nbad code!,new\n"
    wait_report(s3, upload(s3, codes.encode()))
    for member in ("amzn1.member.1", "amzn1.member.2"):
        requests.get(server.url + "/promotions/PROMO-0001/landing", params={"member": member})
    requests.post(
        server.url + "/__admin/faults",
        json={"match": {"api": "prime"}, "latency_ms": 200, "probability": 0.5, "seed": 7},
        timeout=5,
    )
    assert create_card(server, "MocksProdShotBad", signer=WRONG).status_code == 403
    shots = os.environ.get("MOCKSRV_SCREENSHOTS")
    for name, filled in (
        ("overview", "#identities tbody tr"),
        ("journal", "#journal tbody tr.clickable"),
        ("agcod", "#agcod-cards tbody tr"),
        ("prime", "#prime-codes tbody tr"),
        ("promotions", "#promo-assignments tbody tr"),
        ("controls", "#faults tbody tr"),
    ):
        tab(page, name)
        expect(page.locator(filled).first).to_be_visible()
        if name == "journal":
            page.locator("#journal tbody tr", has_text="signature:mismatch").click()
            expect(page.get_by_test_id("sig-canonical")).to_contain_text("/CreateGiftCard")
        if name == "controls":
            page.click("#btn-verify")
            expect(page.get_by_test_id("verify-result")).to_contain_text("MET")
        if shots:
            Path(shots).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(shots) / f"{name}.png"), full_page=True)


def test_on_a_server_beyond_loopback_the_page_asks_for_the_token(browser, server_factory):
    srv = server_factory(host="0.0.0.0", admin_token="dash-token-1")  # tests connect to 127.0.0.1
    url = f"http://127.0.0.1:{srv.port}"
    # the page and its files load without the token; its data does not
    assert requests.get(url + "/__admin/dashboard", timeout=5).status_code == 200
    assert requests.get(url + "/__admin/identities", timeout=5).status_code == 401
    context = browser.new_context()
    pg = context.new_page()
    try:
        pg.goto(url + "/")
        expect(pg.locator("#login")).to_be_visible()
        pg.fill("#token", "not-the-token")
        pg.click("#login button[type=submit]")
        expect(pg.locator("#login-error")).to_have_text("that token was refused")
        pg.fill("#token", "dash-token-1")
        pg.click("#login button[type=submit]")
        expect(pg.locator("#login")).to_be_hidden()
        row = pg.locator("#identities tbody tr", has_text="agcod-production")
        expect(row).to_contain_text("MockSrvAgcodDemoSecretKey000000000000002")  # authenticated
        expect(pg.get_by_test_id("status")).to_have_text("live")
    finally:
        context.close()


def test_the_journal_names_the_assumed_role_of_a_session(server, page):
    from tests.support.sts import assume, session_client

    tab(page, "journal")
    s3 = session_client("s3", server.url, assume(server.url)["Credentials"])
    s3.put_object(Bucket="partner-promotions-devo", Key=NEW_KEY, Body=b"ROLE-DASH-1,new\n")
    row = page.locator("#journal tbody tr", has_text="PutObject")
    expect(row).to_contain_text(
        "arn:aws:sts::111122223333:assumed-role/clientname-PromoCodesUpload-Role/", timeout=SECOND
    )
    expect(page.locator("#journal tbody tr", has_text="AssumeRole")).to_contain_text("clientname")

"""Issue 22: the dashboard's journal at 1280 px, its first paint, the traffic chart and the
low-inventory banner, in headless Chromium (Playwright, and one-shot `chromium --headless`)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, expect, sync_playwright

from tests.support.browser import CHROMIUM_ARGS, chromium_path, png_pixels
from tests.support.signing import PRIME_KEY, PRIME_SECRET, Signer

PRIME = Signer(PRIME_KEY, PRIME_SECRET, "execute-api", "us-east-1")
WRONG = Signer("AKIAMOCKSRVAGCOD0002", "not-the-secret", "AGCODService", "us-east-1")
VERIFY = "/v1/customer/benefit/PRIME_3P_PARTNER_BENEFIT/offer-code/123456789/verify"
RED = (0xC6, 0x28, 0x28)  # dashboard.css --bad: a failed signature's outcome
WIDTH, HEIGHT = 1280, 800


def verify(url: str) -> requests.Response:
    return PRIME.send("GET", url + VERIFY, {"x-amz-marketplace": "US"},
                      unsigned={"x-amz-request-id": "dash"})  # fmt: skip


def bad_create(url: str) -> requests.Response:
    body = json.dumps({"creationRequestId": "MocksProdWide1", "partnerId": "MocksProd",
                       "value": {"currencyCode": "USD", "amount": 5}}).encode()  # fmt: skip
    headers = {"content-type": "application/json", "accept": "application/json"}
    return WRONG.send("POST", url + "/CreateGiftCard", headers, body=body)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def server(server_factory):
    return server_factory()


@pytest.fixture
def page(browser, server) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert not errors, errors


def test_every_journal_column_is_readable_at_1280(server, page):
    for _ in range(3):
        verify(server.url)
    assert bad_create(server.url).status_code == 403
    requests.get(server.url + "/v1/" + "long-path-segment/" * 30, timeout=10)
    page.goto(server.url + "/__admin/dashboard#journal")
    rows = page.locator("#journal tbody tr.clickable")
    expect(rows).to_have_count(5)
    table = page.locator("#journal").bounding_box()
    assert table and table["width"] >= 0.95 * (WIDTH - 40)  # the page's width, less its margins
    # every cell's box, read at one moment in the page (the table is redrawn as calls come in)
    cells = page.evaluate(
        """() => [...document.querySelectorAll("#journal tr")].flatMap((tr) =>
             [...tr.cells].map((c) => ({text: c.innerText, cls: c.className,
               right: c.getBoundingClientRect().right, bottom: c.getBoundingClientRect().bottom,
               cut: c.scrollWidth > c.clientWidth})))"""
    )
    headers = [c for c in cells if c["text"] in ("status", "latency")]
    assert len(headers) == 2 and all(c["right"] <= WIDTH for c in headers), headers
    columns = {"status", "latency", "outcome", "identity", "operation"}
    shown = [c for c in cells if columns & set(c["cls"].split())]
    assert len(shown) == 5 * 5
    for c in shown:
        assert c["right"] <= WIDTH and c["bottom"] <= HEIGHT and not c["cut"], c
    failed = page.locator("#journal tbody tr", has_text="signature:mismatch")
    expect(failed.locator("td.identity")).to_have_text("agcod-production")  # the key is known
    expect(failed.locator("td.status")).to_have_text("403")


def one_shot(url: str, flag: str) -> subprocess.CompletedProcess[bytes]:
    cmd = [
        chromium_path(),
        "--headless",
        *CHROMIUM_ARGS,
        f"--window-size={WIDTH},{HEIGHT}",
        flag,
        url,
    ]
    return subprocess.run(cmd, capture_output=True, timeout=90)


def red_pixels(png: bytes) -> int:
    _, _, pixels = png_pixels(png, rows=360)  # the header and the first rows of the journal
    return sum(1 for p in pixels if all(abs(a - b) <= 24 for a, b in zip(p, RED, strict=True)))


def test_a_one_shot_screenshot_shows_the_journal_rows(server, tmp_path):
    url = server.url + "/__admin/dashboard#journal"
    empty = tmp_path / "empty.png"
    assert one_shot(url, f"--screenshot={empty}").returncode == 0
    verify(server.url)
    assert bad_create(server.url).status_code == 403
    shot = tmp_path / "journal.png"
    done = one_shot(url, f"--screenshot={shot}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert red_pixels(empty.read_bytes()) == 0
    assert red_pixels(shot.read_bytes()) > 30  # the failed signature's outcome, in red
    dom = one_shot(url, "--dump-dom").stdout.decode()
    assert "signature:mismatch" in dom and "agcod-production" in dom and ">live<" in dom
    assert "connecting…" not in dom


def test_the_first_paint_holds_data_only_for_who_may_read_it(server, server_factory):
    page = requests.get(server.url + "/__admin/dashboard", timeout=10).text
    assert 'id="initial-data"' in page and "MockSrvPrimeDemoSecretKey" in page
    # a page from a rebinding attack's Host, or a server that needs the token: no data
    foreign = requests.get(server.url + "/__admin/dashboard", headers={"Host": "evil.example"},
                           timeout=10).text  # fmt: skip
    assert 'id="initial-data"' not in foreign and "MockSrv" not in foreign
    guarded = server_factory(admin_token="first-paint-token")
    page = requests.get(guarded.url + "/__admin/dashboard", timeout=10).text
    assert 'id="initial-data"' not in page and "MockSrv" not in page
    # a hostile path is data inside the JSON, never markup
    requests.get(server.url + "/</script><script>alert(1)</script>", timeout=10)
    page = requests.get(server.url + "/__admin/dashboard", timeout=10).text
    assert "</script><script>alert" not in page and "\\u003c/script\\u003e" in page


def test_the_traffic_chart_moves_after_a_burst(server, page):
    page.goto(server.url + "/__admin/dashboard#overview")
    expect(page.get_by_test_id("status")).to_have_text("live")
    expect(page.get_by_test_id("traffic-now")).to_have_text("no requests yet")
    for _ in range(25):
        assert verify(server.url).status_code == 200
    line = page.locator("#traffic-rate path[data-api=prime]")
    expect(line).to_have_attribute("data-requests", "25", timeout=3000)
    expect(page.get_by_test_id("traffic-now")).to_have_text("25 requests")
    expect(page.locator("#traffic-latency path[data-api=prime]")).to_have_count(1)
    drawn = line.get_attribute("d") or ""
    heights = [float(p.split(" ")[1]) for p in drawn.replace("M", "L").split("L")[1:] if p.strip()]
    assert min(heights) < 20  # the burst reaches the top of the chart
    expect(page.locator("#traffic-legend li.api-prime")).to_contain_text("prime")


def test_the_low_inventory_warning_is_a_banner(server, page):
    page.goto(server.url + "/__admin/dashboard#promotions")
    banner = page.get_by_test_id("promo-warnings")
    expect(banner).to_be_visible()
    expect(banner).to_have_attribute("role", "alert")
    expect(banner).to_contain_text(
        "Low inventory (devo): promotion PROMO-0001 has 5 available codes"
    )
    box = banner.bounding_box()
    inventory = page.locator("#promo-inventory").bounding_box()
    assert box and inventory and box["y"] < inventory["y"] and box["y"] + box["height"] < HEIGHT
    style = banner.evaluate(
        "b => [getComputedStyle(b).backgroundColor, parseFloat(getComputedStyle(b).fontSize)]"
    )
    assert style[0] not in ("rgba(0, 0, 0, 0)", "transparent") and style[1] >= 16

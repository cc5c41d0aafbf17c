"""The dashboard's tenant picker in headless Chromium (Debian's `chromium`, driven by Playwright):
the default tenant and every tenant, each panel showing the picked tenant's journal and state (and
its controls acting on it alone), and /__admin/tenants/{id}/dashboard opening with it picked."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, expect, sync_playwright

from tests.support.browser import CHROMIUM_ARGS, chromium_path
from tests.support.tenants import create_card, keys, make, prime

DEMO_PROD = ("AKIAMOCKSRVAGCOD0002", "MockSrvAgcodDemoSecretKey000000000000002")
SECOND = 1000  # ms


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert not errors, errors


def _tab(page: Page, name: str) -> None:
    page.click(f"#tabs button[data-panel={name}]")
    expect(page.get_by_test_id(f"panel-{name}")).to_be_visible()


def test_picking_a_tenant_shows_its_journal_and_state_not_the_defaults(server_factory, page):
    url = server_factory().url
    tenant = make(url, name="ci-job-7")
    assert create_card(url, keys(tenant, "agcod-production"), "MocksProdTen1", 40).ok
    assert prime(url, keys(tenant, "prime-partner"), "123456789").ok
    assert create_card(url, DEMO_PROD, "MocksProdDef1", 25).ok
    page.goto(url + "/__admin/dashboard#journal")
    picker = page.get_by_test_id("tenant-picker")
    expect(picker.locator("option")).to_have_text(["default", f"ci-job-7 ({tenant['id']})"])
    journal = page.locator("#journal tbody")
    expect(journal).to_contain_text("CreateGiftCard", timeout=SECOND)
    expect(journal.locator("tr")).to_have_count(1)  # the default's one card
    expect(journal).not_to_contain_text("verify")

    picker.select_option(tenant["id"])
    expect(page).to_have_url(f"{url}/__admin/tenants/{tenant['id']}/dashboard#journal")
    expect(journal.locator("tr", has_text="verify")).to_be_visible(timeout=SECOND)
    expect(journal.locator("tr")).to_have_count(2)  # the tenant's card and verify, nothing else
    _tab(page, "agcod")
    cards = page.locator("#agcod-cards tbody")
    expect(cards).to_contain_text("MocksProdTen1", timeout=SECOND)
    expect(cards).not_to_contain_text("MocksProdDef1")
    partner = page.locator("#agcod-partners tbody tr", has_text="MocksProd")
    expect(partner).to_contain_text("9960.00 USD")  # the tenant's funds: 10000 - 40
    _tab(page, "overview")
    prod = page.locator("#identities tbody tr", has_text="agcod-production")
    expect(prod).to_contain_text(keys(tenant, "agcod-production")[0])

    # the controls act on the picked tenant alone
    _tab(page, "controls")
    page.click("#btn-freeze")
    expect(page.get_by_test_id("controls-message")).to_have_text("clock frozen")
    base = f"{url}/__admin/tenants/{tenant['id']}"
    assert requests.get(base + "/clock", timeout=10).json()["frozen"] is True
    assert requests.get(url + "/__admin/clock", timeout=10).json()["frozen"] is False

    picker.select_option("")  # back to the default tenant
    expect(page).to_have_url(f"{url}/__admin/dashboard#controls")
    _tab(page, "agcod")
    expect(cards).to_contain_text("MocksProdDef1", timeout=SECOND)
    expect(cards).not_to_contain_text("MocksProdTen1")
    expect(partner).to_contain_text("9975.00 USD")


def test_a_tenants_dashboard_opens_with_it_picked(server_factory, page):
    url = server_factory().url
    tenant = make(url)
    assert create_card(url, keys(tenant, "agcod-production"), "MocksProdOwn1", 5).ok
    assert create_card(url, DEMO_PROD, "MocksProdDef2", 5).ok
    page.goto(f"{url}/__admin/tenants/{tenant['id']}/dashboard#agcod")
    expect(page.get_by_test_id("tenant-picker")).to_have_value(tenant["id"])
    cards = page.locator("#agcod-cards tbody")
    expect(cards).to_contain_text("MocksProdOwn1", timeout=SECOND)
    expect(cards).not_to_contain_text("MocksProdDef2")
    # deleted while shown: the picker says so and the page reports the 404, not another's data
    requests.delete(f"{url}/__admin/tenants/{tenant['id']}", timeout=10)
    expect(page.get_by_test_id("status")).to_have_text(
        f"no tenant '{tenant['id']}'", timeout=10 * SECOND
    )
    expect(page.get_by_test_id("tenant-picker").locator("option:checked")).to_have_text(
        f"{tenant['id']} (not found)", timeout=10 * SECOND
    )
    expect(cards).to_contain_text("MocksProdOwn1")  # what was drawn stays; nothing else comes

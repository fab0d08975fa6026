"""A tenant's domain and branding in a real browser: chromium maps the tenant's host name to
loopback (its own resolver rule, /etc/hosts untouched), and the sign-in page there and the
watch page show the tenant's name, logo and colour (computed style and painted pixels)."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
from panel_browser import CHROMIUM, CHROMIUM_ARGS, Panel
from playwright.sync_api import Page, expect, sync_playwright

from support.admin_api import USER_PASSWORD, created, make_tenant
from support.png_pixels import share_of
from support.server import RunningServer

HOST = "tv.drums.test"
COLOUR = "#c0306a"
RGB = (0xC0, 0x30, 0x6A)
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {HOST} 127.0.0.1"],
            headless=True,
        )
        context = browser.new_context(viewport={"width": 1000, "height": 700})
        tab = context.new_page()
        tab.set_default_timeout(30_000)  # the panel's first OpenAPI read is slow under load
        errors: list[str] = []
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        yield tab
        browser.close()
        assert errors == []


def test_the_tenants_domain_and_watch_page_show_its_branding(
    page: Page, sqlite_server: RunningServer
) -> None:
    world = make_tenant(sqlite_server, "drums")
    with world.client() as c:
        created(c.post("/api/v1/domains", json={"host": HOST}))
        r = c.put(
            "/api/v1/branding",
            json={"display_name": "Drum Academy", "primary_color": COLOUR, "accent_color": ""},
        )
        assert r.status_code == 200, r.text
        logo = c.put("/api/v1/branding/logo", files={"file": ("l.png", PNG, "image/png")})
        assert logo.status_code == 200, logo.text
        channel = created(c.post("/api/v1/channels", json={"name": "Groove Room"}))
        ref = c.get(f"/api/v1/channels/{channel['id']}/share-link").json()["ref"]
    port = sqlite_server.base_url.rsplit(":", 1)[1]

    # The sign-in page on the tenant's own domain.
    page.goto(f"http://{HOST}:{port}/panel/")
    # The first read of the OpenAPI document is slow on a loaded machine: wait longer.
    expect(page.get_by_role("heading", name="Sign in to Drum Academy")).to_be_visible(
        timeout=30_000
    )
    brand = page.locator("#brand-name")
    expect(brand).to_have_text("Drum Academy")
    expect(page.locator("#brand-logo img")).to_have_attribute("alt", "Drum Academy logo")
    assert brand.evaluate("e => getComputedStyle(e).color") == "rgb(192, 48, 106)"
    top = page.locator("header.top")
    assert top.evaluate("e => getComputedStyle(e).borderBottomColor") == "rgb(192, 48, 106)"
    assert share_of(top.screenshot(), RGB) > 0.01  # the border is really painted

    # The same panel on the platform's address: the platform's look.
    page.goto(f"{sqlite_server.base_url}/panel/")
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible(timeout=30_000)
    expect(page.locator("#brand-name")).to_have_text("Palinsesto")
    assert share_of(page.locator("header.top").screenshot(), RGB) == 0

    # The watch page of one of its channels, wherever it is opened.
    page.goto(f"{sqlite_server.base_url}/watch/{ref}")
    expect(page.locator("#title")).to_have_text("Groove Room", timeout=30_000)
    expect(page.locator("#brand-name")).to_have_text("Drum Academy")
    assert page.locator("#brand-name").evaluate("e => getComputedStyle(e).color") == (
        "rgb(192, 48, 106)"
    )
    assert share_of(page.screenshot(), RGB) > 0.001
    assert "Drum Academy" in page.title()


def test_the_owner_adds_a_domain_reads_its_record_and_checks_dns(
    panel: Panel, sqlite_server: RunningServer
) -> None:
    world = make_tenant(sqlite_server, "checks")
    page = panel.page
    page.set_default_timeout(30_000)
    panel.sign_in(world.users["owner"].username, USER_PASSWORD)
    panel.open("Domains & branding")
    expect(page.get_by_text("No domain yet")).to_be_visible(timeout=30_000)
    page.get_by_label("Host name").fill("localhost")  # resolves on loopback, no network
    page.get_by_role("button", name="Add domain").click()
    card = page.locator('[data-domain="localhost"]')
    expect(card.locator("pre")).to_have_text("localhost  A  127.0.0.1")
    expect(card).to_contain_text("Not checked yet.")
    card.get_by_role("button", name="Check DNS").click()
    expect(card.get_by_role("status")).to_have_text("localhost points at this platform.")
    # A taken or malformed name is refused next to the form.
    panel.expected_statuses.update({409, 422})
    page.get_by_label("Host name").fill("http://bad")
    page.get_by_role("button", name="Add domain").click()
    expect(page.get_by_role("alert").first).to_contain_text("host name")
    page.get_by_label("Main colour (#rrggbb)").fill("#00aa55")
    page.get_by_label("Display name").fill("Checks TV")
    page.get_by_role("button", name="Save branding").click()
    expect(page.locator("#toast")).to_have_text("Branding saved.")
    with world.client() as c:
        assert c.get("/api/v1/branding").json()["primary_color"] == "#00aa55"

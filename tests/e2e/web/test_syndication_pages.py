"""Syndication in the panel, in a real browser: bravo's owner copies its partner code from
its "Directory" page and hands it over; alpha's owner offers a channel to that code on the
"Offers" page (a mistyped code is refused there, with nothing offered); bravo's owner
finds the offer in its "Directory" and requests it, alpha approves it, and the channel is
then bravo's to place in a bouquet (its own channel list shows it)."""

from __future__ import annotations

from panel_browser import Panel, axe_serious
from playwright.sync_api import expect

from support.admin_api import USER_PASSWORD, created, make_tenant
from support.server import RunningServer

PATTERN = [{"kind": "test_pattern", "url": "testsrc://320x180@25"}]


def test_offer_request_and_approval_in_the_panel(
    panel: Panel, sqlite_server: RunningServer
) -> None:
    page = panel.page
    page.set_default_timeout(30_000)  # the panel's first OpenAPI read is slow under load
    alpha = make_tenant(sqlite_server, "alpha")
    bravo = make_tenant(sqlite_server, "bravo")
    with alpha.client() as a:
        created(a.post("/api/v1/channels", json={"name": "Drum Stage", "sources": PATTERN}))
    charlie = make_tenant(sqlite_server, "charlie")

    # Bravo's owner reads its partner code on its Directory page and copies it.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    panel.sign_in(bravo.users["owner"].username, USER_PASSWORD)
    panel.open("Directory")
    card = page.locator("#receive-offers")
    expect(card.get_by_role("heading", name="Your partner code")).to_be_visible()
    expect(page.locator("#partner-code")).to_have_text(bravo.partner_code())
    card.get_by_role("button", name="Copy code").click()
    expect(card.get_by_role("status")).to_have_text("Copied.")
    code = page.evaluate("navigator.clipboard.readText()")
    assert code == bravo.partner_code()
    expect(page.locator("#directory")).to_contain_text("Nothing is offered")
    assert axe_serious(page) == []
    page.get_by_role("button", name="Sign out").click()

    panel.sign_in(alpha.users["owner"].username, USER_PASSWORD)
    panel.open("Offers")
    expect(page.locator("#offers")).to_contain_text("No offer yet")
    page.get_by_label("Channel", exact=True).select_option(label="Drum Stage")
    # A mistyped code: refused where it was typed, and nothing is offered.
    panel.expected_statuses.add(422)
    partner = page.get_by_label("Only to the panel with partner code")
    partner.fill("ZZZZ-ZZZZ-ZZZZ" if code != "ZZZZ-ZZZZ-ZZZZ" else "YYYY-YYYY-YYYY")
    page.get_by_role("button", name="Offer", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text(
        "No panel takes offers with this partner code"
    )
    expect(page.locator("#offers")).to_contain_text("No offer yet")
    partner.fill(code.lower())  # as typed from a message: case does not matter
    page.get_by_label("Each partner's viewers at once").fill("50")
    page.get_by_label("All partners' viewers at once").fill("80")
    page.get_by_role("button", name="Offer", exact=True).click()
    offers = page.locator("#offers")
    expect(offers).to_contain_text("Drum Stage")
    expect(offers).to_contain_text("private to Bravo")
    expect(offers).to_contain_text("50 viewers at once per partner")
    expect(offers).to_contain_text("80 viewers at once in all")
    assert axe_serious(page) == []
    page.get_by_role("button", name="Sign out").click()

    # Charlie, who was given no code, is offered nothing.
    panel.sign_in(charlie.users["owner"].username, USER_PASSWORD)
    panel.open("Directory")
    expect(page.locator("#directory")).to_contain_text("Nothing is offered")
    expect(page.locator("#partner-code")).to_have_text(charlie.partner_code())
    page.get_by_role("button", name="Sign out").click()

    panel.sign_in(bravo.users["owner"].username, USER_PASSWORD)
    panel.open("Directory")
    row = page.locator("#directory tr", has_text="Drum Stage")
    expect(row).to_contain_text("Alpha")
    row.get_by_role("button", name="Request").click()
    expect(page.locator("#my-requests")).to_contain_text("requested")
    expect(row).to_contain_text("Requested")
    assert axe_serious(page) == []
    page.get_by_role("button", name="Sign out").click()

    panel.sign_in(alpha.users["owner"].username, USER_PASSWORD)
    panel.open("Offers")
    partner = page.locator("#partners tr", has_text="Bravo")
    expect(partner).to_contain_text("requested")
    partner.get_by_role("button", name="Approve").click()
    expect(partner).to_contain_text("active")
    expect(partner.get_by_role("button", name="Revoke")).to_be_visible()
    expect(page.locator("#partner-audience")).to_contain_text("Bravo")
    page.get_by_role("button", name="Sign out").click()

    panel.sign_in(bravo.users["owner"].username, USER_PASSWORD)
    panel.open("Directory")
    mine = page.locator("#my-requests tr", has_text="Drum Stage")
    expect(mine).to_contain_text("active")
    mine.get_by_role("link", name="place it in a bouquet").click()
    expect(page.get_by_role("heading", level=1, name="Channels")).to_be_visible()
    expect(page.locator("#main")).to_contain_text("Drum Stage")
    page.get_by_role("button", name="Edit Drum Stage").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Carried from another panel")).to_be_visible()
    expect(dialog.get_by_role("button", name="Play preview")).to_have_count(0)
    dialog.get_by_label("Number").fill("701")
    dialog.get_by_role("button", name="Save").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    with bravo.client() as b:
        (entry,) = b.get("/api/v1/channels").json()["items"]
        assert entry["name"] == "Drum Stage" and entry["syndication_id"] and entry["sources"] == []
        assert entry["number"] == 701

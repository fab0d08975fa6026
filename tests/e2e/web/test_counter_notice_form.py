"""The public counter-notice form in a real browser: the holder of a suspended line objects,
is told per field what the law requires and the objection lacks, then gets a receipt with
the date the suspension ends unless the notifier goes to court; the notifier's receipt
shows the objection."""

from __future__ import annotations

import re

from panel_browser import Panel
from playwright.sync_api import expect

from support.admin_api import make_tenant
from support.legal import act, catalogue, file_notice
from support.server import RunningServer


def test_counter_notice_form_names_missing_elements_then_gives_a_receipt(
    panel: Panel, sqlite_server: RunningServer
) -> None:
    world = make_tenant(sqlite_server, "acme")
    channel_id = catalogue(world, ["fan-web"])
    receipt = file_notice(sqlite_server, world, f"/live/fan-web/viewer-pass-1/{channel_id}.ts")
    reference = act(world, receipt, "suspend_line")["reference"]

    page = panel.page
    page.goto(f"{panel.base_url}/counter-notice?reference={reference}")
    expect(page.get_by_label("Reference of the decision")).to_have_value(reference)
    panel.expected_statuses.add(422)
    with page.expect_response(re.compile(r"/public/counter-notices$")) as response:
        page.get_by_role("button", name="Send the counter-notice").click()
    assert response.value.status == 422
    expect(page.locator('.field-error[data-for="good_faith"]')).to_contain_text("512(g)(3)(C)")
    expect(page.locator('.field-error[data-for="consent_jurisdiction"]')).to_contain_text(
        "jurisdiction"
    )
    expect(page.locator('.field-error[data-for="signature"]')).to_contain_text("512(g)(3)(A)")
    expect(page.locator('.field-error[data-for="reference"]')).to_be_empty()

    page.get_by_label("Why is the decision wrong?").fill("I only ever watched at home myself.")
    page.get_by_label("Your full name", exact=True).fill("Fan Web")
    page.get_by_label("Your e-mail address").fill("fan@home.example")
    page.get_by_label("Postal address").fill("3 High Street, Leeds")
    page.get_by_label("Telephone").fill("+44 113 496 0000")
    page.locator("#c-good-faith").check()
    page.locator("#c-jurisdiction").check()
    page.get_by_label("Signature: type your full name").fill("Fan Web")
    with page.expect_response(re.compile(r"/public/counter-notices$")) as response:
        page.get_by_role("button", name="Send the counter-notice").click()
    assert response.value.status == 201
    expect(page.get_by_role("heading", name="Counter-notice received")).to_be_visible()
    code = page.locator("#receipt-code").inner_text()
    expect(page.locator("#receipt-due")).not_to_be_empty()

    with world.client() as c:
        counters = c.get("/api/v1/counter-notices").json()["items"]
    assert [x["receipt"] for x in counters] == [code]
    assert counters[0]["email"] == "fan@home.example" and counters[0]["status"] == "pending"
    with sqlite_server.client() as c:
        told = c.get(f"/api/v1/public/notices/{receipt}").json()["counter_notices"]
    assert [o["status"] for o in told] == ["pending"]

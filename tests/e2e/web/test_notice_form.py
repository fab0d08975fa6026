"""The public notice form in a real browser: a rights holder files a notice, is told per field
what the law requires and the notice lacks, then gets a receipt the operator can act on."""

from __future__ import annotations

import re

from panel_browser import Panel
from playwright.sync_api import expect

from support.admin_api import make_tenant
from support.server import RunningServer


def test_notice_form_shows_missing_elements_then_a_receipt(
    panel: Panel, sqlite_server: RunningServer
) -> None:
    world = make_tenant(sqlite_server, "acme")
    page = panel.page
    page.goto(f"{panel.base_url}/notice?service={world.slug}")
    expect(page.get_by_label("Service")).to_have_value(world.slug)

    # DMCA shows its extra elements; sending it empty names each one beside its field.
    page.get_by_label("Under which law").select_option("dmca")
    expect(page.get_by_label("Signature: type your full name")).to_be_visible()
    panel.expected_statuses.add(422)
    with page.expect_response(re.compile(r"/public/notices$")) as response:
        page.get_by_role("button", name="Send the notice").click()
    assert response.value.status == 422
    expect(page.locator('.field-error[data-for="signature"]')).to_contain_text("512(c)(3)(A)(i)")
    expect(page.locator('.field-error[data-for="work"]')).to_contain_text("copyrighted work")

    # The DSA needs fewer elements; filled in, the notice is received.
    page.get_by_label("Under which law").select_option("dsa")
    expect(page.get_by_label("Signature: type your full name")).to_be_hidden()
    page.get_by_label("Where is the content?").fill("http://tv.example/live/someone/secret/7.ts")
    page.get_by_label("Why is it illegal?").fill("A restream of our concert without a licence.")
    page.get_by_label("Your name").fill("Label Records")
    page.get_by_label("Your e-mail address").fill("legal@label.example")
    page.locator("#n-good-faith").check()
    with page.expect_response(re.compile(r"/public/notices$")) as response:
        page.get_by_role("button", name="Send the notice").click()
    assert response.value.status == 201
    expect(page.get_by_role("heading", name="Notice received")).to_be_visible()
    code = page.locator("#receipt-code").inner_text()
    expect(page.locator("#receipt-targets")).to_contain_text("2 item(s)")

    with world.client() as c:
        notices = c.get("/api/v1/notices").json()["items"]
    assert [n["receipt"] for n in notices] == [code]
    assert notices[0]["notifier_email"] == "legal@label.example"

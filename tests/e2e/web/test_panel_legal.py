"""The legal pages in a real browser: the owner records rights to a channel with its
contract as evidence (SHA-256 shown, expiry alert raised); a notice arrives through the
public form; the owner decides from the inbox (blocking the channel for the line it names)
and the channel leaves the line's player API; the owner lifts the restriction and the
channel is back. Then retention, counter-notices with their restore timer, and a line's
personal data exported and erased."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta

import httpx
from panel_browser import Panel, axe_serious
from playwright.sync_api import expect
from sqlalchemy import select

from palinsesto.accounts.models import Line
from support.admin_api import USER_PASSWORD, created, make_tenant
from support.legal import LINE_PASSWORD, act, catalogue, file_notice
from support.server import RunningServer

CONTRACT = b"%PDF-1.4\nLicence LIC-2026-044: Match, Italy and San Marino.\n%%EOF\n"


def _live_names(server: RunningServer, username: str) -> list[str]:
    r = httpx.get(
        f"{server.base_url}/player_api.php",
        params={"username": username, "password": LINE_PASSWORD, "action": "get_live_streams"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return [s["name"] for s in r.json()]


def test_rights_notice_action_and_lift(panel: Panel, sqlite_server: RunningServer) -> None:
    world = make_tenant(sqlite_server, "acme")
    channel_id = catalogue(world, ["fan"])
    page = panel.page
    panel.sign_in("owner-acme", USER_PASSWORD)

    # Rights to the channel, with the contract as evidence, ending in ten days.
    panel.open("Rights")
    assert axe_serious(page) == []
    page.get_by_role("button", name="Record rights for a channel").click()
    dlg = page.get_by_role("dialog", name="Rights for a channel")
    dlg.get_by_label("Channel", exact=True).select_option(label="Match")
    dlg.get_by_label("Rights holder").fill("Lega Calcio Media")
    dlg.get_by_label("Licence reference").fill("LIC-2026-044")
    ends = (datetime.now() + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M")
    dlg.get_by_label("Valid until").fill(ends)
    dlg.get_by_label("Territories").fill("it, SM")
    dlg.get_by_label("Evidence files").set_input_files(
        files=[{"name": "licence.pdf", "mimeType": "application/pdf", "buffer": CONTRACT}]
    )
    assert axe_serious(page) == []
    dlg.get_by_role("button", name="Save rights record").click()
    expect(dlg).to_be_hidden()
    table = page.get_by_role("table", name="Rights records")
    expect(table).to_contain_text("Lega Calcio Media")
    expect(table).to_contain_text("IT, SM")
    expect(table.locator("code.sha256")).to_have_text(hashlib.sha256(CONTRACT).hexdigest())
    alerts = page.get_by_role("region", name="Expiry alerts")
    expect(alerts).to_contain_text("Match")
    expect(alerts).to_contain_text("30-day alert")
    with page.expect_download() as download:
        page.get_by_role("button", name="licence.pdf (download)").click()
    path = download.value.path()
    assert path is not None and path.read_bytes() == CONTRACT
    assert axe_serious(page) == []
    panel.screenshot("rights")

    # A rights holder files a notice through the public form, naming the line's stream.
    page.goto(f"{panel.base_url}/notice?service=acme")
    page.get_by_label("Under which law").select_option("dsa")
    page.get_by_label("Where is the content?").fill(
        f"{panel.base_url}/live/fan/{LINE_PASSWORD}/{channel_id}.ts"
    )
    page.get_by_label("Why is it illegal?").fill("A restream of our match without a licence.")
    page.get_by_label("Your name").fill("Label Records")
    page.get_by_label("Your e-mail address").fill("legal@label.example")
    page.locator("#n-good-faith").check()
    page.get_by_role("button", name="Send the notice").click()
    expect(page.get_by_role("heading", name="Notice received")).to_be_visible()

    # The owner opens it from the inbox: what it names, by name; then decides.
    page.goto(f"{panel.base_url}/panel/#/notices")
    page.get_by_role("heading", level=1, name="Notice inbox").wait_for()
    assert _live_names(sqlite_server, "fan") == ["Match"]
    page.get_by_role("button", name=re.compile(r"^Open notice from Label Records")).click()
    dlg = page.get_by_role("dialog", name=re.compile(r"^Notice \d+$"))
    names = dlg.locator("dd ul.targets")
    expect(names).to_contain_text("Channel Match")
    expect(names).to_contain_text("Line fan")
    expect(dlg).to_contain_text("No decision yet.")
    assert axe_serious(page) == []
    kinds = dlg.get_by_label("Action", exact=True)
    offered = kinds.locator("option").evaluate_all("(os) => os.map((o) => o.value)")
    # The graduated actions, lightest first; suspending the whole service is the
    # platform staff's, never offered to the service's own owner.
    assert offered == [
        "",
        "end_sessions",
        "block_item",
        "suspend_line",
        "disable_item",
        "reject",
    ]
    kinds.select_option("block_item")
    dlg.get_by_label("Facts the decision relies on").fill(
        "The line's stream of Match was restreamed on a public site."
    )
    dlg.get_by_label("Review after (days)").fill("7")
    dlg.get_by_role("button", name="Decide").click()
    expect(dlg.get_by_role("status").first).to_contain_text("Block the item for the line: done.")
    decision = dlg.get_by_role("region", name=re.compile(r"Decision \d+: Block the item"))
    decision.get_by_text("Statement of reasons").click()
    expect(decision).to_contain_text("restreamed on a public site")
    assert axe_serious(page) == []
    panel.screenshot("notice-decision")
    assert "Match" not in _live_names(sqlite_server, "fan")
    dlg.get_by_role("button", name="Close").click()

    # The restriction, found among those in force, is lifted: the channel is back.
    panel.open("Restrictions")
    page.get_by_label("Show").select_option("in_force")
    decisions = page.get_by_role("table", name="Decisions")
    expect(decisions).to_contain_text("Channel Match")
    assert axe_serious(page) == []
    page.evaluate("window.scrollTo(0, 0)")
    panel.screenshot("restrictions")
    page.get_by_role("button", name=re.compile(r"^Lift decision \d+$")).click()
    lift = page.get_by_role("dialog", name="Lift: Block the item for the line")
    lift.get_by_label("Why it ends").fill("The notifier withdrew: the line had a sub-licence.")
    lift.get_by_role("button", name="Lift the restriction").click()
    expect(page.get_by_text("Restriction lifted.")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="decision")).to_have_text("No decision here.")
    assert _live_names(sqlite_server, "fan") == ["Match"]
    page.get_by_label("Show").select_option("lifted")
    expect(decisions).to_contain_text("Lifted")


def test_retention_counter_notice_and_personal_data(
    panel: Panel, sqlite_server: RunningServer
) -> None:
    world = make_tenant(sqlite_server, "acme")
    channel_id = catalogue(world, ["fan"])
    location = f"{sqlite_server.base_url}/live/fan/{LINE_PASSWORD}/{channel_id}.ts"
    action = act(world, file_notice(sqlite_server, world, location), "suspend_line")
    with sqlite_server.client() as c:
        created(
            c.post(
                "/api/v1/public/counter-notices",
                json={
                    "reference": action["reference"],
                    "name": "Fan Viewer",
                    "email": "fan@home.example",
                    "address": "1 Main Street",
                    "phone": "+1 555 0100",
                    "explanation": "I only watched at home, never restreamed.",
                    "good_faith": True,
                    "consent_jurisdiction": True,
                    "signature": "Fan Viewer",
                },
            )
        )
    page = panel.page
    panel.sign_in("owner-acme", USER_PASSWORD)

    # Retention: a removal before the truncation is refused beside its field.
    panel.open("Legal settings")
    page.get_by_label("Cut client addresses after (days)").fill("30")
    page.get_by_label("Remove client addresses after (days)").fill("10")
    panel.expected_statuses.add(422)
    page.get_by_role("button", name="Save legal settings").click()
    expect(page.locator(".field-error").filter(has_text="30")).to_be_visible()
    page.get_by_label("Remove client addresses after (days)").fill("90")
    page.get_by_role("button", name="Save legal settings").click()
    expect(page.get_by_role("status").filter(has_text="Now:")).to_contain_text(
        "after 30 days and removed after 90 days"
    )
    report = page.get_by_role("region", name="Transparency report, last 30 days")
    expect(report).to_contain_text("Counter-notices")
    expect(
        page.get_by_role("link", name="Open the published transparency report")
    ).to_have_attribute("href", re.compile(r"/t/acme/transparency$"))
    assert axe_serious(page) == []

    # The counter-notice, with its restore timer; the owner records the notifier's lawsuit.
    panel.open("Counter-notices")
    table = page.get_by_role("table", name="Counter-notices")
    expect(table).to_contain_text(re.compile(r"Restored in \d+ days"))
    assert axe_serious(page) == []
    page.get_by_role("button", name="Open counter-notice from Fan Viewer").click()
    dlg = page.get_by_role("dialog", name="Counter-notice from Fan Viewer")
    dlg.get_by_label("Legal action").fill("Tribunale di Roma, case 1234/2026, filed today.")
    dlg.get_by_role("button", name="Record legal action").click()
    expect(table).to_contain_text("Kept: legal action recorded")

    # Personal data: the line's export, then its erasure (confirmed by its name).
    panel.open("Personal data")
    card = page.get_by_role("region", name="A line (a viewer)")
    card.get_by_label("Line", exact=True).select_option(label="fan")
    with page.expect_download() as download:
        card.get_by_role("button", name="Export as JSON").click()
    path = download.value.path()
    assert path is not None
    exported = json.loads(path.read_text())
    assert exported["line"]["username"] == "fan"
    assert [d["kind"] for d in exported["decisions"]] == ["suspend_line"]
    card.get_by_role("button", name="Erase…").click()
    erase = page.get_by_role("dialog", name="Erase the personal data of fan")
    erase.get_by_label("Type fan to confirm").fill("fa")
    erase.get_by_role("button", name="Erase fan").click()
    expect(erase.get_by_role("alert")).to_have_text("Type fan exactly to confirm.")
    assert axe_serious(page) == []
    erase.get_by_label("Type fan to confirm").fill("fan")
    erase.get_by_role("button", name="Erase fan").click()
    expect(card.get_by_role("status")).to_contain_text("Erased: fan is now erased-")
    with sqlite_server.ctx.db.session() as session:
        names = list(session.scalars(select(Line.username)))
    assert len(names) == 1 and names[0].startswith("erased-")

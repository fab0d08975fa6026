"""The panel speaks the operator's language: no schema names, regular expressions or raw
validation English on any page or form, no serious accessibility violations (axe-core), a
role chosen on purpose, a password generator, a reseller's balance in the header, and a
first-hour checklist on an empty panel."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
from panel_browser import PASSWORD, Panel, axe_serious, make_user
from playwright.sync_api import Page, Route, expect
from sqlalchemy import select

from palinsesto.accounts.models import AdminUser, Line, Role, Tenant
from support.server import ADMIN_PASSWORD, ADMIN_USER, RunningServer

# What pydantic and JSON Schema say, which an operator should never read.
RAW_PHRASES = [
    "String should",
    "Input should",
    "Field required",
    "List should",
    "Value error",
    "^[",
    "]+$",
    "[a-z",
    "[A-Z",
    "{username}",
]


def _schema_names(base_url: str) -> set[str]:
    """Component names of two or more words (TenantStatus, LineOut): ours, never prose."""
    doc = httpx.get(f"{base_url}/api/v1/openapi.json", timeout=30).json()
    names = set()
    for name in doc["components"]["schemas"]:
        for part in re.split(r"[^A-Za-z]+", name):
            if re.fullmatch(r"[A-Z][a-z]+(?:[A-Z][a-z0-9]+)+", part):
                names.add(part)
    return names


def _leaks(page: Page, forbidden: set[str]) -> list[str]:
    text = page.locator("body").inner_text()
    # Select options are in the DOM but not in innerText while closed: read them too.
    options = " ".join(page.locator("option").all_inner_texts())
    whole = f"{text}\n{options}"
    found = [p for p in RAW_PHRASES if p in whole]
    found += [n for n in forbidden if re.search(rf"\b{n}\b", whole)]
    return found


def _openapi_url_ok(sqlite_server: RunningServer) -> str:
    r = httpx.get(f"{sqlite_server.base_url}/api/v1/openapi.json", timeout=30)
    if r.status_code == 200:
        return sqlite_server.base_url
    raise AssertionError(f"no OpenAPI document: {r.status_code}")


def test_no_page_or_form_shows_schema_names_regexes_or_raw_validation_errors(
    panel: Panel, sqlite_server: RunningServer
) -> None:
    forbidden = _schema_names(_openapi_url_ok(sqlite_server))
    assert "LineOut" in forbidden or "UserOut" in forbidden  # the scanner sees real names
    make_user(sqlite_server, "olivia", Role.owner)
    panel.sign_in("olivia")
    page = panel.page
    panel.expected_statuses.update({409, 422})
    problems: dict[str, list[str]] = {}
    for title in panel.nav_links():
        panel.open(title)
        page.wait_for_load_state("networkidle")
        if leaks := _leaks(page, forbidden):
            problems[title] = leaks
        if violations := axe_serious(page):
            problems[f"{title} (axe)"] = violations
        create = page.get_by_role("button", name=re.compile(r"^New "))
        if create.count() == 0:
            continue
        create.first.click()
        dialog = page.get_by_role("dialog")
        dialog.wait_for()
        # Submit the form as it opens: every required field answers in a sentence.
        submit = dialog.get_by_role("button", name="Create")
        with page.expect_response(lambda r: r.request.method == "POST"):
            submit.click()
        expect(dialog.locator("[aria-invalid]").first).to_be_visible()
        page.wait_for_load_state("networkidle")
        if leaks := _leaks(page, forbidden):
            problems[f"{title} form"] = leaks
        if violations := axe_serious(page):
            problems[f"{title} form (axe)"] = violations
        dialog.get_by_role("button", name="Close").click()
    assert problems == {}, problems


def test_a_bad_username_is_answered_in_a_sentence_and_a_password_is_generated(
    panel: Panel, sqlite_server: RunningServer
) -> None:
    make_user(sqlite_server, "olivia", Role.owner)
    panel.sign_in("olivia")
    panel.open("Lines")
    page = panel.page
    page.get_by_role("button", name="Create the first line").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Username").fill("mario rossi")
    password = dialog.get_by_label("Password", exact=True)
    dialog.get_by_role("button", name="Generate").click()
    generated = password.input_value()
    assert re.fullmatch(r"[A-Za-z0-9]{16}", generated)
    expect(password).to_have_attribute("type", "text")
    panel.expected_statuses.add(422)
    dialog.get_by_role("button", name="Create").click()
    username = dialog.get_by_label("Username")
    expect(username).to_have_attribute("aria-invalid", "")
    error_id = username.get_attribute("aria-describedby").split()[0]
    expect(page.locator(f"#{error_id}")).to_have_text(
        "Use letters, digits, dots, dashes, underscores or @ only (no spaces)."
    )
    # What was typed and generated is still there; fixing the name creates the line.
    expect(password).to_have_value(generated)
    username.fill("mario.rossi")
    dialog.get_by_role("button", name="Create").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    with sqlite_server.ctx.db.session() as session:
        line = session.scalar(select(Line).where(Line.username == "mario.rossi"))
        assert line is not None and line.password == generated


def test_a_new_user_has_no_role_until_one_is_chosen_and_never_platform_admin(
    panel: Panel, sqlite_server: RunningServer
) -> None:
    make_user(sqlite_server, "olivia", Role.owner)
    panel.sign_in("olivia")
    panel.open("Resellers & users")
    page = panel.page
    page.get_by_role("button", name="New user").click()
    dialog = page.get_by_role("dialog")
    role = dialog.get_by_label("Role")
    expect(role).to_have_value("")
    options = role.locator("option").all_inner_texts()
    assert "Platform admin" not in options and "Reseller" in options, options
    dialog.get_by_label("Username").fill("newbie")
    dialog.get_by_role("button", name="Generate").click()
    panel.expected_statuses.add(422)
    dialog.get_by_role("button", name="Create").click()
    expect(role).to_have_attribute("aria-invalid", "")
    role.select_option(label="Reseller")
    dialog.get_by_role("button", name="Create").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    with sqlite_server.ctx.db.session() as session:
        user = session.scalar(select(AdminUser).where(AdminUser.username == "newbie"))
        assert user is not None and user.role == Role.reseller


def test_reseller_buys_a_line_and_sees_the_balance_change_in_the_header(
    panel: Panel, sqlite_server: RunningServer
) -> None:
    make_user(sqlite_server, "olivia", Role.owner)
    rita = make_user(sqlite_server, "rita", Role.reseller, credits=40)
    with sqlite_server.client(sqlite_server.token("olivia", PASSWORD)) as c:
        r = c.post("/api/v1/packages", json={"name": "Gold", "duration_days": 30, "credits": 10})
        assert r.status_code == 201, r.text
    with sqlite_server.ctx.db.transaction() as session:
        tenant_id = session.scalar(select(Tenant.id).where(Tenant.slug == "acme"))
        session.add(
            Line(
                tenant_id=tenant_id,
                username="due-soon",
                password="pw-due-soon",
                reseller_id=rita,
                exp_date=datetime.now(UTC) + timedelta(days=3),
            )
        )
    panel.sign_in("rita")
    page = panel.page
    balance = page.get_by_role("status", name="Credit balance")
    expect(balance).to_have_text("40 credits")
    # Home: its lines expiring this week and what it can sell, in its words.
    expect(page.get_by_role("heading", level=1, name="My business")).to_be_visible()
    expect(page.get_by_text("due-soon")).to_be_visible()
    expect(page.get_by_text("Gold · 1 month · 10 credits")).to_be_visible()
    panel.screenshot("reseller-home")

    panel.open("Lines")
    # A reseller sells with credits: no free "New line".
    expect(page.get_by_role("button", name="New line")).to_have_count(0)
    page.get_by_role("button", name="Buy a line with credits").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Package", exact=True).select_option(label="Gold · 1 month · 10 credits")
    dialog.get_by_label("Username").fill("customer-1")
    dialog.get_by_role("button", name="Generate").click()
    panel.screenshot("reseller-buy")
    dialog.get_by_role("button", name="Buy a line with credits").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(balance).to_have_text("30 credits")
    expect(page.locator("tbody")).to_contain_text("customer-1")
    with sqlite_server.ctx.db.session() as session:
        assert session.get(AdminUser, rita).credits == 30

    # What a reseller may not do is not offered: its own id, paid-for fields, bulk extend/ban.
    expect(page.get_by_role("columnheader", name="Reseller")).to_have_count(0)
    page.get_by_role("button", name="Edit customer-1").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_label("Notes")).to_be_visible()
    expect(dialog.get_by_label("Expires")).to_have_count(0)
    expect(dialog.get_by_label("Devices at once")).to_have_count(0)
    dialog.get_by_role("button", name="Close").click()
    page.get_by_role("checkbox", name="Select customer-1").check()
    page.get_by_role("button", name="Apply to selected…").click()
    actions = page.get_by_role("dialog").get_by_label("Action").locator("option").all_inner_texts()
    assert actions == ["Enable", "Disable", "Delete"], actions
    expect(page.get_by_role("dialog").get_by_label("Days")).to_have_count(0)
    page.get_by_role("dialog").get_by_role("button", name="Close").click()

    # A reseller's pages pass the same scanner and axe.
    forbidden = _schema_names(sqlite_server.base_url)
    problems: dict[str, list[str]] = {}
    for title in panel.nav_links():
        panel.open(title)
        page.wait_for_load_state("networkidle")
        if leaks := _leaks(page, forbidden):
            problems[title] = leaks
        if violations := axe_serious(page):
            problems[f"{title} (axe)"] = violations
    assert problems == {}, problems


def test_an_empty_panel_guides_the_first_hour(panel: Panel, sqlite_server: RunningServer) -> None:
    make_user(sqlite_server, "olivia", Role.owner, tenant_slug="fresh")
    panel.sign_in("olivia")
    page = panel.page
    checklist = page.get_by_role("region", name="Getting started")
    expect(checklist).to_contain_text("0 of 5 done")
    expect(checklist.get_by_role("link", name="Test the playlist in a player")).to_be_visible()
    panel.screenshot("first-hour")
    checklist.get_by_role("link", name="Create a category").click()
    page.get_by_role("heading", level=1, name="Categories").wait_for()
    empty = page.get_by_role("region", name="No categories yet")
    expect(empty).to_contain_text("Categories group channels")
    empty.get_by_role("button", name="Create the first category").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Kind").select_option(label="Live TV")
    dialog.get_by_label("Name").fill("News")
    dialog.get_by_role("button", name="Create").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_role("region", name="No categories yet")).to_be_hidden()
    expect(page.locator("tbody")).to_contain_text("News")
    panel.open("Dashboard")
    expect(page.get_by_role("region", name="Getting started")).to_contain_text("1 of 5 done")


def test_the_platform_admin_pages_pass_the_scanner_too(
    panel: Panel, sqlite_server: RunningServer
) -> None:
    forbidden = _schema_names(sqlite_server.base_url)
    panel.page.goto(f"{sqlite_server.base_url}/panel/")
    panel.page.get_by_role("button", name="Sign in").wait_for()
    assert axe_serious(panel.page) == [], "sign-in page"
    panel.sign_in(ADMIN_USER, ADMIN_PASSWORD)
    problems: dict[str, list[str]] = {}
    for title in ("Tenants", "Resellers & users", "Servers"):
        panel.open(title)
        panel.page.wait_for_load_state("networkidle")
        if leaks := _leaks(panel.page, forbidden):
            problems[title] = leaks
        if violations := axe_serious(panel.page):
            problems[f"{title} (axe)"] = violations
    assert problems == {}, problems


def test_reference_fields_are_search_pickers(panel: Panel, sqlite_server: RunningServer) -> None:
    make_user(sqlite_server, "olivia", Role.owner)
    with sqlite_server.client(sqlite_server.token("olivia", PASSWORD)) as c:
        for name in ("Sports", "Cinema", "Kids"):
            assert c.post("/api/v1/bouquets", json={"name": name}).status_code == 201
    panel.sign_in("olivia")
    panel.open("Lines")
    page = panel.page
    page.get_by_role("button", name="Create the first line").click()
    dialog = page.get_by_role("dialog")
    bouquets = dialog.get_by_label("Bouquets", exact=True)
    expect(bouquets.locator("option")).to_have_text(["Sports", "Cinema", "Kids"])
    bouquets.select_option(label="Kids")
    # The search asks the API; what is already chosen stays chosen.
    with page.expect_response(lambda r: "/api/v1/bouquets" in r.url and "q=Spo" in r.url):
        dialog.get_by_role("searchbox", name="Search bouquets").fill("Spo")
    expect(bouquets.locator("option")).to_have_text(["Kids", "Sports"])
    bouquets.select_option(label=["Kids", "Sports"])
    dialog.get_by_label("Username").fill("picker-line")
    dialog.get_by_role("button", name="Generate").click()
    dialog.get_by_role("button", name="Create").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    with sqlite_server.client(sqlite_server.token("olivia", PASSWORD)) as c:
        line = c.get("/api/v1/lines", params={"q": "picker-line"}).json()["items"][0]
        names = {b["id"]: b["name"] for b in c.get("/api/v1/bouquets").json()["items"]}
    assert sorted(names[i] for i in line["bouquet_ids"]) == ["Kids", "Sports"]


def test_a_slow_checklist_never_overwrites_the_page_the_user_moved_to(
    panel: Panel, sqlite_server: RunningServer
) -> None:
    make_user(sqlite_server, "olivia", Role.owner)
    page = panel.page
    held: list[Route] = []

    # The checklist's bouquet count waits until the user is on another page.
    def hold(route: Route) -> None:
        held.append(route)

    page.route(re.compile(r"/api/v1/bouquets\?per_page=1$"), hold)
    panel.sign_in("olivia")
    page.wait_for_function("() => document.querySelector('h1')?.textContent === 'Dashboard'")
    panel.open("Categories")
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the checklist never asked"
    with page.expect_response(re.compile(r"/api/v1/bouquets\?per_page=1$")):
        held[0].continue_()
    page.wait_for_timeout(300)
    expect(page.get_by_role("heading", level=1)).to_have_text("Categories")
    expect(page.get_by_role("region", name="Getting started")).to_have_count(0)

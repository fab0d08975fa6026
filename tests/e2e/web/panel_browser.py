"""What the browser tests share: chromium's flags, a panel tab, users made through the models."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import ConsoleMessage, Page

from palinsesto.accounts.models import AdminUser, Role, Tenant
from palinsesto.accounts.security import hash_password
from support.server import RunningServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
# axe-core, from npm (web/package.json's devDependencies, installed by ./dev's npm ci).
AXE = Path(__file__).resolve().parents[3] / "web" / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "panel-test-password"


@dataclass
class Panel:
    """A signed-out browser tab on the panel, recording every console error."""

    page: Page
    base_url: str
    errors: list[str] = field(default_factory=list)
    # HTTP statuses a test provokes on purpose; the browser logs those failed loads itself.
    expected_statuses: set[int] = field(default_factory=set)

    def sign_in(self, username: str, password: str = PASSWORD) -> None:
        self.page.goto(f"{self.base_url}/panel/")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.get_by_role("button", name="Sign out").wait_for()

    def open(self, key: str) -> None:
        self.page.get_by_role("navigation", name="Main").get_by_role("link", name=key).click()
        self.page.get_by_role("heading", level=1, name=key).wait_for()

    def nav_links(self) -> list[str]:
        return (
            self.page.get_by_role("navigation", name="Main").get_by_role("link").all_inner_texts()
        )

    def screenshot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


def record_errors(panel: Panel) -> Callable[[ConsoleMessage], None]:
    def on_console(message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        if any(f"status of {code}" in message.text for code in panel.expected_statuses):
            return
        panel.errors.append(f"console: {message.text} @ {message.location.get('url', '')}")

    return on_console


def make_user(
    server: RunningServer,
    username: str,
    role: Role,
    tenant_slug: str | None = "acme",
    parent: str | None = None,
    credits: int = 0,
) -> int:
    """An admin user (and its tenant, once) written straight through the models."""
    from sqlalchemy import select

    with server.ctx.db.transaction() as session:
        tenant_id = None
        if tenant_slug is not None:
            tenant = session.scalar(select(Tenant).where(Tenant.slug == tenant_slug))
            if tenant is None:
                tenant = Tenant(name=tenant_slug.title(), slug=tenant_slug)
                session.add(tenant)
                session.flush()
            tenant_id = tenant.id
        parent_id = (
            session.scalar(select(AdminUser.id).where(AdminUser.username == parent))
            if parent
            else None
        )
        user = AdminUser(
            tenant_id=tenant_id,
            username=username,
            password_hash=hash_password(PASSWORD),
            role=role,
            parent_id=parent_id,
            credits=credits,
        )
        session.add(user)
        session.flush()
        return user.id


def axe_serious(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now."""
    # evaluate() runs through the debugging protocol, outside the page's CSP.
    assert AXE.exists(), f"{AXE} is missing: run `npm ci` in web/ (./dev setup does)"
    if not page.evaluate("() => Boolean(window.axe)"):
        page.evaluate(AXE.read_text() + "\n;undefined")
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', '))"
    )
    return list(result)

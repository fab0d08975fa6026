"""Browser fixtures: Debian's chromium driven by Playwright, one browser per module."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from panel_browser import CHROMIUM, CHROMIUM_ARGS, Panel, record_errors  # noqa: E402
from playwright.sync_api import Browser, sync_playwright  # noqa: E402

from support.server import RunningServer  # noqa: E402


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # launch() gives every run a fresh temporary profile (user-data dir).
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def panel(browser: Browser, sqlite_server: RunningServer) -> Iterator[Panel]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(10_000)
    result = Panel(page, sqlite_server.base_url)
    page.on("console", record_errors(result))
    page.on("pageerror", lambda exc: result.errors.append(f"page error: {exc}"))
    yield result
    context.close()
    assert result.errors == [], "console errors:\n" + "\n".join(result.errors)

"""Notice-and-action worlds for the legal tests: a channel and lines that play it, notices
naming them, decisions, and hand edits of the database (time passing, tampering)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from palinsesto.db import make_engine
from support.admin_api import TenantWorld, created
from support.cli_runner import Cli
from support.server import RunningServer

LINE_PASSWORD = "viewer-pass-1"


def catalogue(world: TenantWorld, usernames: list[str]) -> int:
    """A channel in a bouquet, and one line per username that plays it; the channel id."""
    with world.client() as c:
        channel = created(c.post("/api/v1/channels", json={"name": "Match", "mode": "on_demand"}))
        bouquet = created(c.post("/api/v1/bouquets", json={"name": "All"}))
        r = c.put(
            f"/api/v1/bouquets/{bouquet['id']}/items",
            json={"items": [{"item_type": "channel", "item_id": channel["id"]}]},
        )
        assert r.status_code == 200, r.text
        for username in usernames:
            created(
                c.post(
                    "/api/v1/lines",
                    json={
                        "username": username,
                        "password": LINE_PASSWORD,
                        "bouquet_ids": [bouquet["id"]],
                    },
                )
            )
    return int(channel["id"])


def dsa_notice(world: TenantWorld, location: str) -> dict[str, Any]:
    return {
        "regime": "dsa",
        "tenant": world.slug,
        "notifier_name": "Rights Holder Ltd",
        "notifier_email": "legal@rights.example",
        "explanation": "This line restreams our football match without a licence.",
        "locations": [location],
        "good_faith": True,
        "accurate": True,
    }


def file_notice(server: RunningServer, world: TenantWorld, location: str) -> str:
    """File a DSA notice naming ``location``; its receipt code."""
    with server.client() as c:
        return str(
            created(c.post("/api/v1/public/notices", json=dsa_notice(world, location)))["receipt"]
        )


def act(world: TenantWorld, receipt: str, kind: str, **extra: Any) -> dict[str, Any]:
    """Decide on the notice with ``receipt``: the action, with its statement's reference."""
    with world.client() as c:
        notices = c.get("/api/v1/notices").json()["items"]
        notice = next(n for n in notices if n["receipt"] == receipt)
        return created(
            c.post(
                f"/api/v1/notices/{notice['id']}/actions",
                json={"kind": kind, "facts": "The line restreamed the match publicly.", **extra},
            )
        )


def status(server: RunningServer, username: str) -> str:
    r = httpx.get(
        f"{server.base_url}/player_api.php",
        params={"username": username, "password": LINE_PASSWORD},
        timeout=30,
    )
    info = (
        r.json().get("user_info", {})
        if r.headers["content-type"].startswith("application/json")
        else {}
    )
    return str(info.get("status", "refused"))


def sql(url: str, statement: str, **params: Any) -> list[Any]:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return list(result) if result.returns_rows else []
    finally:
        engine.dispose()


def audit_verify(tmp_path: Path, url: str) -> tuple[int, str]:
    result = Cli(tmp_path / "cli-data", url).run("audit", "verify")
    return result.returncode, result.stdout + result.stderr


def wait_until(check: Callable[[], bool], timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")

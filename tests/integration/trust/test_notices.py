"""Notice-and-action from the outside: a rights holder files a notice over HTTP, the tenant's
owner decides, the viewer's app feels the decision, and the figures add up.
"""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from support.admin_api import TenantWorld, created, make_tenant
from support.media import FFMPEG
from support.server import RunningServer

DSA_REQUIRED = {"explanation", "locations", "notifier_name", "notifier_email", "good_faith"}
DMCA_REQUIRED = {
    "signature",
    "work",
    "locations",
    "notifier_name",
    "notifier_email",
    "notifier_address",
    "good_faith",
    "authorised",
}
STATEMENT_ELEMENTS = {  # DSA Art. 17(3) (a)–(f)
    "restriction",
    "facts_and_circumstances",
    "automated_means",
    "legal_ground",
    "contractual_ground",
    "redress",
}


def _catalogue(world: TenantWorld, live: bool = False) -> tuple[int, str, str]:
    """A channel in a bouquet and a line that plays it: (channel id, username, password)."""
    sources = [{"kind": "test_pattern", "url": "testsrc://160x90@25"}] if live else []
    with world.client() as c:
        channel = created(
            c.post(
                "/api/v1/channels",
                json={"name": "Match", "mode": "on_demand", "sources": sources},
            )
        )
        bouquet = created(c.post("/api/v1/bouquets", json={"name": "All"}))
        r = c.put(
            f"/api/v1/bouquets/{bouquet['id']}/items",
            json={"items": [{"item_type": "channel", "item_id": channel["id"]}]},
        )
        assert r.status_code == 200, r.text
        line = created(
            c.post(
                "/api/v1/lines",
                json={
                    "username": f"viewer-{world.slug}",
                    "password": "viewer-pass-1",
                    "bouquet_ids": [bouquet["id"]],
                },
            )
        )
    return channel["id"], line["username"], "viewer-pass-1"


def _dsa(world: TenantWorld, location: str, **extra: Any) -> dict[str, Any]:
    return {
        "regime": "dsa",
        "tenant": world.slug,
        "notifier_name": "Rights Holder Ltd",
        "notifier_email": "legal@rights.example",
        "explanation": "This channel restreams our football match without a licence.",
        "locations": [location],
        "good_faith": True,
        "accurate": True,
        **extra,
    }


def _account(server: RunningServer, username: str, password: str) -> dict[str, Any]:
    r = httpx.get(
        f"{server.base_url}/player_api.php", params={"username": username, "password": password}
    )
    return r.json()


@pytest.mark.parametrize(("regime", "required"), [("dsa", DSA_REQUIRED), ("dmca", DMCA_REQUIRED)])
def test_incomplete_notice_names_every_missing_element_and_stores_nothing(
    server: RunningServer, regime: str, required: set[str]
) -> None:
    world = make_tenant(server, "acme")
    with server.client() as c:
        r = c.post("/api/v1/public/notices", json={"regime": regime, "tenant": world.slug})
        assert r.status_code == 422, r.text
        fields = r.json()["error"]["fields"]
        assert set(fields) == required
        assert all(len(message) > 20 for message in fields.values())
        assert "Art. 16" in fields["locations"] or "512(c)(3)" in fields["locations"]
        r = c.post("/api/v1/public/notices", json={"regime": "dsa", "tenant": "no-such-service"})
        assert "tenant" in r.json()["error"]["fields"]
    with world.client() as c:
        assert c.get("/api/v1/notices").json()["total"] == 0


def test_notice_to_suspension_with_statement_of_reasons(server: RunningServer) -> None:
    world = make_tenant(server, "acme")
    other = make_tenant(server, "other")
    channel_id, username, password = _catalogue(world)
    assert _account(server, username, password)["user_info"]["status"] == "Active"

    url = f"http://iptv.example:8080/live/{username}/{password}/{channel_id}.ts"
    with server.client() as c:
        receipt = created(c.post("/api/v1/public/notices", json=_dsa(world, url)))
        assert receipt["targets_found"] == 2 and receipt["status"] == "received"
        status = c.get(f"/api/v1/public/notices/{receipt['receipt']}").json()
        assert status["status"] == "received"

    with other.client() as c:  # another service never sees it
        assert c.get("/api/v1/notices").json()["total"] == 0
    with world.client("reseller") as c:  # nor do resellers
        assert c.get("/api/v1/notices").status_code == 403

    with world.client() as c:
        notices = c.get("/api/v1/notices").json()["items"]
        assert len(notices) == 1
        notice = notices[0]
        assert {(t["kind"], t["ref"]) for t in notice["targets"]} == {
            ("channel", str(channel_id)),
            ("line", username),
        }
        with other.client() as o:
            assert o.get(f"/api/v1/notices/{notice['id']}").status_code == 404
        action = created(
            c.post(
                f"/api/v1/notices/{notice['id']}/actions",
                json={
                    "kind": "suspend_line",
                    "facts": "The line was used to restream the match to a public website.",
                    "contractual_ground": "Terms of service §4: no redistribution.",
                    "days": 30,
                },
            )
        )
        statement = action["statement"]
        assert STATEMENT_ELEMENTS <= set(statement)
        assert statement["restriction"]["kind"] == "suspend_line"
        assert statement["restriction"]["duration"].startswith("until ")
        assert statement["restriction"]["content"] == [{"kind": "line", "ref": username}]
        assert statement["facts_and_circumstances"]["based_on_notice"] is True
        assert statement["contractual_ground"].startswith("Terms of service")
        assert len(statement["redress"]) == 3
        assert c.get(f"/api/v1/notices/{notice['id']}").json()["status"] == "actioned"
        audit = c.get("/api/v1/audit", params={"entity": "notice"}).json()["items"]
        assert {e["action"] for e in audit} >= {"create", "suspend_line"}

    # The viewer's app sees the suspension at once (reference §4.1: a disabled line).
    assert _account(server, username, password)["user_info"]["status"] == "Disabled"
    with server.client() as c:
        status = c.get(f"/api/v1/public/notices/{receipt['receipt']}").json()
        assert status["status"] == "actioned"


def test_disabling_the_item_and_the_transparency_report(server: RunningServer) -> None:
    world = make_tenant(server, "acme")
    channel_id, username, password = _catalogue(world)
    url = f"/live/{username}/{password}/{channel_id}.m3u8"
    with server.client() as c:
        for _ in range(3):
            created(c.post("/api/v1/public/notices", json=_dsa(world, url)))
        created(
            c.post(
                "/api/v1/public/notices",
                json={
                    "regime": "dmca",
                    "tenant": world.slug,
                    "signature": "Jane Doe",
                    "work": "Final 2026, broadcast recording",
                    "locations": [url],
                    "notifier_name": "Jane Doe",
                    "notifier_email": "jane@rights.example",
                    "notifier_phone": "+1 555 0100",
                    "good_faith": True,
                    "accurate": True,
                    "authorised": True,
                },
            )
        )
    with world.client() as c:
        ids = [n["id"] for n in c.get("/api/v1/notices").json()["items"]]
        assert len(ids) == 4
        facts = "The channel carries the match the notifier holds the rights to."
        created(
            c.post(
                f"/api/v1/notices/{ids[0]}/actions",
                json={"kind": "disable_item", "facts": facts, "legal_ground": "Copyright"},
            )
        )
        created(
            c.post(f"/api/v1/notices/{ids[1]}/actions", json={"kind": "reject", "facts": facts})
        )
        channel = c.get(f"/api/v1/channels/{channel_id}").json()
        assert channel["enabled"] is False
        report = c.get("/api/v1/transparency-report").json()
    assert report["notices"] == 4
    assert report["by_regime"] == {"dsa": 3, "dmca": 1}
    assert report["by_status"] == {"received": 2, "actioned": 1, "rejected": 1}
    assert report["actions"]["disable_item"] == 1 and report["actions"]["reject"] == 1
    assert report["median_seconds_to_decision"] is not None
    # A disabled channel no longer plays for the line: its playlist URL is refused.
    r = httpx.get(f"{server.base_url}{url}", follow_redirects=True, timeout=30)
    assert r.status_code == 404, r.status_code


def test_act_on_nothing_is_refused_and_changes_nothing(server: RunningServer) -> None:
    world = make_tenant(server, "acme")
    with server.client() as c:
        created(
            c.post(
                "/api/v1/public/notices",
                json=_dsa(world, "https://elsewhere.example/some/page.html"),
            )
        )
    with world.client() as c:
        notice = c.get("/api/v1/notices").json()["items"][0]
        assert notice["targets"] == []
        r = c.post(
            f"/api/v1/notices/{notice['id']}/actions",
            json={"kind": "suspend_line", "facts": "Trying to suspend nothing at all."},
        )
        assert r.status_code == 400
        assert c.get(f"/api/v1/notices/{notice['id']}").json()["status"] == "received"
        assert c.get(f"/api/v1/notices/{notice['id']}/actions").json() == []


def test_security_txt_names_where_to_report(sqlite_server: RunningServer) -> None:
    r = httpx.get(f"{sqlite_server.base_url}/.well-known/security.txt")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    fields = [line.split(": ", 1) for line in r.text.splitlines()]
    names = [name for name, _ in fields]
    assert names.count("Contact") >= 1 and names.count("Expires") == 1  # RFC 9116 §2.5
    assert dict(fields)["Contact"].endswith("/notice")
    assert httpx.get(f"{sqlite_server.base_url}/notice").status_code == 200
    expires = datetime.fromisoformat(dict(fields)["Expires"].replace("Z", "+00:00"))
    assert timedelta(days=300) < expires - datetime.now(UTC) <= timedelta(days=366)


def test_trusted_notifier_fast_path_cuts_a_running_player(server: RunningServer) -> None:
    """A pirate restreams a line's TS URL; a trusted notifier reports it; the player is cut."""
    world = make_tenant(server, "acme")
    other = make_tenant(server, "other")
    channel_id, username, password = _catalogue(world, live=True)
    with world.client() as c:
        key = created(c.post("/api/v1/trusted-notifiers", json={"name": "League"}))["key"]
    with other.client() as c:  # another service's notifier key does not file here
        foreign = created(c.post("/api/v1/trusted-notifiers", json={"name": "X"}))["key"]

    url = f"{server.base_url}/live/{username}/{password}/{channel_id}.ts"
    player = subprocess.Popen(
        [FFMPEG, "-hide_banner", "-nostdin", "-i", url, "-map", "0:v:0", "-f", "null", "-"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        _wait_for_viewer(world, username)
        notice = _dsa(world, url)
        with server.client() as c:
            r = c.post("/api/v1/public/notices", json=notice, headers={"X-Notifier-Key": foreign})
            assert r.status_code == 403, r.text
            r = c.post("/api/v1/public/notices", json=notice, headers={"X-Notifier-Key": "nope"})
            assert r.status_code == 401, r.text
            assert player.poll() is None  # refused notices changed nothing
            filed = time.monotonic()
            r = c.post("/api/v1/public/notices", json=notice, headers={"X-Notifier-Key": key})
            assert r.status_code == 201, r.text
            assert r.json()["status"] == "actioned"
        player.wait(timeout=60)
        cut = time.monotonic() - filed
    finally:
        if player.poll() is None:
            player.kill()
        stderr = player.stderr.read().decode("utf-8", "replace") if player.stderr else ""
        player.wait()
    print(f"\nnotice-to-cut (trusted notifier fast path): {cut:.2f} s")
    assert cut <= 60, stderr[-2000:]
    with world.client() as c:
        notice_row = c.get("/api/v1/notices").json()["items"][0]
        assert notice_row["trusted"] is True and notice_row["status"] == "actioned"
        action = c.get(f"/api/v1/notices/{notice_row['id']}/actions").json()[0]
        assert action["statement"]["automated_means"]["used_for_decision"] is True
        assert action["actor"] == "notifier:League"
    assert _account(server, username, password)["user_info"]["status"] == "Disabled"


def _wait_for_viewer(world: TenantWorld, username: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    with world.client() as c:
        while time.monotonic() < deadline:
            sessions = c.get("/api/v1/live/sessions").json()
            if any(s["username"] == username and s["bytes"] > 0 for s in sessions):
                return
            time.sleep(0.2)
    raise AssertionError("the player never started")

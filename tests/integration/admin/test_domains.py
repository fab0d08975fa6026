"""Custom domains and branding over real HTTP with Host headers on loopback: each tenant's
domain signs in only its own lines (another tenant's line fails as a wrong password does),
the DNS check resolves through a resolver function, and the branding shows where it should."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from support.admin_api import TenantWorld, created, make_tenant
from support.server import RunningServer, make_settings, run_server

# A 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@dataclass
class Panel:
    world: TenantWorld
    host: str
    line: str
    channel_id: int


def _panel(server: RunningServer, slug: str) -> Panel:
    world = make_tenant(server, slug)
    with world.client() as c:
        channel = created(c.post("/api/v1/channels", json={"name": f"{slug} TV"}))
        bouquet = created(c.post("/api/v1/bouquets", json={"name": "All"}))
        items = [{"item_type": "channel", "item_id": channel["id"]}]
        assert c.put(f"/api/v1/bouquets/{bouquet['id']}/items", json={"items": items}).is_success
        created(
            c.post(
                "/api/v1/lines",
                json={"username": f"fan-{slug}", "password": "pw-1",
                      "bouquet_ids": [bouquet["id"]]},
            )
        )  # fmt: skip
        domain = created(c.post("/api/v1/domains", json={"host": f"TV.{slug}.test."}))
        assert domain["host"] == f"tv.{slug}.test"
    return Panel(world, domain["host"], f"fan-{slug}", channel["id"])


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    """The sign-in throttle set wide: these tests make many refused sign-ins on purpose
    (the throttle counts a refusal on a foreign domain as a failure, like a wrong password)."""
    settings = make_settings(
        tmp_path, database_url, login_max_failures=1000, login_account_max_failures=1000
    )
    with run_server(settings) as running:
        yield running


@pytest.fixture
def panels(server: RunningServer) -> tuple[Panel, Panel]:
    return _panel(server, "alpha"), _panel(server, "bravo")


def _on(server: RunningServer, host: str | None) -> httpx.Client:
    headers = {"Host": host} if host else {}
    return httpx.Client(base_url=server.base_url, headers=headers, timeout=30)


def _viewer_answers(c: httpx.Client, username: str, password: str) -> list[tuple[int, bytes]]:
    creds = {"username": username, "password": password}
    return [
        (r.status_code, r.content)
        for r in (
            c.get("/player_api.php", params=creds),
            c.get("/player_api.php", params={**creds, "action": "get_live_streams"}),
            c.get("/get.php", params={**creds, "type": "m3u_plus", "output": "ts"}),
            c.get("/xmltv.php", params=creds),
            c.post("/panel_api.php", data=creds),
        )
    ]


def test_each_domain_signs_in_only_its_own_lines(
    server: RunningServer, panels: tuple[Panel, Panel]
) -> None:
    alpha, bravo = panels
    for mine, other in ((alpha, bravo), (bravo, alpha)):
        with _on(server, mine.host) as c:
            own = _viewer_answers(c, mine.line, "pw-1")
            assert [status for status, _ in own] == [200] * 5
            assert f"{mine.world.slug} TV".encode() in own[2][1]
            # Its playlist and account call name the domain the app used.
            assert f"http://{mine.host}/".encode() in own[2][1]
            assert server.base_url.encode() not in own[2][1]
            assert json.loads(own[0][1])["server_info"]["url"] == mine.host
            # The other panel's line, with its right password: exactly a wrong password.
            wrong = _viewer_answers(c, mine.line, "not-the-password")
            foreign = _viewer_answers(c, other.line, "pw-1")
            assert foreign == wrong
            assert all(other.world.slug.encode() not in body for _, body in foreign)
    # On the platform's own address (and with a port in Host) every line works as before.
    for host in (None, f"127.0.0.1:{server.base_url.rsplit(':', 1)[1]}"):
        with _on(server, host) as c:
            for panel in (alpha, bravo):
                assert [s for s, _ in _viewer_answers(c, panel.line, "pw-1")] == [200] * 5
    # A port or a trailing dot still names the domain.
    with _on(server, f"{alpha.host}.:8080") as c:
        assert _viewer_answers(c, bravo.line, "pw-1") == _viewer_answers(c, alpha.line, "nope")
        playlist = _viewer_answers(c, alpha.line, "pw-1")[2][1]
        assert f"http://{alpha.host}:8080/".encode() in playlist
    # On the platform's address the playlist names the platform's address.
    with _on(server, None) as c:
        assert server.base_url.encode() in _viewer_answers(c, alpha.line, "pw-1")[2][1]


def test_staff_sign_in_on_a_domain_is_for_its_own_staff(
    server: RunningServer, panels: tuple[Panel, Panel]
) -> None:
    alpha, bravo = panels
    form = {"username": bravo.world.users["owner"].username, "password": "staff-password-1"}
    with _on(server, alpha.host) as c:
        refused = c.post("/api/v1/auth/token", data=form)
        assert refused.status_code == 401
        assert refused.json()["error"]["message"] == "Wrong username or password."
        own = {**form, "username": alpha.world.users["owner"].username}
        assert c.post("/api/v1/auth/token", data=own).status_code == 200
    with _on(server, bravo.host) as c:
        assert c.post("/api/v1/auth/token", data=form).status_code == 200


def test_domains_are_validated_unique_and_scoped(
    server: RunningServer, panels: tuple[Panel, Panel]
) -> None:
    alpha, bravo = panels
    with alpha.world.client() as a:
        for bad in (
            "http://x.test",
            "x.test:80",
            "-x.test",
            "10.0.0.1",
            "a..b",
            "x" * 64 + ".test",
        ):
            r = a.post("/api/v1/domains", json={"host": bad})
            assert r.status_code == 422 and "host" in r.json()["error"]["fields"], (bad, r.text)
        r = a.post("/api/v1/domains", json={"host": bravo.host})
        assert r.status_code == 409
        listed = a.get("/api/v1/domains").json()
        assert [d["host"] for d in listed] == [alpha.host]
        assert listed[0]["records"][0]["type"] == "A"  # the platform is reached by address
        assert listed[0]["records"][0]["value"] == "127.0.0.1"
        bravo_id = bravo.world.client().get("/api/v1/domains").json()[0]["id"]
        assert a.post(f"/api/v1/domains/{bravo_id}/check").status_code == 404
        assert a.delete(f"/api/v1/domains/{bravo_id}").status_code == 404
    with alpha.world.client("reseller") as r:
        assert r.get("/api/v1/domains").status_code == 403
        assert r.post("/api/v1/domains", json={"host": "r.test"}).status_code == 403
    # Removing a domain frees it at once: bravo's line signs in there again.
    with bravo.world.client() as b:
        assert b.delete(f"/api/v1/domains/{bravo_id}").status_code == 204
    with _on(server, bravo.host) as c:
        assert [s for s, _ in _viewer_answers(c, alpha.line, "pw-1")] == [200] * 5


def test_check_dns_resolves_the_name(server: RunningServer, panels: tuple[Panel, Panel]) -> None:
    alpha, _ = panels
    answers: dict[str, set[str]] = {alpha.host: {"192.0.2.7"}}

    def resolver(host: str) -> set[str]:
        return answers.get(host, set())

    with alpha.world.client() as a:
        # The system's resolver: "localhost" resolves on loopback without a network.
        local = created(a.post("/api/v1/domains", json={"host": "localhost"}))
        checked = a.post(f"/api/v1/domains/{local['id']}/check").json()
        assert checked["dns_ok"] is True, checked
        server.ctx.services["dns_resolver"] = resolver
        try:
            alpha_id = next(
                d["id"] for d in a.get("/api/v1/domains").json() if d["host"] == alpha.host
            )
            wrong = a.post(f"/api/v1/domains/{alpha_id}/check").json()
            assert wrong["dns_ok"] is False and "192.0.2.7" in wrong["dns_detail"]
            answers[alpha.host] = {"127.0.0.1"}
            right = a.post(f"/api/v1/domains/{alpha_id}/check").json()
            assert right["dns_ok"] is True and right["checked_at"]
            answers.pop(alpha.host)
            gone = a.post(f"/api/v1/domains/{alpha_id}/check").json()
            assert gone["dns_ok"] is False and "does not resolve" in gone["dns_detail"]
        finally:
            server.ctx.services.pop("dns_resolver")


def _upload(c: httpx.Client, data: bytes, name: str = "logo.png") -> httpx.Response:
    return c.put("/api/v1/branding/logo", files={"file": (name, data, "image/png")})


def test_branding_is_validated_and_shown_on_its_domain_and_watch_pages(
    server: RunningServer, panels: tuple[Panel, Panel]
) -> None:
    alpha, bravo = panels
    with alpha.world.client() as a:
        for bad in (
            {"primary_color": "red"},
            {"accent_color": "#12345g"},
            {"primary_color": "#1234"},
        ):
            r = a.put("/api/v1/branding", json=bad)
            assert r.status_code == 422 and set(bad) <= set(r.json()["error"]["fields"]), r.text
        r = a.put(
            "/api/v1/branding",
            json={"display_name": "Alpha Drums", "primary_color": "#C0FFEE", "accent_color": ""},
        )
        assert r.status_code == 200 and r.json()["primary_color"] == "#c0ffee"
        assert _upload(a, b"<svg onload=alert(1)>", "x.svg").status_code == 422
        assert _upload(a, b"GIF89a" + b"\0" * (256 * 1024)).status_code == 422  # too large
        logo = _upload(a, PNG)
        assert logo.status_code == 200, logo.text
        logo_url = logo.json()["logo_url"]
        # With a logo stored, the tenant's other changes are audited as before.
        again = a.put(
            "/api/v1/branding", json={"display_name": "Alpha Drums", "primary_color": "#C0FFEE"}
        )
        assert again.status_code == 200 and again.json()["logo_url"] == logo_url
        entries = a.get("/api/v1/audit", params={"entity": "tenant"}).json()["items"]
        assert any((e["after"] or {}).get("brand_logo") == f"{len(PNG)} bytes" for e in entries), (
            entries
        )
        share = a.get(f"/api/v1/channels/{alpha.channel_id}/share-link").json()
    with _on(server, alpha.host) as c:
        seen = c.get("/api/v1/public/branding").json()
        assert seen == {
            "name": "Alpha Drums",
            "primary_color": "#c0ffee",
            "accent_color": "",
            "logo_url": logo_url,
        }
        image = c.get(logo_url)
        assert image.content == PNG and image.headers["content-type"] == "image/png"
    with _on(server, bravo.host) as c:
        assert c.get("/api/v1/public/branding").json()["name"] == "Bravo"
        # Alpha's share link names nothing on bravo's domain.
        assert c.get(f"/api/v1/watch/{share['ref']}").status_code == 404
    with _on(server, alpha.host) as c:
        assert c.get(f"/api/v1/watch/{share['ref']}").json()["name"] == "alpha TV"
    with _on(server, None) as c:
        assert c.get("/api/v1/public/branding").json() is None
        watch = c.get(f"/api/v1/watch/{share['ref']}").json()
        assert watch["branding"]["name"] == "Alpha Drums"
        assert watch["branding"]["primary_color"] == "#c0ffee"
    with alpha.world.client("reseller") as r:
        assert r.put("/api/v1/branding", json={"display_name": "x"}).status_code == 403
        assert _upload(r, PNG).status_code == 403
    with bravo.world.client() as b:
        assert b.get("/api/v1/branding").json()["display_name"] == ""
        assert b.delete("/api/v1/branding/logo").json()["logo_url"] is None


def _stream_answers(
    base: str, host: str, username: str, password: str, channel_id: int
) -> list[tuple[int, bytes]]:
    """What the stream URLs answer a line (without following redirects): live TS and HLS,
    the short form, a movie, an episode and catch-up (items that do not exist: a line
    signed in gets 404s, a refused one its sign-in refusal)."""
    creds = f"{username}/{password}"
    paths = [
        f"/live/{creds}/999999.ts",
        f"/live/{creds}/999999.m3u8",
        f"/{creds}/999999",
        f"/movie/{creds}/999999.mp4",
        f"/series/{creds}/999999.mkv",
        f"/timeshift/{creds}/10/2026-01-01:10-00/{channel_id}.ts",
        f"/streaming/timeshift.php?username={username}&password={password}"
        f"&stream={channel_id}&start=2026-01-01:10-00&duration=10",
    ]
    with httpx.Client(base_url=base, headers={"Host": host}, timeout=30) as c:
        return [(r.status_code, r.content) for r in (c.get(p) for p in paths)]


def test_stream_urls_on_a_domain_play_only_its_own_lines(
    server: RunningServer, panels: tuple[Panel, Panel]
) -> None:
    alpha, bravo = panels
    live = f"http://127.0.0.1:{server.ctx.services['live'].port}"
    # A channel that plays (a test pattern), for alpha's line to watch on alpha's domain.
    with alpha.world.client() as c:
        pattern = created(
            c.post(
                "/api/v1/channels",
                json={"name": "Pattern", "mode": "on_demand",
                      "sources": [{"kind": "test_pattern", "url": "testsrc://160x90@25"}]},
            )
        )  # fmt: skip
        bouquet = c.get("/api/v1/bouquets").json()["items"][0]
        items = [{"item_type": "channel", "item_id": i} for i in (alpha.channel_id, pattern["id"])]
        assert c.put(f"/api/v1/bouquets/{bouquet['id']}/items", json={"items": items}).is_success
    for mine, other in ((alpha, bravo), (bravo, alpha)):
        # On the data plane, by Host: the other panel's line is exactly a wrong password.
        wrong = _stream_answers(live, mine.host, mine.line, "nope", mine.channel_id)
        assert {s for s, _ in wrong} == {401}
        foreign = _stream_answers(live, mine.host, other.line, "pw-1", mine.channel_id)
        assert foreign == wrong
        own = _stream_answers(live, mine.host, mine.line, "pw-1", mine.channel_id)
        assert 401 not in {s for s, _ in own}
        assert {s for s, _ in own[:5]} == {404}
        # On the platform's own address every line signs in, as before.
        for panel in (alpha, bravo):
            plain = _stream_answers(live, "127.0.0.1", panel.line, "pw-1", panel.channel_id)
            assert 401 not in {s for s, _ in plain}

    # The panel's port refuses a foreign line at once, and sends its own lines to the data
    # plane on the same domain (where the Host scopes the play again).
    port = server.ctx.services["live"].port
    with httpx.Client(base_url=server.base_url, headers={"Host": alpha.host}, timeout=30) as c:
        for path in (
            f"/live/{bravo.line}/pw-1/{alpha.channel_id}.ts",
            f"/movie/{bravo.line}/pw-1/1.mp4",
            f"/{bravo.line}/pw-1/{alpha.channel_id}",
            f"/timeshift/{bravo.line}/pw-1/10/2026-01-01:10-00/{alpha.channel_id}.ts",
        ):
            r = c.get(path)
            assert (r.status_code, r.text) == (401, "AUTH_FAILED\n"), path
        r = c.get(f"/live/{alpha.line}/pw-1/{pattern['id']}.ts")
        assert r.status_code == 302
        assert r.headers["location"] == (
            f"http://{alpha.host}:{port}/live/{alpha.line}/pw-1/{pattern['id']}.ts"
        )
        # A browser play with a watch token (the panel's preview, a watch page) passes on.
        with alpha.world.client() as staff:
            r = staff.post(f"/api/v1/live/channels/{pattern['id']}/preview")
            assert r.status_code == 200, r.text
            preview = r.json()["url"]
        r = c.get(preview)
        assert r.status_code == 302, r.text
        assert r.headers["location"] == f"http://{alpha.host}:{port}{preview}"
    with httpx.Client(base_url=server.base_url, timeout=30) as c:  # the platform's address
        r = c.get(f"/live/{bravo.line}/pw-1/{bravo.channel_id}.ts")
        assert r.status_code == 302 and r.headers["location"].startswith("http://127.0.0.1:")

    # Alpha's line plays on alpha's domain: real MPEG-TS from the running test pattern.
    with (
        httpx.Client(base_url=live, headers={"Host": alpha.host}, timeout=30) as c,
        c.stream("GET", f"/live/{alpha.line}/pw-1/{pattern['id']}.ts") as r,
    ):
        assert r.status_code == 200
        data = b""
        for chunk in r.iter_bytes():
            data += chunk
            if len(data) >= 188 * 50:
                break
        assert data[0] == 0x47 and data[188] == 0x47


def test_security_txt_operator_page_and_report_follow_the_domain(
    server: RunningServer, panels: tuple[Panel, Panel]
) -> None:
    alpha, bravo = panels
    with alpha.world.client() as c:
        r = c.put(
            f"/api/v1/tenants/{alpha.world.id}/operator",
            json={"operator_name": "Alpha Media Srl", "security_contact": "mailto:sec@alpha.test"},
        )
        assert r.status_code == 200, r.text
    with _on(server, f"{alpha.host}:8443") as c:
        txt = c.get("/.well-known/security.txt").text
        assert txt.splitlines()[0] == "Contact: mailto:sec@alpha.test"
        assert f"Canonical: http://{alpha.host}:8443/.well-known/security.txt" in txt
        assert f"Policy: http://{alpha.host}:8443/operator" in txt
        assert f"http://{alpha.host}:8443/notice?service=alpha" in txt
        page = c.get("/operator")
        assert page.status_code == 200
        assert "Who operates Alpha" in page.text and "Alpha Media Srl" in page.text
        assert f"http://{alpha.host}:8443/transparency" in page.text
        assert "bravo" not in page.text.lower()
        assert "Transparency report — Alpha" in c.get("/transparency").text
    with _on(server, bravo.host) as c:
        txt = c.get("/.well-known/security.txt").text
        assert "sec@alpha.test" not in txt and f"Canonical: http://{bravo.host}/" in txt
        assert "Who operates Bravo" in c.get("/operator").text
    with _on(server, None) as c:  # the platform's address: the platform's own
        txt = c.get("/.well-known/security.txt").text
        assert "alpha" not in txt and f"Canonical: {server.base_url}/" in txt
        assert c.get("/operator").status_code == 404
        assert c.get("/transparency").text.count("Transparency report</h1>") == 1

"""What the panel asks of the live engine: signed preview and public watch URLs that play
HLS through the data plane, the OBS ingest address, the dashboard's figures and history."""

from __future__ import annotations

import time

import httpx

from palinsesto.outbound.media_files import FILE_REFUSED
from support.admin_api import created, make_tenant
from support.server import RunningServer

PATTERN = [{"kind": "test_pattern", "url": "testsrc://320x180@25"}]


def _play(server: RunningServer, path: str, **headers: str) -> tuple[httpx.Response, bytes]:
    """Follow the panel's 302 to the data plane, then fetch the first segment listed."""
    with httpx.Client(base_url=server.base_url, timeout=20, follow_redirects=True) as c:
        playlist = c.get(path, headers=headers)
        if playlist.status_code != 200:
            return playlist, b""
        first = next(x for x in playlist.text.splitlines() if x and not x.startswith("#"))
        segment = c.get(httpx.URL(str(playlist.url)).join(first), headers=headers)
        assert segment.status_code == 200, segment.text
        assert segment.headers["access-control-allow-origin"] == "*"
        return playlist, segment.content


def test_preview_and_public_watch_play_hls_with_signed_urls_only(
    sqlite_server: RunningServer,
) -> None:
    acme = make_tenant(sqlite_server, "acme")
    other = make_tenant(sqlite_server, "other")
    with acme.client() as c:
        channel = created(c.post("/api/v1/channels", json={"name": "Pattern", "sources": PATTERN}))
        cid = channel["id"]
        assert channel["public_watch"] is False
        preview = c.post(f"/api/v1/live/channels/{cid}/preview").json()
        assert preview["url"].startswith("/live/~watch/") and preview["url"].endswith(
            f"/{cid}.m3u8"
        )
        assert preview["expires_at"] > time.time() + 60
        assert "Bearer" not in preview["url"] and acme.users["owner"].token not in preview["url"]
        # Support (read-only) may preview too; another tenant may not see the channel at all.
        with acme.client("support") as s:
            assert s.post(f"/api/v1/live/channels/{cid}/preview").status_code == 200
        with other.client() as o:
            assert o.post(f"/api/v1/live/channels/{cid}/preview").status_code == 404

        playlist, segment = _play(sqlite_server, preview["url"], **{"User-Agent": "panel"})
        assert playlist.status_code == 200 and playlist.history[0].status_code == 302
        assert playlist.headers["access-control-allow-origin"] == "*"
        assert segment[0] == 0x47 and len(segment) > 10_000  # MPEG-TS from the engine
        # Reloads keep each listed segment's URI (RFC 8216 §6.2.1; hls.js stops otherwise).
        with httpx.Client(timeout=20) as v:
            listed: dict[str, str] = {}
            reloads = 0
            # At least three reloads, and until a second segment appears (2 s each; a loaded
            # machine may take longer to cut it).
            while reloads < 3 or (len(listed) < 2 and reloads < 12):
                text = v.get(str(playlist.url), headers={"User-Agent": "panel"}).text
                for uri in (x for x in text.splitlines() if x.startswith("/hls/")):
                    seq = uri.rsplit("/", 1)[1]
                    assert listed.setdefault(seq, uri) == uri
                reloads += 1
                time.sleep(1.0)
            assert len(listed) >= 2
        sessions = c.get("/api/v1/live/sessions").json()
        assert [(s["channel_name"], s["output"]) for s in sessions] == [("Pattern", "hls")]
        assert sessions[0]["username"] == f"~preview (admin #{acme.users['owner'].id})"
        # A line change re-checks lines' sessions; a signed play is not a line and stays.
        sqlite_server.ctx.events.publish(acme.id, "lines")
        time.sleep(0.5)
        assert len(c.get("/api/v1/live/sessions").json()) == 1

        token = preview["url"].split("/")[3]
        base = f"/live/~watch/{token}"
        with httpx.Client(base_url=sqlite_server.base_url, follow_redirects=True) as v:
            assert v.get(f"{base}/{cid + 1}.m3u8").status_code == 401  # another channel
            assert v.get(f"{base[:-3]}AAA/{cid}.m3u8").status_code == 401  # tampered
            assert v.get(f"{base}/{cid}.ts").status_code == 405  # HLS only

        # Not public: the watch page asks for a line's credentials.
        ref = c.get(f"/api/v1/channels/{cid}/share-link").json()["ref"]
        with httpx.Client(base_url=sqlite_server.base_url) as anon:
            info = anon.get(f"/api/v1/watch/{ref}").json()
            assert info["access"] == "line" and info["hls_url"] is None
            assert info["hls_path"] == f"/live/{{username}}/{{password}}/{cid}.m3u8"
            assert (
                c.patch(f"/api/v1/channels/{cid}", json={"public_watch": True}).status_code == 200
            )
            info = anon.get(f"/api/v1/watch/{ref}").json()
            assert info["access"] == "public" and info["hls_url"].startswith("/live/~watch/")
            playlist, segment = _play(sqlite_server, info["hls_url"], **{"User-Agent": "web"})
            assert playlist.status_code == 200 and segment[0] == 0x47
            # Made private again: the public URL handed out before stops working.
            assert (
                c.patch(f"/api/v1/channels/{cid}", json={"public_watch": False}).status_code == 200
            )
            refused, _ = _play(sqlite_server, info["hls_url"], **{"User-Agent": "web-2"})
            assert refused.status_code == 406
            # A preview token cannot be presented as another kind, nor forged for a channel.
            assert anon.get(f"/api/v1/watch/{cid}-forged").status_code == 404


def test_ingest_address_dashboard_figures_and_history(sqlite_server: RunningServer) -> None:
    acme = make_tenant(sqlite_server, "acme")
    other = make_tenant(sqlite_server, "other")
    engine = sqlite_server.ctx.services["live"]
    with acme.client() as c:
        ingest = c.get("/api/v1/live/ingest").json()
        assert ingest["rtmp_url"] == f"rtmp://127.0.0.1:{engine.rtmp_port}/live"
        with acme.client("reseller") as r:
            assert r.get("/api/v1/live/ingest").status_code == 403
        bad = created(
            c.post(
                "/api/v1/channels",
                json={"name": "Broken", "sources": [{"kind": "file", "url": "/nonexistent.ts"}]},
            )
        )
        good = created(c.post("/api/v1/channels", json={"name": "Good", "sources": PATTERN}))
        assert c.post(f"/api/v1/live/channels/{bad['id']}/start").status_code == 200
        preview = c.post(f"/api/v1/live/channels/{good['id']}/preview").json()
        playlist, _ = _play(sqlite_server, preview["url"], **{"User-Agent": "dash"})
        assert playlist.status_code == 200
        deadline = time.monotonic() + 15
        while True:
            o = c.get("/api/v1/live/overview").json()
            if o["channels_failing"] == 1 and o["bandwidth_out_bps"] > 0:
                break
            assert time.monotonic() < deadline, o
            # Keep the HLS session sending, as a player would.
            _play(sqlite_server, preview["url"], **{"User-Agent": "dash"})
            time.sleep(0.5)
        assert o["viewers"] == 1 and o["channels_running"] == 1
        # A file outside the tenant's media folder is refused, with the uniform message.
        assert any(
            f["channel"] == "Broken" and FILE_REFUSED in f["message"] for f in o["recent_failures"]
        ), o["recent_failures"]
        states = c.get(
            "/api/v1/live/channels", params={"ids": f"{good['id']},{bad['id']},999"}
        ).json()["items"]
        assert [(s["channel_id"], s["status"]) for s in states][::2] == [
            (good["id"], "running"),
            (999, "stopped"),
        ]
        assert states[1]["status"] == "failing"  # its only source is refused
        assert c.get("/api/v1/live/channels", params={"ids": "1,x"}).status_code == 422
        day = c.get("/api/v1/live/history", params={"hours": 24}).json()
        points = day["points"]
        assert points and points[-1]["viewers"] == 1 and points[-1]["at"] % 60 == 0
        assert day["step_seconds"] == 60 and day["started_at"] <= points[0]["at"] + 60
        # Every minute from the first observation on is there: the chart spans its range.
        assert [b["at"] - a["at"] for a, b in zip(points, points[1:], strict=False)] == [60] * (
            len(points) - 1
        )
        week = c.get("/api/v1/live/history", params={"hours": 168}).json()
        assert week["step_seconds"] == 3600 and week["points"][-1]["viewers"] == 1
        assert week["points"][-1]["at"] % 3600 == 0
        assert c.get("/api/v1/live/history", params={"hours": 169}).status_code == 422
        assert c.post(f"/api/v1/live/channels/{bad['id']}/stop").status_code == 200
    # Another tenant sees none of it.
    with other.client() as o:
        figures = o.get("/api/v1/live/overview").json()
        assert (figures["viewers"], figures["channels_failing"], figures["recent_failures"]) == (
            0,
            0,
            [],
        )
        assert {p["viewers"] for p in o.get("/api/v1/live/history").json()["points"]} <= {0}
        states = o.get("/api/v1/live/channels", params={"ids": str(good["id"])}).json()["items"]
        assert states[0]["status"] == "stopped"

"""M3U import from the admin API: preview (counts against the tenant's channels, hosts only,
no credentials), import into a category and bouquet, bad input changing nothing, the
outbound policy's refusal, M3U sources refreshed on a schedule with back-off, tenant
isolation, and an imported channel that really plays through get.php."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from palinsesto.catalog.models import BouquetItem, Channel, M3USource
from palinsesto.outbound import REFUSED
from palinsesto.trust.models import AuditEntry
from support.admin_api import TenantWorld, created, make_tenant
from support.media import FFMPEG, count_frames
from support.player_checks import m3u_entries
from support.server import RunningServer, make_settings, run_server
from support.stand_ins import StandIn, stand_in

SECRET = "s3cr3t-pass"
PLAYLIST = f"""#EXTM3U
#EXTINF:-1 tvg-id="one.it" tvg-logo="http://logos.example/1.png" group-title="News",Uno
http://provider.example/live/user/{SECRET}/1.ts
#EXTINF:-1 tvg-id="two.it" group-title="Sport",Due
http://provider.example/live/user/{SECRET}/2.ts
#EXTINF:-1 group-title="Sport",Tre
http://provider.example/live/user/{SECRET}/3.ts
"""


@pytest.fixture
def provider() -> Iterator[StandIn]:
    with stand_in() as running:
        running.routes["/get.php?username=user&password=" + SECRET] = (200, {}, PLAYLIST.encode())
        yield running


@pytest.fixture
def m3u_server(provider: StandIn, database_url: str, tmp_path: Path) -> Iterator[RunningServer]:
    """On SQLite and on PostgreSQL."""
    # The stand-in plays the provider on the internet: its one port is allowed.
    settings = make_settings(
        tmp_path,
        database_url,
        outbound_allow_networks=f"127.0.0.1:{provider.port}",
        m3u_check_seconds=0,  # the tests run the job's rounds themselves
    )
    with run_server(settings) as running:
        yield running


def _url(provider: StandIn) -> str:
    return f"{provider.base}/get.php?username=user&password={SECRET}"


def _channels(server: RunningServer, tenant_id: int) -> dict[str, Channel]:
    with server.ctx.db.session() as session:
        rows = session.scalars(select(Channel).where(Channel.tenant_id == tenant_id)).all()
        session.expunge_all()
        return {c.name: c for c in rows}


def _audit_count(server: RunningServer) -> int:
    with server.ctx.db.session() as session:
        return session.scalar(select(func.count()).select_from(AuditEntry)) or 0


def test_preview_counts_against_the_tenant_and_shows_hosts_only(
    m3u_server: RunningServer, provider: StandIn
) -> None:
    acme = make_tenant(m3u_server, "acme")
    with acme.client() as c:
        first = c.post("/api/v1/m3u/preview", data={"url": _url(provider)})
        assert first.status_code == 200, first.text
        body = first.json()
        assert (body["total_entries"], body["new"], body["updated"], body["unchanged"]) == (
            3,
            3,
            0,
            0,
        )
        assert SECRET not in first.text
        assert {e["host"] for e in body["entries"]} == {"http://provider.example"}
        assert body["entries"][0] | {"line": 2} == {
            "line": 2,
            "name": "Uno",
            "group": "News",
            "category": "News",
            "logo": "http://logos.example/1.png",
            "tvg_id": "one.it",
            "host": "http://provider.example",
            "status": "new",
        }
        assert _channels(m3u_server, acme.id) == {}  # a preview changes nothing

        done = c.post(
            "/api/v1/m3u/import",
            files={"file": ("list.m3u", PLAYLIST.encode(), "audio/x-mpegurl")},
        )
        assert done.status_code == 200, done.text
        assert done.json()["created"] == 3
        changed = PLAYLIST.replace("1.png", "1b.png")
        again = c.post(
            "/api/v1/m3u/preview",
            files={"file": ("list.m3u", changed.encode(), "audio/x-mpegurl")},
        ).json()
        assert (again["new"], again["updated"], again["unchanged"]) == (0, 1, 2)
        assert {e["status"] for e in again["entries"]} == {"existing"}


def test_import_into_a_chosen_category_and_bouquet(
    m3u_server: RunningServer, provider: StandIn
) -> None:
    acme = make_tenant(m3u_server, "acme")
    with acme.client() as c:
        category = created(c.post("/api/v1/categories", json={"kind": "live", "name": "Imported"}))
        bouquet = created(c.post("/api/v1/bouquets", json={"name": "Provider"}))
        r = c.post(
            "/api/v1/m3u/import",
            data={
                "url": _url(provider),
                "category_id": str(category["id"]),
                "bouquet_id": str(bouquet["id"]),
            },
        )
        assert r.status_code == 200, r.text
        assert r.json()["created"] == 3 and r.json()["added_to_bouquet"] == 3
        assert r.json()["categories_created"] == []
        items = c.get(f"/api/v1/bouquets/{bouquet['id']}/items").json()["items"]
    channels = _channels(m3u_server, acme.id)
    assert [i["item_id"] for i in items] == [channels[n].id for n in ("Uno", "Due", "Tre")]
    assert all(ch.category_ids == [category["id"]] for ch in channels.values())


def test_a_malformed_playlist_is_refused_and_changes_nothing(
    m3u_server: RunningServer, provider: StandIn
) -> None:
    acme = make_tenant(m3u_server, "acme")
    before = _audit_count(m3u_server)
    garbage = b"hello\nthis is not a playlist\n#EXTINF:abc,Bad\nftp://x/y\n"
    with acme.client() as c:
        for route in ("preview", "import"):
            r = c.post(f"/api/v1/m3u/{route}", files={"file": ("x.m3u", garbage, "text/plain")})
            assert r.status_code == 422, r.text
            message = r.json()["error"]["message"]
            assert "no entry that can be imported" in message
            assert "no #EXTM3U header" in message and "line 3" in message
        binary = c.post(
            "/api/v1/m3u/import", files={"file": ("x.m3u", b"\x00\x01\x02", "text/plain")}
        )
        assert binary.status_code == 422
        assert "binary data" in binary.json()["error"]["message"]
        neither = c.post("/api/v1/m3u/import", data={})
        assert neither.status_code == 422
        category = created(c.post("/api/v1/categories", json={"kind": "live", "name": "N"}))
        foreign = c.post("/api/v1/m3u/import", data={"url": _url(provider), "bouquet_id": "999"})
        assert foreign.status_code == 422
        assert foreign.json()["error"]["fields"] == {"bouquet_id": "No bouquet 999 in this tenant."}
    assert _channels(m3u_server, acme.id) == {}
    assert _audit_count(m3u_server) == before + 1  # the category only
    assert category["name"] == "N"


def test_a_url_the_outbound_policy_refuses_is_a_422_with_the_reason(
    m3u_server: RunningServer,
) -> None:
    acme = make_tenant(m3u_server, "acme")
    with stand_in({"/x.m3u": (200, {}, PLAYLIST.encode())}) as private, acme.client() as c:
        for route in ("preview", "import"):
            url = f"{private.base}/x.m3u?password={SECRET}"
            r = c.post(f"/api/v1/m3u/{route}", data={"url": url})
            assert r.status_code == 422, r.text
            assert REFUSED in r.json()["error"]["message"]
            assert SECRET not in r.text
        assert private.seen == []
        scheme = c.post("/api/v1/m3u/preview", data={"url": "file:///etc/passwd"})
        assert scheme.status_code == 422
        assert scheme.json()["error"]["fields"]["url"] == "Use an http:// or https:// address."
    assert _channels(m3u_server, acme.id) == {}


def _make_due(server: RunningServer, source_id: int) -> None:
    with server.ctx.db.transaction() as session:
        session.execute(
            update(M3USource)
            .where(M3USource.id == source_id)
            .values(next_run_at=datetime.now(UTC) - timedelta(seconds=1))
        )


def _source(acme: TenantWorld, source_id: int) -> dict[str, Any]:
    with acme.client() as c:
        r = c.get(f"/api/v1/m3u/sources/{source_id}")
        assert r.status_code == 200, r.text
        return r.json()


def test_a_source_refreshes_on_schedule_updates_disables_and_backs_off(
    m3u_server: RunningServer, provider: StandIn
) -> None:
    acme = make_tenant(m3u_server, "acme")
    job = m3u_server.ctx.services["m3u"]
    with acme.client() as c:
        bouquet = created(c.post("/api/v1/bouquets", json={"name": "Provider"}))
        source = created(
            c.post(
                "/api/v1/m3u/sources",
                json={
                    "name": "Provider",
                    "url": _url(provider),
                    "bouquet_id": bouquet["id"],
                    "refresh_hours": 6,
                },
            )
        )
        assert SECRET not in str(source) and "password=***" in source["url"]
        assert source["last_status"] == "" and source["next_run_at"] is None
    job.tick()  # a new source is due at once
    first = _source(acme, source["id"])
    assert first["last_status"] == "succeeded", first
    assert first["last_summary"]["created"] == 3 and first["channels"] == 3
    assert datetime.fromisoformat(first["next_run_at"]) > datetime.now(UTC) + timedelta(hours=5)

    # The provider moves Uno to a new URL and drops Tre.
    path = "/get.php?username=user&password=" + SECRET
    moved = PLAYLIST.replace("/1.ts", "/1-new.ts").split("#EXTINF:-1 group-title")[0]
    provider.routes[path] = (200, {}, moved.encode())
    job.tick()
    assert _source(acme, source["id"])["last_summary"]["created"] == 3  # not due yet
    _make_due(m3u_server, source["id"])
    job.tick()
    second = _source(acme, source["id"])
    assert second["last_summary"] | {"added_to_bouquet": 0} == {
        "created": 0,
        "updated": 1,
        "unchanged": 1,
        "disabled": 1,
        "enabled_again": 0,
        "skipped": 0,
        "added_to_bouquet": 0,
    }
    channels = _channels(m3u_server, acme.id)
    assert len(channels) == 3 and not channels["Tre"].enabled
    assert channels["Uno"].sources[0]["url"].endswith("/1-new.ts")

    # The provider breaks: failures back off, the channels stay as they were.
    provider.routes[path] = (500, {}, b"")
    with acme.client() as c:
        failed = c.post(f"/api/v1/m3u/sources/{source['id']}/refresh").json()
    assert failed["last_status"] == "failed" and failed["consecutive_failures"] == 1
    assert "HTTP 500" in failed["last_error"] and SECRET not in failed["last_error"]
    waited = datetime.fromisoformat(failed["next_run_at"]) - datetime.fromisoformat(
        failed["last_run_at"]
    )
    _make_due(m3u_server, source["id"])
    job.tick()
    twice = _source(acme, source["id"])
    assert twice["consecutive_failures"] == 2
    longer = datetime.fromisoformat(twice["next_run_at"]) - datetime.fromisoformat(
        twice["last_run_at"]
    )
    assert longer == 2 * waited
    assert len(_channels(m3u_server, acme.id)) == 3

    # Tre comes back: enabled again, and the bouquet still holds each channel once.
    provider.routes[path] = (200, {}, PLAYLIST.replace("/1.ts", "/1-new.ts").encode())
    with acme.client() as c:
        back = c.post(f"/api/v1/m3u/sources/{source['id']}/refresh").json()
    assert back["last_status"] == "succeeded" and back["consecutive_failures"] == 0
    assert back["last_summary"]["enabled_again"] == 1
    assert _channels(m3u_server, acme.id)["Tre"].enabled
    with m3u_server.ctx.db.session() as session:
        held = session.scalars(
            select(BouquetItem.item_id).where(BouquetItem.bouquet_id == bouquet["id"])
        ).all()
    assert sorted(held) == sorted(ch.id for ch in _channels(m3u_server, acme.id).values())


def test_tenant_b_never_sees_a_sources(m3u_server: RunningServer, provider: StandIn) -> None:
    alpha = make_tenant(m3u_server, "alpha")
    bravo = make_tenant(m3u_server, "bravo")
    with alpha.client() as a:
        source = created(
            a.post("/api/v1/m3u/sources", json={"name": "Alpha's", "url": _url(provider)})
        )
        category = created(a.post("/api/v1/categories", json={"kind": "live", "name": "A"}))
    url = f"/api/v1/m3u/sources/{source['id']}"
    with bravo.client() as b:
        assert b.get("/api/v1/m3u/sources").json()["items"] == []
        assert b.get(url).status_code == 404
        assert b.patch(url, json={"name": "mine"}).status_code == 404
        assert b.post(f"{url}/refresh").status_code == 404
        assert b.delete(url).status_code == 404
        # Nor can it import into alpha's category.
        r = b.post(
            "/api/v1/m3u/import", data={"url": _url(provider), "category_id": category["id"]}
        )
        assert r.status_code == 422
    with bravo.client("reseller") as reseller:
        assert reseller.get("/api/v1/m3u/sources").status_code == 403
    assert _source(alpha, source["id"])["name"] == "Alpha's"
    assert provider.seen == []


def test_an_imported_channel_plays_through_get_php(sqlite_url: str, tmp_path: Path) -> None:
    """An HLS stream served by the stand-in provider, imported from its playlist, decoded
    by ffmpeg from the line's get.php playlist."""
    hls = tmp_path / "hls"
    hls.mkdir()
    subprocess.run(
        [
            FFMPEG, "-hide_banner", "-loglevel", "error",
            "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=25", "-t", "8",
            "-c:v", "libx264", "-preset", "ultrafast", "-g", "25",
            "-f", "hls", "-hls_time", "1", "-hls_list_size", "0",
            "-hls_segment_filename", str(hls / "seg%d.ts"), str(hls / "index.m3u8"),
        ],
        check=True,
        timeout=60,
    )  # fmt: skip
    files = {f"/{p.name}": (200, {}, p.read_bytes()) for p in hls.iterdir()}
    with stand_in(files) as origin:
        playlist = f'#EXTM3U\n#EXTINF:-1 group-title="Test",Pattern\n{origin.base}/index.m3u8\n'
        origin.routes["/list.m3u"] = (200, {}, playlist.encode())
        settings = make_settings(
            tmp_path, sqlite_url, outbound_allow_networks=f"127.0.0.1:{origin.port}"
        )
        with run_server(settings) as server:
            acme = make_tenant(server, "acme")
            with acme.client() as c:
                bouquet = created(c.post("/api/v1/bouquets", json={"name": "All"}))
                r = c.post(
                    "/api/v1/m3u/import",
                    data={"url": f"{origin.base}/list.m3u", "bouquet_id": bouquet["id"]},
                )
                assert r.status_code == 200 and r.json()["created"] == 1, r.text
                created(
                    c.post(
                        "/api/v1/lines",
                        json={
                            "username": "viewer",
                            "password": "viewer-pass",
                            "bouquet_ids": [bouquet["id"]],
                        },
                    )
                )
            listing = httpx.get(
                f"{server.base_url}/get.php",
                params={"username": "viewer", "password": "viewer-pass", "type": "m3u_plus",
                        "output": "ts"},
                timeout=30,
            )  # fmt: skip
            assert listing.status_code == 200, listing.text
            _, entries = m3u_entries(listing.text)
            (entry,) = entries
            done = subprocess.run(
                [FFMPEG, "-hide_banner", "-nostdin", "-i", entry["_url"], "-t", "3",
                 "-map", "0:v:0", "-f", "null", "-"],
                capture_output=True,
                text=True,
                timeout=90,
            )  # fmt: skip
            assert count_frames(done.stderr) >= 25, done.stderr[-2000:]

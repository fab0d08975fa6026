"""Transcode profiles from the admin API to what a player decodes (one registry for both)."""

from __future__ import annotations

import importlib.util

import httpx
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext

from palinsesto.accounts.bootstrap import ensure_tenant
from palinsesto.catalog.models import Channel
from palinsesto.db import Database
from palinsesto.db.migrate import MIGRATIONS
from palinsesto.protocol.profiles import TranscodeProfileName
from support.media import decoded_frame_size

from .conftest import LiveWorld

# The test pattern is 320x180; scale=-2:H keeps 16:9 with an even width.
EXPECTED = {
    TranscodeProfileName.copy: (320, 180),
    TranscodeProfileName.h264_360p: (640, 360),
    TranscodeProfileName.h264_480p: (854, 480),
    TranscodeProfileName.h264_720p: (1280, 720),
    TranscodeProfileName.h264_1080p: (1920, 1080),
}


def _create_in_bouquet(live: LiveWorld, c: httpx.Client, body: dict[str, object]) -> int:
    r = c.post("/api/v1/channels", json={"tenant_id": live.tenant_id, **body})
    assert r.status_code == 201, r.text
    channel_id = r.json()["id"]
    bouquets = c.get("/api/v1/bouquets", params={"tenant_id": live.tenant_id}).json()["items"]
    bouquet_id = bouquets[0]["id"]
    items = c.get(f"/api/v1/bouquets/{bouquet_id}/items").json()["items"]
    items.append({"item_type": "channel", "item_id": channel_id})
    r = c.put(f"/api/v1/bouquets/{bouquet_id}/items", json={"items": items})
    assert r.status_code == 200, r.text
    return channel_id


async def test_each_profile_made_through_the_api_plays_at_its_size(live: LiveWorld) -> None:
    with live.server.client(live.server.token()) as c:
        schema = c.get("/api/v1/openapi.json").json()["components"]["schemas"]["ChannelIn"]
        field = schema["properties"]["transcode_profile"]
        # The panel renders a select from this, with the readable names.
        assert field["enum"] == [p.value for p in TranscodeProfileName]
        assert field["x-enum-labels"]["h264_480p"].startswith("H.264 480p")
        for profile, (width, height) in EXPECTED.items():
            channel_id = _create_in_bouquet(
                live,
                c,
                {
                    "name": f"Ladder {profile.value}",
                    "sources": [{"kind": "test_pattern", "url": "testsrc://320x180@25"}],
                    "transcode_profile": profile.value,
                },
            )
            assert c.get(f"/api/v1/channels/{channel_id}").json()["transcode_profile"] == profile
            for ext in ("ts", "m3u8"):
                size = await decoded_frame_size(live.url(channel_id, ext))
                assert size == (width, height), (profile, ext)
            status = c.get(f"/api/v1/live/channels/{channel_id}").json()
            assert status["failures"] == [], status
            c.post(f"/api/v1/live/channels/{channel_id}/stop").raise_for_status()


async def test_old_spellings_are_read_and_unknown_profiles_refused(live: LiveWorld) -> None:
    with live.server.client(live.server.token()) as c:
        # What the first wave's API accepted still works, stored under today's name.
        channel_id = _create_in_bouquet(
            live,
            c,
            {
                "name": "Old spelling",
                "sources": [{"kind": "test_pattern", "url": "testsrc://320x180@25"}],
                "transcode_profile": "h264-480p",
            },
        )
        assert c.get(f"/api/v1/channels/{channel_id}").json()["transcode_profile"] == "h264_480p"
        assert await decoded_frame_size(live.url(channel_id, "ts")) == (854, 480)
        # A row an older database still holds (not migrated yet): the engine reads it too.
        with live.server.ctx.db.transaction() as session:
            session.get(Channel, channel_id).transcode_profile = "h264-360p"
        live.server.ctx.events.publish(live.tenant_id, "catalog")
        live.server.ctx.events.publish(live.tenant_id, "channels")
        assert c.get(f"/api/v1/channels/{channel_id}").json()["transcode_profile"] == "h264_360p"
        c.post(f"/api/v1/live/channels/{channel_id}/stop").raise_for_status()
        assert await decoded_frame_size(live.url(channel_id, "ts")) == (640, 360)
        r = c.patch(f"/api/v1/channels/{channel_id}", json={"transcode_profile": "h265_8k"})
        assert r.status_code == 422, r.text
        assert "transcode_profile" in r.json()["error"]["fields"], r.text
        assert c.get(f"/api/v1/channels/{channel_id}").json()["transcode_profile"] == "h264_360p"


def test_the_migration_renames_stored_profiles(database_url: str) -> None:
    """0004_profile_names on each backend: rows in the first wave's spelling get today's."""
    db = Database(database_url)
    with db.transaction() as session:
        tenant = ensure_tenant(session, "migrated", "Migrated")
        session.flush()
        for spelling in ("h264-720p", "h264-1080p", "copy"):
            session.add(Channel(tenant_id=tenant.id, name=spelling, transcode_profile=spelling))
    # Run the migration's own code (it may not stay the last one once branches merge).
    path = MIGRATIONS / "versions" / "0004_profile_names.py"
    spec = importlib.util.spec_from_file_location("migration_0004_profile_names", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    with db.engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
        migration.upgrade()
    with db.session() as session:
        stored = {c.name: c.transcode_profile for c in session.query(Channel)}
    db.dispose()
    assert stored == {"h264-720p": "h264_720p", "h264-1080p": "h264_1080p", "copy": "copy"}

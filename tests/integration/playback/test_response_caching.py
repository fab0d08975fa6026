"""ETag/304, gzip, per-bouquet-set caching and invalidation by admin edits (§14, issue #3)."""

from __future__ import annotations

import time

import httpx
from sqlalchemy import delete

from palinsesto.catalog.models import BouquetItem, ItemType

ALICE = {"username": "alice", "password": "pw123"}


def test_etag_304_and_gzip_on_catalogue_json(player) -> None:
    url = f"{player.base}/player_api.php"
    params = dict(ALICE, action="get_live_streams")
    first = httpx.get(url, params=params, headers={"Accept-Encoding": "gzip"})
    assert first.headers["content-encoding"] == "gzip"  # > 512 bytes
    etag = first.headers["etag"]
    second = httpx.get(url, params=params, headers={"If-None-Match": etag})
    assert second.status_code == 304 and second.content == b""
    stale = httpx.get(url, params=params, headers={"If-None-Match": '"other"'})
    assert stale.status_code == 200 and stale.json() == first.json()
    # Same bouquet set, same bytes: carol shares alice's cached response.
    carol = httpx.get(
        url, params={"username": "carol", "password": "pw123", "action": "get_live_streams"}
    )
    assert carol.headers["etag"] == etag
    small = httpx.get(url, params=dict(ALICE, action="get_vod_categories"),
                      headers={"Accept-Encoding": "gzip"})  # fmt: skip
    assert "content-encoding" not in small.headers  # too small to be worth compressing


def test_admin_edit_shows_within_a_second(player_on_each_db) -> None:
    player = player_on_each_db
    url = f"{player.base}/player_api.php"
    cats = dict(ALICE, action="get_live_categories")
    before = httpx.get(url, params=cats).json()
    assert [c["category_name"] for c in before] == ["Sports", "News"]
    token = player.server.token()
    news_id = player.catalog.cats["news"]
    with player.server.client(token) as admin:
        r = admin.patch(f"/api/v1/categories/{news_id}", json={"name": "Headlines"})
        assert r.status_code == 200, r.text
    committed = time.monotonic()
    after = httpx.get(url, params=cats).json()
    assert time.monotonic() - committed < 1.0
    assert [c["category_name"] for c in after] == ["Sports", "Headlines"]
    playlist = httpx.get(f"{player.base}/get.php", params=dict(ALICE, type="m3u_plus"))
    assert 'group-title="Headlines"' in playlist.text


def test_bouquet_change_event_drops_the_cached_set(player_on_each_db) -> None:
    player = player_on_each_db
    url = f"{player.base}/player_api.php"
    params = dict(ALICE, action="get_live_streams")
    assert len(httpx.get(url, params=params).json()) == 3
    ctx = player.server.ctx
    with ctx.db.transaction() as s:
        s.execute(
            delete(BouquetItem).where(
                BouquetItem.item_type == ItemType.channel,
                BouquetItem.item_id == player.catalog.channels["radio"],
            )
        )
    ctx.events.publish(player.catalog.tenant_id, "catalog")  # what the admin API does
    ids = [i["stream_id"] for i in httpx.get(url, params=params).json()]
    assert ids == [player.catalog.channels["sports"], player.catalog.channels["news"]]

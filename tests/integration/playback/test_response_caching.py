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


def _add_channels(db, catalog, count: int) -> None:
    """``count`` more channels in alice's first bouquet, half of them in Sports."""
    from palinsesto.catalog.models import Channel, ChannelCategory

    with db.transaction() as s:
        for i in range(count):
            ch = Channel(tenant_id=catalog.tenant_id, name=f"Extra {i:04d}", number=1000 + i,
                         logo=f"http://img.example/extra/{i}.png")  # fmt: skip
            s.add(ch)
            s.flush()
            if i % 2 == 0:
                s.add(ChannelCategory(channel_id=ch.id, category_id=catalog.cats["sports"]))
            s.add(BouquetItem(bouquet_id=catalog.bouquets["basic"], item_type=ItemType.channel,
                              item_id=ch.id, position=10 + i))  # fmt: skip


def test_many_offsets_limits_and_categories_stay_within_the_cache_bounds(
    sqlite_url: str, tmp_path
) -> None:
    """Security #6: every (category, offset, limit) used to be cached as its own body, so
    one line sending 300 offsets grew the server for good. Pages are now cut from one
    built list, unknown categories cost nothing, and what is kept is bounded."""
    from support.player_catalog import populate
    from support.server import make_settings, run_server

    max_entries, max_bytes = 12, 150_000
    settings = make_settings(tmp_path, sqlite_url, response_cache_max_entries=max_entries,
                             response_cache_max_bytes=max_bytes)  # fmt: skip
    with run_server(settings) as server:
        catalog = populate(server.ctx.db)
        _add_channels(server.ctx.db, catalog, 300)
        token = server.token()
        url = f"{server.base_url}/player_api.php"

        def stats() -> dict:
            with server.client(token) as admin:
                r = admin.get("/api/v1/system/response-cache")
                assert r.status_code == 200, r.text
                return r.json()

        def streams(client: httpx.Client, **params) -> list[dict]:
            r = client.get(url, params=dict(ALICE, action="get_live_streams", **params))
            assert r.status_code == 200, r.text
            return r.json()

        with httpx.Client(timeout=30) as client:
            everything = streams(client)
            assert len(everything) == 303
            sports = streams(client, category_id=str(catalog.cats["sports"]))
            assert len(sports) == 151 and [i["num"] for i in sports] == list(range(1, 152))
            for offset in range(0, 300):
                page = streams(client, **{"params[offset]": offset, "params[items_per_page]": 7})
                assert page == everything[offset : offset + 7]
            for limit in range(1, 60):
                page = streams(client, **{"params[offset]": 5, "params[items_per_page]": limit})
                assert page == everything[5 : 5 + limit]
            for offset in range(0, 160, 3):  # pages of a category count within it
                page = streams(client, category_id=str(catalog.cats["sports"]),
                               **{"params[offset]": offset})  # fmt: skip
                assert page == sports[offset:]
            for category in range(10_000, 10_200):  # ids the set does not use: empty lists
                assert streams(client, category_id=str(category)) == []
            held = stats()
            # One list for the whole set and one for Sports, whatever the pages asked.
            assert held["entries"] <= 3, held
            assert held["bytes"] <= max_bytes and held["max_entries"] == max_entries

            # Many different responses: the least recently used go, the bounds hold.
            for kind in ("m3u", "m3u_plus", "simple", "enigma16", "dreambox", "gigablue"):
                for output in ("ts", "m3u8"):
                    r = client.get(f"{server.base_url}/get.php",
                                   params=dict(ALICE, type=kind, output=output))  # fmt: skip
                    assert r.status_code == 200 and "Extra 0299" in r.text
                    held = stats()
                    assert held["entries"] <= max_entries and held["bytes"] <= max_bytes, held
            for action in ("get_live_categories", "get_vod_streams", "get_series"):
                assert client.get(url, params=dict(ALICE, action=action)).status_code == 200
            held = stats()
            assert held["evictions"] > 0
            assert held["entries"] <= max_entries and held["bytes"] <= max_bytes, held
            # What was evicted is rebuilt on demand, the same.
            assert streams(client) == everything
            assert streams(client, **{"params[offset]": 299}) == everything[299:]


def test_response_cache_stats_are_for_platform_admins_only(player) -> None:
    with player.server.client() as anonymous:
        assert anonymous.get("/api/v1/system/response-cache").status_code == 401

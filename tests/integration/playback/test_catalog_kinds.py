"""Live, VOD and series are cached per bouquet set kind by kind: an edit rebuilds only the
kind it touches, and shows within a second (issue #3 "performance by design")."""

from __future__ import annotations

import time

import httpx
from sqlalchemy import select

from palinsesto.catalog.models import Channel, Movie

ALICE = {"username": "alice", "password": "pw123"}


def get(player, action: str, **params) -> httpx.Response:
    query = dict(ALICE, action=action, **params)
    r = httpx.get(f"{player.base}/player_api.php", params=query, timeout=30)
    assert r.status_code == 200, r.text
    return r


def loads(player) -> dict[str, int]:
    return dict(player.server.ctx.services["viewer_surfaces"].catalogs.loads)


def test_an_edit_rebuilds_only_its_own_kind(player_on_each_db) -> None:
    player = player_on_each_db
    catalog = player.catalog
    live = get(player, "get_live_streams")
    vod = get(player, "get_vod_streams")
    series = get(player, "get_series")
    assert loads(player) == {"live": 1, "vod": 1, "series": 1}
    with player.server.client(player.server.token()) as admin:
        r = admin.patch(f"/api/v1/movies/{catalog.movies['m1']}", json={"name": "Renamed"})
        assert r.status_code == 200, r.text
        assert [m["name"] for m in get(player, "get_vod_streams").json()][0] == "Renamed"
        # The live list and the series were not read again: same bytes, same ETag.
        assert get(player, "get_live_streams").headers["etag"] == live.headers["etag"]
        assert get(player, "get_series").headers["etag"] == series.headers["etag"]
        assert loads(player) == {"live": 1, "vod": 2, "series": 1}

        r = admin.patch(f"/api/v1/channels/{catalog.channels['news']}", json={"name": "News 48"})
        assert r.status_code == 200, r.text
        committed = time.monotonic()
        names = [c["name"] for c in get(player, "get_live_streams").json()]
        assert time.monotonic() - committed < 1.0
        assert names == ['Sports "One"', "News 48", "Radio Loop"]
        renamed_vod = get(player, "get_vod_streams")
        assert renamed_vod.headers["etag"] != vod.headers["etag"]
        assert loads(player) == {"live": 2, "vod": 2, "series": 1}

        r = admin.patch(f"/api/v1/series/{catalog.series['show']}", json={"name": "New Show"})
        assert r.status_code == 200, r.text
        assert get(player, "get_series").json()[0]["name"] == "New Show"
        assert get(player, "get_vod_streams").headers["etag"] == renamed_vod.headers["etag"]
        assert loads(player) == {"live": 2, "vod": 2, "series": 2}

        # A category is shared by every kind's listings: all three are rebuilt.
        r = admin.patch(f"/api/v1/categories/{catalog.cats['action']}", json={"name": "Thrills"})
        assert r.status_code == 200, r.text
        assert [c["category_name"] for c in get(player, "get_vod_categories").json()] == ["Thrills"]
        get(player, "get_live_streams")
        get(player, "get_series")
        assert loads(player) == {"live": 3, "vod": 3, "series": 3}


def test_a_bare_catalog_event_rebuilds_every_kind(player) -> None:
    for action in ("get_live_streams", "get_vod_streams", "get_series"):
        get(player, action)
    # What another publisher (the EPG matcher, another node's tool) sends: no kind named.
    player.server.ctx.events.publish(player.catalog.tenant_id, "catalog")
    for action in ("get_live_categories", "get_vod_categories", "get_series_categories"):
        get(player, action)
    assert loads(player) == {"live": 2, "vod": 2, "series": 2}


def test_the_first_live_request_does_not_read_movies_or_series(player) -> None:
    get(player, "get_live_streams")
    playlist = httpx.get(
        f"{player.base}/get.php", params=dict(ALICE, type="m3u_plus", key="live"), timeout=30
    )
    assert playlist.status_code == 200
    assert loads(player) == {"live": 1, "vod": 0, "series": 0}


def test_database_computed_fields_match_the_rows(player_on_each_db) -> None:
    """Timestamps are converted and JSON is read as text by the database (SQLite and
    PostgreSQL each their own way); the values must be the rows' own."""
    player = player_on_each_db
    with player.server.ctx.db.session() as s:
        movie_added = s.scalar(
            select(Movie.created_at).where(Movie.id == player.catalog.movies["m1"])
        )
        channel_added = s.scalar(
            select(Channel.created_at).where(Channel.id == player.catalog.channels["news"])
        )
    movies = {m["stream_id"]: m for m in get(player, "get_vod_streams").json()}
    assert movies[player.catalog.movies["m1"]]["added"] == str(int(movie_added.timestamp()))
    channels = {c["stream_id"]: c for c in get(player, "get_live_streams").json()}
    assert channels[player.catalog.channels["news"]]["added"] == str(int(channel_added.timestamp()))
    info = get(player, "get_vod_info", vod_id=str(player.catalog.movies["m1"])).json()["info"]
    assert info["backdrop_path"] == ["http://img.example/b1.jpg"]
    show = get(player, "get_series").json()[0]
    assert show["backdrop_path"] == [] and show["last_modified"].isdigit()

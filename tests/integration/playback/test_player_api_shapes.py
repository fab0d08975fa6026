"""player_api.php shapes and JSON types, field by field, against xtream-api.md §3–5, §14."""

from __future__ import annotations

import base64
import time

import httpx

from palinsesto.panel.playback.guide import ProgrammeRow
from support.player_checks import ListGuide, record_archive

ALICE = {"username": "alice", "password": "pw123"}


def call(player, action: str = "", **params):
    query = dict(ALICE, **params)
    if action:
        query["action"] = action
    r = httpx.get(f"{player.base}/player_api.php", params=query, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    return r.json()


def test_account_call_types_follow_the_compat_profile(player) -> None:
    body = call(player)
    assert set(body) == {"user_info", "server_info"}
    user, server = body["user_info"], body["server_info"]
    assert user["username"] == "alice" and user["password"] == "pw123"
    assert user["message"] == "Welcome to Acme"
    assert user["auth"] == 1 and isinstance(user["auth"], int)
    assert user["status"] == "Active"
    for key in ("exp_date", "created_at", "is_trial", "max_connections"):
        assert isinstance(user[key], str) and user[key].isdigit(), key
    assert user["max_connections"] == "2" and user["is_trial"] == "0"
    assert int(user["exp_date"]) > time.time()
    assert user["active_cons"] == 0 and isinstance(user["active_cons"], int)
    assert user["allowed_output_formats"] == ["m3u8", "ts"]
    port = player.base.rsplit(":", 1)[1]
    assert server["url"] == "127.0.0.1"
    assert server["port"] == port and isinstance(server["port"], str)
    assert isinstance(server["https_port"], str) and isinstance(server["rtmp_port"], str)
    # The port its RTMP ingest really took (the tests bind port 0), not a default.
    rtmp_port = player.server.ctx.services["live"].rtmp_port
    assert rtmp_port > 0 and server["rtmp_port"] == str(rtmp_port)
    assert server["server_protocol"] == "http"
    assert server["timezone"] == "UTC"
    assert isinstance(server["timestamp_now"], int)
    assert abs(server["timestamp_now"] - time.time()) < 5
    expected_local = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(server["timestamp_now"]))
    assert server["time_now"] == expected_local
    assert not {"xui", "version", "revision"} & set(server)


def test_never_expiring_line_sends_null_exp_date(player) -> None:
    r = httpx.get(
        f"{player.base}/player_api.php", params={"username": "forever", "password": "pw123"}
    )
    assert r.json()["user_info"]["exp_date"] is None


def test_active_cons_comes_from_the_session_counter(player) -> None:
    class Sessions:
        def active_count(self, line_id: int) -> int:
            return 3 if line_id == player.catalog.lines["alice"] else 0

    player.server.ctx.services["sessions"] = Sessions()
    assert call(player)["user_info"]["active_cons"] == 3


def test_unknown_actions_and_library_aliases_answer_with_the_account(player) -> None:
    plain = call(player)
    for action in ("get_profile", "get_server_info", "get_account_info", "nonsense"):
        body = call(player, action)
        assert body["user_info"] == plain["user_info"], action
        assert set(body) == {"user_info", "server_info"}


def test_categories_only_used_ones_in_sort_order(player) -> None:
    cats = player.catalog.cats
    live = call(player, "get_live_categories")
    assert live == [
        {"category_id": str(cats["sports"]), "category_name": "Sports", "parent_id": 0},
        {"category_id": str(cats["news"]), "category_name": "News", "parent_id": 0},
    ]
    assert [c["category_name"] for c in call(player, "get_vod_categories")] == ["Action"]
    assert [c["category_name"] for c in call(player, "get_series_categories")] == ["Drama"]


def test_live_streams_fields_types_and_bouquet_order(player) -> None:
    ch, cats = player.catalog.channels, player.catalog.cats
    items = call(player, "get_live_streams")
    # Basic (sports, news) then Extra (news again dropped, radio); the disabled one never.
    assert [i["stream_id"] for i in items] == [ch["sports"], ch["news"], ch["radio"]]
    assert [i["num"] for i in items] == [1, 2, 3]
    sports, news, radio = items
    assert set(news) == {
        "num", "name", "stream_type", "stream_id", "stream_icon", "epg_channel_id", "added",
        "category_id", "category_ids", "custom_sid", "tv_archive", "direct_source",
        "tv_archive_duration", "thumbnail",
    }  # fmt: skip
    assert news["stream_type"] == "live"
    assert news["name"] == "News 24" and news["stream_icon"] == "http://img.example/news.png"
    assert news["epg_channel_id"] == "news24.example"
    assert isinstance(news["added"], str) and news["added"].isdigit()
    assert news["category_id"] == str(cats["news"])
    assert news["category_ids"] == [cats["news"]]
    # News keeps 3 days of archive but nothing is recorded yet: not advertised (§4.3).
    assert news["tv_archive"] == 0 and news["tv_archive_duration"] == 0
    assert news["custom_sid"] == ":0:1:ABC:1:1:0:0:0:0:"
    assert news["direct_source"] == ""
    assert sports["name"] == 'Sports "One"'
    assert sports["category_ids"] == [cats["sports"], cats["news"]]
    assert sports["tv_archive"] == 0 and sports["tv_archive_duration"] == 0
    assert radio["category_id"] is None and radio["category_ids"] == []
    assert radio["epg_channel_id"] is None
    now = int(time.time())
    record_archive(player.server, ch["news"], now - 600, now - 60)
    news = call(player, "get_live_streams")[1]
    assert news["tv_archive"] == 1 and news["tv_archive_duration"] == 3


def test_category_filter_restarts_num_and_matches_any_category(player) -> None:
    ch, cats = player.catalog.channels, player.catalog.cats
    news = call(player, "get_live_streams", category_id=str(cats["news"]))
    assert [(i["stream_id"], i["num"]) for i in news] == [(ch["sports"], 1), (ch["news"], 2)]
    assert {i["category_id"] for i in news} == {str(cats["news"])}
    sports = call(player, "get_live_streams", category_id=str(cats["sports"]))
    assert [(i["stream_id"], i["num"]) for i in sports] == [(ch["sports"], 1)]
    assert call(player, "get_live_streams", category_id="0") == call(player, "get_live_streams")


def test_pagination_slices_after_ordering(player) -> None:
    page = call(
        player, "get_live_streams", **{"params[offset]": "1", "params[items_per_page]": "1"}
    )
    assert [(i["stream_id"], i["num"]) for i in page] == [(player.catalog.channels["news"], 2)]


def test_bad_category_id_is_a_clear_400(player) -> None:
    r = httpx.get(
        f"{player.base}/player_api.php",
        params=dict(ALICE, action="get_live_streams", category_id="abc"),
    )
    assert r.status_code == 400 and "category_id" in r.json()["error"]


def test_vod_streams_fields_and_types(player) -> None:
    m, cats = player.catalog.movies, player.catalog.cats
    items = call(player, "get_vod_streams")
    assert [i["stream_id"] for i in items] == [m["m1"], m["m2"]]
    one, two = items
    assert one["num"] == 1 and one["stream_type"] == "movie"
    assert one["name"] == "Some Movie" and one["title"] == "Some Movie" and one["year"] == "2019"
    assert one["rating"] == "6.3" and one["rating_5based"] == 3.1
    assert isinstance(one["rating_5based"], float)
    assert one["added"].isdigit()
    assert one["category_id"] == str(cats["action"]) and one["category_ids"] == [cats["action"]]
    assert one["container_extension"] == "mkv"
    assert one["episode_run_time"] == "90"
    assert one["custom_sid"] == "" and one["direct_source"] == ""
    assert two["rating"] == "" and two["rating_5based"] == 0
    assert two["category_id"] is None and two["category_ids"] == [] and two["year"] is None
    filtered = call(player, "get_vod_streams", category_id=str(cats["action"]))
    assert [(i["stream_id"], i["num"]) for i in filtered] == [(m["m1"], 1)]


def test_vod_info_found_missing_and_outside_bouquets(player) -> None:
    m = player.catalog.movies
    body = call(player, "get_vod_info", vod_id=str(m["m1"]))
    info, data = body["info"], body["movie_data"]
    assert info["name"] == "Some Movie" and info["tmdb_id"] == 42
    assert info["backdrop_path"] == ["http://img.example/b1.jpg"]
    assert info["duration_secs"] == 5400 and info["duration"] == "01:30:00"
    assert info["episode_run_time"] == 90 and info["rating"] == 6.3
    assert data["stream_id"] == m["m1"] and data["container_extension"] == "mkv"
    assert data["added"].isdigit() and data["category_id"] == str(player.catalog.cats["action"])
    assert call(player, "get_vod_info", vod_id="999999") == {"info": []}
    # basiconly lacks the Extra bouquet, which holds m2.
    params = {"username": "basiconly", "password": "pw123"}
    params.update(action="get_vod_info", vod_id=str(m["m2"]))
    assert httpx.get(f"{player.base}/player_api.php", params=params).json() == {"info": []}
    assert call(player, "get_vod_info", vod_id=str(m["m2"]))["movie_data"]["stream_id"] == m["m2"]


def test_series_list_fields_and_types(player) -> None:
    s, cats = player.catalog.series, player.catalog.cats
    items = call(player, "get_series")
    assert [i["series_id"] for i in items] == [s["show"], s["empty"]]
    show = items[0]
    assert show["num"] == 1 and show["stream_type"] == "series"
    assert show["rating"] == "7" and show["rating_5based"] == 3.7
    assert show["last_modified"].isdigit() and show["episode_run_time"] == "45"
    assert show["backdrop_path"] == [] and items[1]["backdrop_path"] == []
    assert show["category_id"] == str(cats["drama"]) and show["category_ids"] == [cats["drama"]]
    assert show["releaseDate"] == show["release_date"] == ""


def test_series_info_episodes_keyed_by_season_strings(player) -> None:
    s, e = player.catalog.series, player.catalog.episodes
    body = call(player, "get_series_info", series_id=str(s["show"]))
    assert set(body) == {"seasons", "info", "episodes"}
    episodes = body["episodes"]
    assert isinstance(episodes, dict) and list(episodes) == ["0", "1", "2"]
    assert [ep["id"] for ep in episodes["1"]] == [str(e["s1e1"]), str(e["s1e2"])]
    first = episodes["1"][0]
    assert first["episode_num"] == 1 and first["season"] == 1
    assert isinstance(first["info"], dict) and first["added"].isdigit()
    assert first["container_extension"] == "mp4" and first["direct_source"] == ""
    seasons = {x["season_number"]: x for x in body["seasons"]}
    assert seasons[1]["air_date"] == "2020-01-01" and seasons[1]["episode_count"] == 2
    assert "air_date" not in seasons[2]  # empty date omitted, never null (§13.11)
    assert all(isinstance(x["id"], int) for x in body["seasons"])
    assert body["info"]["name"] == "Some Show" and body["info"]["backdrop_path"] == []
    empty = call(player, "get_series_info", series_id=str(s["empty"]))
    assert empty["episodes"] == {} and empty["seasons"] == []
    missing = call(player, "get_series_info", series_id="424242")
    assert missing["info"]["name"] is None and missing["episodes"] == {}


def test_numeric_aliases_post_and_path_alias_answer_the_same(player) -> None:
    pairs = [
        ("201", "get_live_categories"),
        ("202", "get_live_streams"),
        ("203", "get_vod_streams"),
        ("208", "get_series"),
    ]
    for number, name in pairs:
        assert call(player, number) == call(player, name)
    named = call(player, "get_live_streams")
    posted = httpx.post(
        f"{player.base}/player_api.php", data=dict(ALICE, action="get_live_streams")
    )
    assert posted.status_code == 200 and posted.json() == named
    path = httpx.get(f"{player.base}/player_api/alice/pw123/get_live_streams")
    assert path.json() == named
    assert httpx.get(f"{player.base}/player_api/alice/pw123").json()["user_info"]["auth"] == 1


def test_epg_actions_with_no_guide_are_empty_but_well_shaped(player) -> None:
    sid = str(player.catalog.channels["news"])
    assert call(player, "get_short_epg", stream_id=sid) == {"epg_listings": []}
    assert call(player, "get_simple_data_table", stream_id=sid) == {"epg_listings": []}
    assert call(player, "get_short_epg", stream_id="999") == {"epg_listings": []}


def test_epg_rows_base64_strings_and_archive_flags(player) -> None:
    now = int(time.time())
    rows = [
        ProgrammeRow(1, 7, "news24.example", now - 7200, now - 3600, "Früh", "Old news"),
        ProgrammeRow(2, 7, "news24.example", now - 3600, now + 600, "Now", "Current"),
        ProgrammeRow(3, 7, "news24.example", now + 600, now + 4200, "Later", "", "en"),
        ProgrammeRow(4, 7, "sports1.example", now - 3600, now + 600, "Match", "Live"),
    ]
    player.server.ctx.services["guide"] = ListGuide(rows)
    sid = str(player.catalog.channels["news"])
    short = call(player, "get_short_epg", stream_id=sid, limit="1")["epg_listings"]
    assert len(short) == 1
    row = short[0]
    assert base64.b64decode(row["title"]).decode() == "Now"
    assert base64.b64decode(row["description"]).decode() == "Current"
    assert row["start_timestamp"] == str(now - 3600) and row["stop_timestamp"] == str(now + 600)
    assert row["id"] == "2" and row["epg_id"] == "7" and row["channel_id"] == "news24.example"
    assert row["start"] == time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(now - 3600))
    assert "now_playing" not in row
    table = call(player, "get_simple_data_table", stream_id=sid)["epg_listings"]
    assert [base64.b64decode(r["title"]).decode() for r in table] == ["Früh", "Now", "Later"]
    assert [r["now_playing"] for r in table] == [0, 1, 0]
    # News keeps 3 days of archive, but nothing is recorded: never advertise it (§4.8).
    assert [r["has_archive"] for r in table] == [0, 0, 0]
    record_archive(player.server, int(sid), now - 7300, now - 3500)  # now the archive holds "Früh"
    table = call(player, "get_simple_data_table", stream_id=sid)["epg_listings"]
    assert [r["has_archive"] for r in table] == [1, 0, 0]
    sports_id = str(player.catalog.channels["sports"])
    sports = call(player, "get_simple_data_table", stream_id=sports_id)
    assert [r["has_archive"] for r in sports["epg_listings"]] == [0]  # no archive
    xui = call(player, "get_epg", stream_id=sid)
    assert [r["start"] for r in xui] == [now - 7200, now - 3600, now + 600]

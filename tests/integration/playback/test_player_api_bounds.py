"""player_api.php and stream URLs answer out-of-range, foreign-digit and NUL input with a
4xx (or Xtream's auth refusal), never a 500, on SQLite and on PostgreSQL.

player_api.php is not in the OpenAPI document, so schemathesis never reaches it; these are
the cases from the security review, sent over a real socket.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from support.databases import BACKENDS, temporary_database
from support.player_catalog import Catalog, populate
from support.server import make_settings, run_server

HUGE = "99999999999999999999"  # past int8 too
INT4_PAST = str(2**31)
ARABIC_DIGITS = "\u0661\u0662"  # "١٢": str.isdigit() and int() accept it
ALICE = {"username": "alice", "password": "pw123"}


@dataclass
class Player:
    base: str
    catalog: Catalog


@pytest.fixture(scope="module", params=BACKENDS)
def player_on_each_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Player]:
    """One server per backend for the module: these requests change nothing."""
    tmp_path: Path = tmp_path_factory.mktemp(f"bounds-{request.param}")
    with temporary_database(request.param, tmp_path) as url:
        with run_server(make_settings(tmp_path, url)) as server:
            yield Player(server.base_url, populate(server.ctx.db))


def _get(player, path: str, params: dict[str, str]) -> httpx.Response:
    return httpx.get(f"{player.base}{path}", params=params, timeout=30)


@pytest.mark.parametrize("value", [HUGE, INT4_PAST, f"-{HUGE}", ARABIC_DIGITS, "1_0"])
@pytest.mark.parametrize(
    ("action", "name"),
    [
        ("get_short_epg", "limit"),
        ("get_short_epg", "stream_id"),
        ("get_simple_data_table", "stream_id"),
        ("get_epg", "stream_id"),
        ("get_vod_info", "vod_id"),
        ("get_series_info", "series_id"),
        ("get_live_streams", "category_id"),
        ("get_vod_streams", "category_id"),
        ("get_series", "category_id"),
        ("get_live_streams", "params[items_per_page]"),
    ],
)
def test_bad_integers_are_400_naming_the_parameter(
    player_on_each_db, action: str, name: str, value: str
) -> None:
    news = str(player_on_each_db.catalog.channels["news"])
    params = {**ALICE, "action": action, "stream_id": news, name: value}
    r = _get(player_on_each_db, "/player_api.php", params)
    assert r.status_code == 400, r.text
    assert name in r.json()["error"]


def test_short_epg_limit_in_range_still_answers(player_on_each_db) -> None:
    news = str(player_on_each_db.catalog.channels["news"])
    params = {**ALICE, "action": "get_short_epg", "stream_id": news, "limit": str(2**31 - 1)}
    r = _get(player_on_each_db, "/player_api.php", params)
    assert r.status_code == 200 and r.json() == {"epg_listings": []}


@pytest.mark.parametrize(
    "params",
    [
        {"username": "ali\x00ce", "password": "pw123"},
        {"username": "alice", "password": "pw\x00123"},
        {**ALICE, "action": "get_live_streams\x00"},
        {**ALICE, "action": "get_live_streams", "category_id": "1\x00"},
        {**ALICE, "action": "get_short_epg", "stream_id": "\x00"},
    ],
)
def test_nul_is_refused_without_a_server_error(player_on_each_db, params) -> None:
    for path in ("/player_api.php", "/panel_api.php"):
        r = _get(player_on_each_db, path, params)
        assert r.status_code < 500, (path, r.status_code, r.text)
        if "\x00" in params["username"] + params["password"]:
            assert r.json()["user_info"]["auth"] == 0


@pytest.mark.parametrize(
    "path",
    [
        f"/live/alice/pw123/{HUGE[:10]}.ts",
        f"/live/alice/pw123/{2**31}.m3u8",
        f"/live/alice/pw123/{ARABIC_DIGITS}.ts",
        f"/alice/pw123/{ARABIC_DIGITS}",
        "/live/ali%00ce/pw123/1.ts",
        "/get.php?username=ali%00ce&password=pw123&type=m3u_plus",
        "/xmltv.php?username=ali%00ce&password=pw123",
    ],
)
def test_stream_and_playlist_urls_never_fail_with_500(player_on_each_db, path: str) -> None:
    r = httpx.get(f"{player_on_each_db.base}{path}", timeout=30)
    assert r.status_code < 500, (r.status_code, r.text)
    if "%00" in path:
        assert r.status_code >= 400 or "#EXTINF" not in r.text

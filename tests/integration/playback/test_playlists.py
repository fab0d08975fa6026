"""get.php / /playlist/ in every type, parsed with the m3u8 package and line by line (§6, §11.1)."""

from __future__ import annotations

import httpx
import m3u8
import pytest

from support.player_checks import m3u_entries


def playlist(player, **params) -> httpx.Response:
    query = {"username": "alice", "password": "pw123", **params}
    r = httpx.get(f"{player.base}/get.php", params=query, timeout=30)
    assert r.status_code == 200, r.text
    return r


@pytest.mark.parametrize("output", ["ts", "m3u8", "hls", "mpegts"])
def test_plain_m3u_parses_with_m3u8_and_has_every_url_form(player, output: str) -> None:
    r = playlist(player, type="m3u", output=output)
    assert r.headers["content-type"] == "audio/x-mpegurl"
    assert r.headers["content-disposition"] == 'attachment; filename="tv_channels_alice.m3u"'
    assert r.text.startswith("#EXTM3U\r\n#EXTINF")  # XC's plain header (§6.2)
    parsed = m3u8.loads(r.text)
    ext = "m3u8" if output in ("m3u8", "hls") else "ts"
    c, m, e = player.catalog.channels, player.catalog.movies, player.catalog.episodes
    base = player.base
    assert [(s.title, s.uri) for s in parsed.segments] == [
        ('Sports "One"', f"{base}/live/alice/pw123/{c['sports']}.{ext}"),
        ("News 24", f"{base}/live/alice/pw123/{c['news']}.{ext}"),
        ("Radio Loop", f"{base}/live/alice/pw123/{c['radio']}.{ext}"),
        ("Some Movie", f"{base}/movie/alice/pw123/{m['m1']}.mkv"),
        ("Other Movie", f"{base}/movie/alice/pw123/{m['m2']}.mp4"),
        ("Some Show S00 E01", f"{base}/series/alice/pw123/{e['s0e1']}.mp4"),
        ("Some Show S01 E01", f"{base}/series/alice/pw123/{e['s1e1']}.mp4"),
        ("Some Show S01 E02", f"{base}/series/alice/pw123/{e['s1e2']}.mp4"),
        ("Some Show S02 E01", f"{base}/series/alice/pw123/{e['s2e1']}.mp4"),
    ]
    assert all(s.duration == -1 for s in parsed.segments)


def test_m3u_plus_attributes_header_and_catchup(player) -> None:
    r = playlist(player, type="m3u_plus", output="ts")
    assert "#EXT-X-SESSION-DATA" not in r.text  # §13.25
    header, entries = m3u_entries(r.text)
    epg = f"{player.base}/xmltv.php?username=alice&password=pw123"
    assert header == {"x-tvg-url": epg, "url-tvg": epg}
    assert len(entries) == 9
    sports, news, radio, movie = entries[:4]
    # No channel has a number yet: no tvg-chno (not the playlist position), Kodi numbers them.
    assert sports["tvg-id"] == "sports1.example" and "tvg-chno" not in sports
    assert sports["tvg-name"] == "Sports 'One'" and sports["_name"] == 'Sports "One"'
    assert sports["group-title"] == "Sports;News"  # every category, Kodi's ';' list
    assert sports["tvg-logo"] == "http://img.example/sports.png"
    assert "catchup" not in sports
    cid = player.catalog.channels["news"]
    assert news["catchup"] == "default" and news["catchup-days"] == "3"
    assert news["catchup-source"] == (
        f"{player.base}/timeshift/alice/pw123/{{duration:60}}/{{Y}}-{{m}}-{{d}}:{{H}}-{{M}}/{cid}.ts"
    )
    assert radio["group-title"] == "" and radio["tvg-id"] == "" and "tvg-chno" not in radio
    assert movie["group-title"] == "Action" and movie["tvg-id"] == ""
    assert "tvg-chno" not in movie
    assert entries[-1]["group-title"] == "Drama"
    assert entries[-1]["tvg-logo"] == "http://img.example/show.jpg"
    hls = m3u_entries(playlist(player, type="m3u_plus", output="m3u8").text)[1]
    assert hls[1]["catchup"] == "xc" and "catchup-source" not in hls[1]  # §6.4 Kodi xc mode


def test_key_restricts_content_types_and_path_alias_matches(player) -> None:
    live = playlist(player, type="m3u_plus", output="ts", key="live").text
    assert [e["_name"] for e in m3u_entries(live)[1]] == ['Sports "One"', "News 24", "Radio Loop"]
    movies = m3u_entries(playlist(player, type="m3u", key="movie").text)[1]
    assert [e["_name"] for e in movies] == ["Some Movie", "Other Movie"]
    alias = httpx.get(f"{player.base}/playlist/alice/pw123/m3u_plus", params={"output": "ts"})
    assert alias.text == playlist(player, type="m3u_plus", output="ts").text
    default = httpx.get(f"{player.base}/playlist/alice/pw123")  # XUI default: m3u_plus, ts
    assert default.text == alias.text


def test_simple_and_enigma2_bouquet_types(player) -> None:
    c = player.catalog.channels
    simple = playlist(player, type="simple", output="ts", key="live").text.split("\r\n")
    assert simple[0] == f'{player.base}/live/alice/pw123/{c["sports"]}.ts #Name: Sports "One"'
    host = "http%3A//" + player.base.removeprefix("http://").replace(":", "%3A")
    for kind, news_service, movie_service in [
        ("enigma16", "4097:0:1:ABC:1:1:0:0:0:0:", "4097:0:1:0:0:0:0:0:0:0:"),
        ("dreambox", "1:0:1:ABC:1:1:0:0:0:0:", "4097:0:1:0:0:0:0:0:0:0:"),
        ("gigablue", "4097:0:1:0:0:0:0:0:0:0:", "4097:0:1:0:0:0:0:0:0:0:"),
    ]:
        r = playlist(player, type=kind, output="ts")
        assert r.headers["content-disposition"].endswith('filename="userbouquet.favourites.tv"')
        lines = r.text.split("\r\n")
        assert lines[0] == "#NAME Acme TV"
        assert lines[3] == f"#SERVICE {news_service}{host}/live/alice/pw123/{c['news']}.ts"
        assert lines[4] == "#DESCRIPTION News 24"
        movie_id = player.catalog.movies["m1"]
        assert lines[7] == f"#SERVICE {movie_service}{host}/movie/alice/pw123/{movie_id}.mkv"
        services = [x for x in lines if x.startswith("#SERVICE")]
        assert len(services) == 9 and all(x.count("://") == 0 for x in services)


def test_bad_type_output_or_key_is_a_clear_400(player) -> None:
    base = {"username": "alice", "password": "pw123"}
    for params, word in [({"type": "zorro"}, "type"), ({"output": "rtmp"}, "output"),
                         ({"key": "films"}, "key")]:  # fmt: skip
        r = httpx.get(f"{player.base}/get.php", params={**base, **params})
        assert r.status_code == 400 and word in r.text


def test_playlist_is_streamed_in_chunks(player) -> None:
    with httpx.stream(
        "GET",
        f"{player.base}/get.php",
        params={"username": "alice", "password": "pw123", "type": "m3u_plus"},
        headers={"Accept-Encoding": "identity"},
    ) as r:
        assert r.headers.get("transfer-encoding") == "chunked"
        assert "content-length" not in r.headers
        body = b"".join(r.iter_raw())
    assert body.startswith(b"#EXTM3U")


def test_playlist_etag_and_gzip(player) -> None:
    params = {"username": "alice", "password": "pw123", "type": "m3u_plus"}
    plain = httpx.get(f"{player.base}/get.php", params=params, headers={"Accept-Encoding": "x"})
    zipped = httpx.get(f"{player.base}/get.php", params=params, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.text == plain.text  # httpx decoded it
    etag = plain.headers["etag"]
    again = httpx.get(f"{player.base}/get.php", params=params, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    carol = httpx.get(f"{player.base}/get.php", params={**params, "username": "carol"})
    assert carol.headers["etag"] != etag  # same bouquets, other credentials in the URLs
    assert "/live/carol/pw123/" in carol.text and "alice" not in carol.text


def test_tvg_chno_is_the_channel_number_and_groups_follow_admin_edits(player) -> None:
    """Review #4: Kodi IPTV Simple numbers channels by tvg-chno and files them under every
    group of a ';'-separated group-title."""
    c, cats = player.catalog.channels, player.catalog.cats
    with player.server.client(player.server.token()) as admin:
        for key, body in [
            ("sports", {"number": 7}),
            ("radio", {"number": 120, "category_ids": [cats["news"], cats["sports"]]}),
        ]:
            r = admin.patch(f"/api/v1/channels/{c[key]}", json=body)
            assert r.status_code == 200, r.text
    entries = m3u_entries(playlist(player, type="m3u_plus", output="ts", key="live").text)[1]
    by_name = {e["_name"]: e for e in entries}
    sports, news, radio = by_name['Sports "One"'], by_name["News 24"], by_name["Radio Loop"]
    assert (sports["tvg-chno"], sports["group-title"]) == ("7", "Sports;News")
    assert "tvg-chno" not in news and news["group-title"] == "News"
    assert (radio["tvg-chno"], radio["group-title"]) == ("120", "News;Sports")
    # The order stays the bouquet's: numbers are labels, not positions.
    assert [e["_name"] for e in entries] == ['Sports "One"', "News 24", "Radio Loop"]


# Review #3: what each type is served as. mpv and VLC take the M3U types as playlists by
# these names; the others are text files a receiver saves.
MEDIA_TYPES = {
    "m3u": "audio/x-mpegurl",
    "m3u_plus": "audio/x-mpegurl",
    "simple": "text/plain; charset=utf-8",
    "enigma16": "text/plain; charset=utf-8",
    "dreambox": "text/plain; charset=utf-8",
    "gigablue": "text/plain; charset=utf-8",
}


@pytest.mark.parametrize("kind", sorted(MEDIA_TYPES))
def test_every_playlist_type_has_its_media_type(player, kind: str) -> None:
    for output in ("ts", "m3u8"):
        r = playlist(player, type=kind, output=output)
        assert r.headers["content-type"] == MEDIA_TYPES[kind]
        assert r.headers["content-disposition"].startswith("attachment; filename=")
        alias = httpx.get(f"{player.base}/playlist/alice/pw123/{kind}", params={"output": output})
        assert alias.headers["content-type"] == MEDIA_TYPES[kind]
    zipped = httpx.get(
        f"{player.base}/get.php",
        params={"username": "alice", "password": "pw123", "type": kind},
        headers={"Accept-Encoding": "gzip"},
    )
    assert zipped.headers["content-type"] == MEDIA_TYPES[kind]

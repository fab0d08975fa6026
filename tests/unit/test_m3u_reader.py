"""The sans-I/O M3U reader on real-shaped playlists, including broken ones."""

from __future__ import annotations

import pytest

from palinsesto.catalog.m3u_import import source_kind
from palinsesto.catalog.m3u_reader import parse_attributes, playlist_lines, read_m3u
from palinsesto.protocol.sources import SourceKind

# The shape XC emits (reference §6.3) plus the attributes of §6.4, CRLF line endings and a BOM.
XC_PLUS = (
    '\ufeff#EXTM3U x-tvg-url="http://epg.example/guide.xml" url-tvg="http://epg.example/g.xml"\r\n'
    '#EXTINF:-1 tvg-id="news24.example" tvg-name="News 24" tvg-logo="http://img.example/n24.png"'
    ' group-title="News",News 24\r\n'
    "http://tv.example.net:8080/live/alice/s3cret/1001.ts\r\n"
    '#EXTINF:-1 tvg-id="sport1.example" tvg-chno="7" catchup="xc" catchup-days="3"'
    ' catchup-source="?utc={utc}" group-title="Sports;HD",Sport 1, the best\r\n'
    "#EXTVLCOPT:http-user-agent=VLC/3.0\r\n"
    "https://cdn.example.net/sport1/index.m3u8|user-agent=Kodi&referer=http://x.example/\r\n"
    '#EXTINF:0 tvg-rec="2",Hotel Info\r\n'
    "#EXTGRP:Hotel\r\n"
    "udp://@239.1.1.1:1234\r\n"
)


def test_reads_xc_m3u_plus_with_extended_attributes() -> None:
    playlist = read_m3u(XC_PLUS.splitlines())
    assert playlist.errors == []
    assert playlist.has_header
    assert playlist.header_attributes["x-tvg-url"] == "http://epg.example/guide.xml"
    assert playlist.header_attributes["url-tvg"] == "http://epg.example/g.xml"
    news, sport, hotel = playlist.entries
    assert (news.name, news.tvg_id, news.tvg_name, news.group_title) == (
        "News 24",
        "news24.example",
        "News 24",
        "News",
    )
    assert news.tvg_logo == "http://img.example/n24.png"
    assert news.url == "http://tv.example.net:8080/live/alice/s3cret/1001.ts"
    assert (news.line_number, news.url_line_number, news.duration) == (2, 3, -1.0)
    # The title keeps its own commas; only the first unquoted comma ends the attributes.
    assert sport.name == "Sport 1, the best"
    assert sport.groups == ("Sports", "HD")
    assert (sport.tvg_chno, sport.catchup, sport.catchup_days) == (7, "xc", 3)
    assert sport.catchup_source == "?utc={utc}"
    assert sport.url == "https://cdn.example.net/sport1/index.m3u8"
    assert sport.http_headers == {"user-agent": "Kodi", "referer": "http://x.example/"}
    assert sport.vlc_options == {"http-user-agent": "VLC/3.0"}
    assert (hotel.group_title, hotel.catchup_days, hotel.duration) == ("Hotel", 2, 0.0)
    assert hotel.tvg_chno is None


BROKEN = """#EXTM3U
#EXTINF:-1 group-title="News",Good One
http://a.example/1.ts
#EXTINF:-1 group-title="News",No URL Follows
#EXTINF:abc,Bad Duration
http://a.example/2.ts
#EXTINF:-1 tvg-logo="http://img.example/x.png,Unterminated
http://a.example/3.ts
http://a.example/orphan.ts

#EXTINF:-1,Wrong Scheme
ftp://files.example/4.ts
#EXTINF:-1 group-title="Radio",
http://a.example/noname.ts
#EXTINF:-1 tvg-name="Named By Tvg",
rtmp://live.example/app/stream
#EXTINF:-1,Good Two
srt://10.0.0.1:9000?streamid=x
#EXTINF:-1,Dangling At End
"""


def test_malformed_entries_are_reported_by_line_and_the_rest_kept() -> None:
    playlist = read_m3u(BROKEN.splitlines())
    assert [entry.name for entry in playlist.entries] == ["Good One", "Named By Tvg", "Good Two"]
    assert [(error.line_number, error.message.split(" ")[0]) for error in playlist.errors] == [
        (4, "#EXTINF"),
        (5, "bad"),
        (7, "malformed"),
        (9, "URL"),
        (12, "unsupported"),
        (13, "#EXTINF"),
        (19, "#EXTINF"),
    ]
    messages = {error.line_number: error.message for error in playlist.errors}
    assert messages[4] == "#EXTINF without a URL"
    assert "'abc'" in messages[5]
    assert "unterminated quote" in messages[7]
    assert messages[9] == "URL without #EXTINF"
    assert "'ftp'" in messages[12]
    assert "without a name" in messages[13]
    assert messages[19] == "#EXTINF without a URL"
    assert str(playlist.errors[0]) == "line 4: #EXTINF without a URL"


def test_html_is_not_a_playlist() -> None:
    page = "<!doctype html>\n<html><body><h1>Login</h1></body></html>\n"
    playlist = read_m3u(page.splitlines())
    assert not playlist.has_header
    assert playlist.entries == []
    assert [error.line_number for error in playlist.errors] == [1, 2]
    assert "not a URL" in playlist.errors[0].message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a=\"1\" b='two' c=3,Title", ({"a": "1", "b": "two", "c": "3"}, "Title")),
        (
            'tvg-id="" group-title="A, B",Name, Inc',
            ({"tvg-id": "", "group-title": "A, B"}, "Name, Inc"),
        ),
        ("  ,Just Title", ({}, "Just Title")),
        ('radio="true" TVG-ID="X"', ({"radio": "true", "tvg-id": "X"}, "")),
    ],
)
def test_parse_attributes(text: str, expected: tuple[dict[str, str], str]) -> None:
    assert parse_attributes(text) == expected


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://a.example/live/1.ts", SourceKind.http_ts),
        ("https://a.example/x/index.m3u8", SourceKind.hls),
        ("http://a.example/x/INDEX.M3U8", SourceKind.hls),
        ("rtmp://a.example/live/key", SourceKind.rtmp),
        ("rtmps://a.example/live/key", SourceKind.rtmp),
        ("udp://@239.0.0.1:1234", SourceKind.udp),
        ("srt://a.example:9000", SourceKind.srt),
        ("rtsp://cam.example/stream1", SourceKind.rtsp),
    ],
)
def test_source_kind_is_guessed_from_the_url(url: str, kind: SourceKind) -> None:
    assert source_kind(url) is kind


def test_line_numbers_count_only_real_line_breaks() -> None:
    text = "#EXTM3U\r\n#EXTINF:-1,Caf\u00e9\u2028Bar\r#EXTINF:-1,Two\nhttp://a.example/2.ts\n"
    playlist = read_m3u(playlist_lines(text))
    assert [str(error) for error in playlist.errors] == ["line 2: #EXTINF without a URL"]
    assert [(entry.name, entry.line_number) for entry in playlist.entries] == [("Two", 3)]

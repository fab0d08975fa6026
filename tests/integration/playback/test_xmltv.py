"""xmltv.php and /epg/U/P[/gz]: document shape per §7.2, UTC times, window, gzip."""

from __future__ import annotations

import gzip
import time
import xml.etree.ElementTree as ET

import httpx

from palinsesto.panel.playback.guide import ProgrammeRow
from support.player_checks import ListGuide


def test_channels_first_then_programmes_in_utc(player) -> None:
    now = int(time.time())
    rows = [
        ProgrammeRow(1, 1, "news24.example", now - 3 * 86400, now - 3 * 86400 + 60, "Old", ""),
        ProgrammeRow(2, 1, "news24.example", now - 600, now + 600, "News & <More>", "Desc"),
        ProgrammeRow(3, 1, "sports1.example", now + 600, now + 1200, "Match", ""),
        ProgrammeRow(4, 1, "foreign.example", now, now + 60, "Not ours", ""),
    ]
    player.server.ctx.services["guide"] = ListGuide(rows)
    r = httpx.get(f"{player.base}/xmltv.php", params={"username": "alice", "password": "pw123"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/xml; charset=utf-8"
    assert r.text.startswith('<?xml version="1.0" encoding="utf-8" ?>\n<!DOCTYPE tv SYSTEM')
    root = ET.fromstring(r.content)
    assert root.tag == "tv" and root.get("generator-info-url") == f"{player.base}/"
    tags = [child.tag for child in root]
    assert tags == ["channel", "channel", "programme", "programme"]
    channels = root.findall("channel")
    assert [c.get("id") for c in channels] == ["sports1.example", "news24.example"]
    assert channels[0].findtext("display-name") == 'Sports "One"'
    assert channels[0].find("icon").get("src") == "http://img.example/sports.png"
    first = root.findall("programme")[0]
    assert first.get("start") == time.strftime("%Y%m%d%H%M%S +0000", time.gmtime(now + 600))
    news = root.findall("programme")[1]
    assert news.get("channel") == "news24.example"
    assert news.findtext("title") == "News & <More>" and news.findtext("desc") == "Desc"
    assert [child.tag for child in news] == ["title", "desc"]
    # prev_days widens the window back to the old programme.
    wide = httpx.get(
        f"{player.base}/xmltv.php",
        params={"username": "alice", "password": "pw123", "prev_days": "4"},
    )
    assert len(ET.fromstring(wide.content).findall("programme")) == 3
    bad = httpx.get(
        f"{player.base}/xmltv.php",
        params={"username": "alice", "password": "pw123", "next_days": "many"},
    )
    assert bad.status_code == 400 and "next_days" in bad.text


def test_gzip_file_variant_and_content_encoding(player) -> None:
    r = httpx.get(f"{player.base}/epg/alice/pw123/gz")
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    assert "content-encoding" not in r.headers
    doc = ET.fromstring(gzip.decompress(r.content))
    assert [c.get("id") for c in doc.findall("channel")] == ["sports1.example", "news24.example"]
    enc = httpx.get(f"{player.base}/epg/alice/pw123", headers={"Accept-Encoding": "gzip"})
    assert enc.headers["content-encoding"] == "gzip"
    assert ET.fromstring(enc.content).tag == "tv"
    etag = enc.headers["etag"]
    assert (
        httpx.get(f"{player.base}/epg/alice/pw123", headers={"If-None-Match": etag}).status_code
        == 304
    )

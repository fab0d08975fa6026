"""Subtitle tracks found by the probe reach the apps: ``get_vod_info`` and
``get_series_info`` list them as ``{index, language, title}`` (reference §4.5, §4.7)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from support.admin_api import created
from support.media import FFMPEG

from .conftest import VodWorld

SRT = "1\n00:00:01,000 --> 00:00:03,000\nHello\n\n2\n00:00:04,000 --> 00:00:06,000\nWorld\n"


def _ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="session")
def subtitled_mkv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """H.264 + AAC with an SRT track (eng, titled "English SDH") and an ASS track (ita)."""
    folder = tmp_path_factory.mktemp("subtitled")
    (folder / "lines.srt").write_text(SRT)
    _ffmpeg("-i", str(folder / "lines.srt"), str(folder / "lines.ass"))
    path = folder / "subtitled.mkv"
    _ffmpeg(
        "-f", "lavfi", "-i", "testsrc2=size=160x90:rate=25", "-f", "lavfi", "-i", "sine",
        "-i", str(folder / "lines.srt"), "-i", str(folder / "lines.ass"), "-t", "8",
        "-map", "0", "-map", "1", "-map", "2", "-map", "3",
        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-c:s:0", "srt", "-c:s:1", "ass",
        "-metadata:s:s:0", "language=eng", "-metadata:s:s:0", "title=English SDH",
        "-metadata:s:s:1", "language=ita", str(path),
    )  # fmt: skip
    return path


EXPECTED = [
    {"index": 2, "language": "eng", "title": "English SDH"},
    {"index": 3, "language": "ita", "title": "ita"},
]


def test_subtitle_tracks_are_listed_for_a_movie_and_an_episode(
    vod: VodWorld, subtitled_mkv: Path
) -> None:
    (vod.media_folder / subtitled_mkv.name).write_bytes(subtitled_mkv.read_bytes())
    with vod.admin() as c:
        movie = created(
            c.post("/api/v1/movies", json={"name": "Subtitled", "source_url": subtitled_mkv.name})
        )
        assert [s["codec_name"] for s in movie["media_info"]["subtitles"]] == ["subrip", "ass"]
        sid = vod.series["id"]
        episode = created(
            c.post(
                f"/api/v1/series/{sid}/episodes",
                json={"season_number": 1, "episode_num": 3, "title": "e3",
                      "source_url": subtitled_mkv.name},
            )
        )  # fmt: skip
        items = [{"item_type": "movie", "item_id": vod.movies[k]["id"]} for k in ("mp4", "mkv")]
        items += [{"item_type": "movie", "item_id": movie["id"]}]
        items += [{"item_type": "series", "item_id": sid}]
        r = c.put(f"/api/v1/bouquets/{vod.bouquet_id}/items", json={"items": items})
        assert r.status_code == 200, r.text

    info = vod.player_api(action="get_vod_info", vod_id=movie["id"])
    assert info["info"]["subtitles"] == EXPECTED
    # A movie without subtitle tracks lists none.
    assert (
        vod.player_api(action="get_vod_info", vod_id=vod.movies["mp4"]["id"])["info"]["subtitles"]
        == []
    )

    series = vod.player_api(action="get_series_info", series_id=vod.series["id"])
    by_id = {ep["id"]: ep for ep in series["episodes"]["1"]}
    assert by_id[str(episode["id"])]["subtitles"] == EXPECTED
    assert by_id[str(vod.episodes["e2"]["id"])]["subtitles"] == []

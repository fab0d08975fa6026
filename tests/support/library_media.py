"""Library folders as operators lay them out, built from the VOD samples (hard links, so
each costs nothing) plus sidecars and poster images made by ffmpeg."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from support.media import FFMPEG
from support.vod_media import VodSamples


def link(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
    return target


def make_poster(path: Path, color: str = "red") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [FFMPEG, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
         "-i", f"color={color}:size=120x180", "-frames:v", "1", str(path)],
        check=True, timeout=60,
    )  # fmt: skip
    return path


MOVIE_NFO = b"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<movie>
  <title>Two Voices</title>
  <year>2016</year>
  <plot>A film heard in two languages.</plot>
  <genre>Drama</genre>
  <genre>Music</genre>
  <rating>7.8</rating>
</movie>
"""

TVSHOW_NFO = b"""<tvshow><title>Show Name</title><year>2021</year>
<plot>Lessons from a small kitchen.</plot><genre>Cooking</genre><rating>8.1</rating></tvshow>
"""


def movie_folder(root: Path, samples: VodSamples) -> dict[str, Path]:
    """``root``: an mp4 named like a release with a ``-poster.jpg``, an mkv (two audio
    languages) in its own folder with ``movie.nfo`` and ``folder.jpg``, a broken file."""
    files = {
        "mp4": link(samples.mp4, root / "The.Movie.Name.2019.1080p.mp4"),
        "mkv": link(samples.mkv, root / "Dual Audio Film (2015)" / "Dual Audio Film (2015).mkv"),
        "broken": link(samples.broken, root / "Broken.Film.2020.mp4"),
    }
    make_poster(root / "The.Movie.Name.2019.1080p-poster.jpg", "red")
    make_poster(root / "Dual Audio Film (2015)" / "folder.jpg", "blue")
    (root / "Dual Audio Film (2015)" / "movie.nfo").write_bytes(MOVIE_NFO)
    (root / "notes.txt").write_text("not a video")
    return files


def series_folder(root: Path, samples: VodSamples) -> None:
    show = root / "Show Name"
    link(samples.mp4, show / "Season 1" / "Show Name S01E01.mp4")
    link(samples.mkv, show / "Season 1" / "Show Name S01E02.mkv")
    (show / "tvshow.nfo").write_bytes(TVSHOW_NFO)
    make_poster(show / "poster.jpg", "green")
    link(samples.mkv, root / "Other.Show.S02E03.The.Visit.720p.mkv")


def wait_scan(client: httpx.Client, library_id: int, timeout: float = 120) -> dict[str, Any]:
    """The scan's outcome once it is no longer running."""
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(f"/api/v1/libraries/{library_id}/scan")
        assert r.status_code == 200, r.text
        scan = r.json()
        if scan["state"] != "running":
            return scan
        assert time.monotonic() < deadline, scan
        time.sleep(0.05)

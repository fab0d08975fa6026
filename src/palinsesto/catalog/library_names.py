"""Titles, years, seasons and episode numbers read from file and folder names, for files
without a sidecar that says better.

Release names put the title first and everything after it is technical detail:
``The.Movie.Name.2019.1080p.BluRay.x264.mkv`` is "The Movie Name" (2019). Episodes are
named ``Show Name S01E02`` (any separator, any case) or ``1x02``; the show is the name
before the marker, else the folder above ``Season N``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

# A year between brackets or standing alone, 1900–2099 (a "1080" is no year).
_YEAR = re.compile(r"[\[(]?\b((?:19|20)\d{2})\b[\])]?")
# Where the technical tail of a release name starts when there is no year.
_TAIL = re.compile(
    r"\b(?:2160p|1080p|1080i|720p|576p|480p|4k|uhd|hdr|bluray|blu-ray|bdrip|brrip|web-?dl|"
    r"webrip|hdtv|dvdrip|dvd|x264|x265|h264|h265|hevc|xvid|aac|ac3|dts|remux|proper|repack|"
    r"extended|unrated)\b",
    re.IGNORECASE,
)
_EPISODE = re.compile(r"[Ss](\d{1,3})[ ._-]?[Ee](\d{1,4})|\b(\d{1,2})x(\d{2,3})\b")
_SEASON_FOLDER = re.compile(
    r"^(?:season|series|stagione|saison|staffel|temporada)[ ._-]*(\d{1,3})$", re.I
)
_SEPARATORS = re.compile(r"[._]+")
_SPACES = re.compile(r"\s{2,}")


@dataclass(frozen=True, slots=True)
class MovieName:
    title: str
    year: int | None


@dataclass(frozen=True, slots=True)
class EpisodeName:
    show: str
    season: int
    episode: int
    title: str  # what follows the marker, often empty
    year: int | None = None


def _tidy(text: str) -> str:
    """Dots and underscores to spaces, brackets and dashes trimmed at the ends."""
    text = _SEPARATORS.sub(" ", text)
    text = _SPACES.sub(" ", text)
    return text.strip(" -_[]().")


def parse_movie_name(filename: str) -> MovieName:
    """Title and year of ``The.Movie.Name.2019.1080p.mkv`` → ("The Movie Name", 2019)."""
    stem = PurePosixPath(filename).stem
    cut, year = len(stem), None
    # The last year-looking number that is not the very start is the release year
    # ("2001 A Space Odyssey 1968" is a 1968 film called "2001 A Space Odyssey").
    for match in _YEAR.finditer(stem):
        if match.start() > 0:
            cut, year = match.start(), int(match[1])
    tail = _TAIL.search(stem)
    if tail is not None and tail.start() > 0:
        cut = min(cut, tail.start())
    title = _tidy(stem[:cut]) or _tidy(stem)
    return MovieName(title, year)


def parse_episode_name(rel_path: str) -> EpisodeName | None:
    """Show, season and episode of ``Show Name/Season 1/Show Name S01E02.mkv`` or
    ``Show.Name.S01E02.Title.mkv``; None when the name carries no episode marker."""
    path = PurePosixPath(rel_path)
    stem = path.stem
    match = _EPISODE.search(stem)
    if match is None:
        return None
    season = int(match[1] if match[1] is not None else match[3])
    episode = int(match[2] if match[2] is not None else match[4])
    before = parse_movie_name(stem[: match.start()] + ".x") if match.start() > 0 else None
    after = _TAIL.split(stem[match.end() :])[0]
    show = before.title if before is not None else ""
    folders = list(path.parent.parts)
    if folders and _SEASON_FOLDER.match(folders[-1]):
        folders.pop()
    if folders:
        # The show's folder names it better than a file name cut short ("Show S01E02").
        show = parse_movie_name(folders[-1] + ".x").title or show
    return EpisodeName(
        show or "Unknown show",
        season,
        episode,
        _tidy(after),
        before.year if before is not None else None,
    )


def season_of_folder(name: str) -> int | None:
    match = _SEASON_FOLDER.match(name)
    return int(match[1]) if match else None

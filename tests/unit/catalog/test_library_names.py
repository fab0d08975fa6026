"""Titles, years and episode numbers from file names; Kodi .nfo sidecars."""

from __future__ import annotations

import pytest

from palinsesto.catalog.library_names import parse_episode_name, parse_movie_name
from palinsesto.catalog.nfo import parse_nfo


@pytest.mark.parametrize(
    ("filename", "title", "year"),
    [
        ("The.Movie.Name.2019.1080p.mkv", "The Movie Name", 2019),
        ("The Movie Name (2019).mp4", "The Movie Name", 2019),
        ("the_movie_name_[2019]_720p.x264.mkv", "the movie name", 2019),
        ("2001.A.Space.Odyssey.1968.2160p.UHD.mkv", "2001 A Space Odyssey", 1968),
        ("Blade.Runner.2049.2017.BluRay.mkv", "Blade Runner 2049", 2017),
        ("Home Movie.mp4", "Home Movie", None),
        ("Lesson 12 - Fractions.WEB-DL.1080p.mp4", "Lesson 12 - Fractions", None),
        ("1917.mkv", "1917", None),
    ],
)
def test_movie_title_and_year_from_the_file_name(
    filename: str, title: str, year: int | None
) -> None:
    parsed = parse_movie_name(filename)
    assert (parsed.title, parsed.year) == (title, year)


@pytest.mark.parametrize(
    ("rel_path", "show", "season", "episode"),
    [
        ("Show Name/Season 1/Show Name S01E02.mkv", "Show Name", 1, 2),
        ("Show.Name.S01E02.720p.mkv", "Show Name", 1, 2),
        ("Show.Name.s03e10.The.Title.mkv", "Show Name", 3, 10),
        ("Kitchen Lessons (2021)/Season 02/Kitchen.Lessons.S02E05.mp4", "Kitchen Lessons", 2, 5),
        ("Local News/local.news.1x04.mp4", "Local News", 1, 4),
        ("Show Name/Stagione 3/S03E01.mkv", "Show Name", 3, 1),
    ],
)
def test_episode_from_the_path(rel_path: str, show: str, season: int, episode: int) -> None:
    parsed = parse_episode_name(rel_path)
    assert parsed is not None
    assert (parsed.show, parsed.season, parsed.episode) == (show, season, episode)


def test_episode_title_after_the_marker_and_no_marker_is_no_episode() -> None:
    parsed = parse_episode_name("Show.Name.S01E02.The.Pilot.1080p.mkv")
    assert parsed is not None and parsed.title == "The Pilot"
    assert parse_episode_name("Show Name/Season 1/Extras.mkv") is None


def test_nfo_fields() -> None:
    nfo = parse_nfo(
        b"""<?xml version="1.0" encoding="UTF-8"?>
        <movie><title>Real Title</title><year>2011</year><plot>A plot.</plot>
        <genre>Drama</genre><genre>History</genre><rating>7.46</rating>
        <premiered>2011-05-04</premiered><director>A. Person</director>
        <actor><name>One</name></actor><actor><name>Two</name></actor></movie>"""
    )
    assert nfo is not None
    assert (nfo.title, nfo.year, nfo.plot, nfo.genre) == (
        "Real Title",
        2011,
        "A plot.",
        "Drama, History",
    )
    assert (nfo.rating, nfo.release_date, nfo.director, nfo.cast) == (
        7.5,
        "2011-05-04",
        "A. Person",
        "One, Two",
    )


def test_nfo_kodi_ratings_block_and_tvshow() -> None:
    nfo = parse_nfo(
        b"<tvshow><title>Show</title><ratings><rating name='imdb'><value>6.0</value></rating>"
        b"<rating name='tmdb' default='true'><value>8.25</value></rating></ratings>"
        b"<premiered>2020-01-02</premiered></tvshow>"
    )
    assert nfo is not None and (nfo.title, nfo.rating, nfo.year) == ("Show", 8.2, 2020)


@pytest.mark.parametrize(
    "data",
    [
        b"https://www.themoviedb.org/movie/603",  # Kodi's URL-only form: nothing to read
        b"<movie><title>unclosed</movie>",
        b'<!DOCTYPE movie [<!ENTITY a "aaaa">]><movie><title>&a;</title></movie>',
        b"<html><title>not an nfo</title></html>",
    ],
)
def test_what_is_not_an_nfo_is_ignored(data: bytes) -> None:
    assert parse_nfo(data) is None

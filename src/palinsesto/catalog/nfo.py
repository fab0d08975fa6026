"""Kodi-style ``.nfo`` sidecars: ``movie.nfo`` / ``<file>.nfo`` next to a movie,
``tvshow.nfo`` in a show's folder, ``<episode file>.nfo`` next to an episode.

Only the plain fields are read (title, year, plot, genres, rating, premiered/aired,
director, actors' names, season/episode numbers). A sidecar that is not XML (Kodi also
accepts a bare URL) or declares a DTD is ignored, never fatal: it cannot define entities,
so it cannot expand into anything larger than itself.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

MAX_NFO_BYTES = 256 * 1024
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True, slots=True)
class Sidecar:
    title: str = ""
    year: int | None = None
    plot: str = ""
    genre: str = ""
    rating: float | None = None
    release_date: str = ""
    director: str = ""
    cast: str = ""
    season: int | None = None
    episode: int | None = None


def _text(root: ET.Element, tag: str) -> str:
    node = root.find(tag)
    return (node.text or "").strip() if node is not None else ""


def _int(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 6 else None


def _rating(root: ET.Element) -> float | None:
    # <rating>7.4</rating>, or Kodi 17+'s <ratings><rating default="true"><value>7.4</value>
    candidates = [_text(root, "rating")]
    for node in root.iter("rating"):
        inner = node.find("value")
        if inner is not None and inner.text:
            candidates.insert(0 if node.get("default") == "true" else 1, inner.text.strip())
    for text in candidates:
        try:
            number = float(text)
        except ValueError:
            continue
        if 0 <= number <= 10:
            return round(number, 1)
    return None


def parse_nfo(data: bytes) -> Sidecar | None:
    """The fields of an ``.nfo`` document, or None if it is not one we read."""
    if len(data) > MAX_NFO_BYTES or b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        return None
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return None
    if root.tag not in ("movie", "tvshow", "episodedetails"):
        return None
    premiered = _text(root, "premiered") or _text(root, "aired")
    year = _int(_text(root, "year"))
    if year is None and _DATE.match(premiered):
        year = int(premiered[:4])
    genres = [(g.text or "").strip() for g in root.findall("genre")]
    directors = [(d.text or "").strip() for d in root.findall("director")]
    actors = [_text(a, "name") for a in root.findall("actor")]
    return Sidecar(
        title=_text(root, "title")[:300],
        year=year if year is None or 1800 <= year <= 3000 else None,
        plot=(_text(root, "plot") or _text(root, "outline"))[:20_000],
        genre=", ".join(g for g in genres if g)[:300],
        rating=_rating(root),
        release_date=premiered if _DATE.match(premiered) else "",
        director=", ".join(d for d in directors if d)[:300],
        cast=", ".join(a for a in actors if a)[:20_000],
        season=_int(_text(root, "season")),
        episode=_int(_text(root, "episode")),
    )

"""What a library scan writes: one row per video file, and the movie, or the series,
season and episode, made from it.

A new file becomes a catalogue entry named by its sidecar (``.nfo``) or, failing that,
by its file name. A file probed again (its size or mtime changed) only refreshes what
ffmpeg says about it: titles, plots and posters an operator edited since are left alone.
A file ffmpeg cannot read is recorded with ffmpeg's reason and makes no new entry (an app
would list a title that never plays). A file gone from the folder is marked missing and
its movie disabled; if it comes back, the movie is enabled again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from palinsesto.catalog.library_names import EpisodeName, parse_movie_name
from palinsesto.catalog.models import (
    Episode,
    LibraryFile,
    LibraryFileStatus,
    LibraryKind,
    MediaLibrary,
    Movie,
    Season,
    Series,
)
from palinsesto.catalog.nfo import Sidecar

MISSING_NOTE = "file missing from the library folder"


@dataclass(frozen=True, slots=True)
class ShowFacts:
    folder: str  # the show's folder in the library ("" when the file sits at the top)
    sidecar: Sidecar | None
    poster_url: str


@dataclass(frozen=True, slots=True)
class ProbedFile:
    rel_path: str
    size: int
    mtime_ns: int
    extension: str
    media_info: dict[str, Any] | None  # None: ffmpeg could not read it
    probe_error: str
    sidecar: Sidecar | None = None
    poster_url: str = ""
    episode: EpisodeName | None = None  # series libraries: where the file belongs
    show: ShowFacts | None = None


@dataclass(frozen=True, slots=True)
class KnownFile:
    size: int
    mtime_ns: int
    status: LibraryFileStatus


def known_files(session: Session, library_id: int) -> dict[str, KnownFile]:
    rows = session.execute(
        select(LibraryFile.rel_path, LibraryFile.size, LibraryFile.mtime_ns, LibraryFile.status)
        .where(LibraryFile.library_id == library_id)
    )  # fmt: skip
    return {r.rel_path: KnownFile(r.size, r.mtime_ns, r.status) for r in rows}


def _source_url(library: MediaLibrary, rel_path: str) -> str:
    return f"{library.path}/{rel_path}" if library.path else rel_path


def _duration(info: dict[str, Any] | None) -> int:
    return int(info.get("duration_secs", 0)) if info else 0


class LibraryWriter:
    """Writes one batch of scan results into ``session`` (the caller commits)."""

    def __init__(self, session: Session, library: MediaLibrary, now: datetime) -> None:
        self.session = session
        self.library = library
        self.now = now
        self._series: dict[str, Series] = {}

    def store(self, results: list[ProbedFile]) -> None:
        paths = [r.rel_path for r in results]
        rows = {
            row.rel_path: row
            for row in self.session.scalars(
                select(LibraryFile).where(
                    LibraryFile.library_id == self.library.id, LibraryFile.rel_path.in_(paths)
                )
            )
        }
        for result in results:
            row = rows.get(result.rel_path)
            if row is None:
                row = LibraryFile(
                    tenant_id=self.library.tenant_id,
                    library_id=self.library.id,
                    rel_path=result.rel_path,
                )
                self.session.add(row)
            was_missing = row.status is LibraryFileStatus.missing
            row.size, row.mtime_ns, row.probed_at = result.size, result.mtime_ns, self.now
            row.probe_error = result.probe_error[:500]
            if result.media_info is None:
                row.status = LibraryFileStatus.broken
            elif self.library.kind is LibraryKind.series and result.episode is None:
                row.status = LibraryFileStatus.broken
                row.probe_error = "no season and episode in the name (e.g. S01E02)"
            else:
                row.status = LibraryFileStatus.ok
            if self.library.kind is LibraryKind.movie:
                self._movie(row, result, was_missing)
            else:
                self._episode(row, result)
        self.session.flush()

    # ---- movies ----

    def _movie(self, row: LibraryFile, result: ProbedFile, was_missing: bool) -> None:
        movie = self.session.get(Movie, row.movie_id) if row.movie_id is not None else None
        if movie is None:
            if row.status is not LibraryFileStatus.ok:
                return
            movie = self._new_movie(result)
            self.session.add(movie)
            self.session.flush()
            row.movie_id = movie.id
        movie.source_url = _source_url(self.library, result.rel_path)
        movie.container_extension = result.extension
        movie.media_info = result.media_info or {}
        movie.probe_error = result.probe_error[:500]
        if result.media_info:
            movie.duration_secs = _duration(result.media_info)
        if was_missing:
            movie.enabled = True

    def _new_movie(self, result: ProbedFile) -> Movie:
        parsed = parse_movie_name(result.rel_path.rpartition("/")[2])
        nfo = result.sidecar or Sidecar()
        return Movie(
            tenant_id=self.library.tenant_id,
            name=(nfo.title or parsed.title)[:300],
            year=nfo.year if nfo.year is not None else parsed.year,
            category_id=self.library.category_id,
            stream_icon=result.poster_url,
            rating=nfo.rating,
            plot=nfo.plot,
            genre=nfo.genre,
            director=nfo.director,
            cast=nfo.cast,
            release_date=nfo.release_date,
            backdrop_path=[],
            enabled=True,
        )

    # ---- series ----

    def _show(self, facts: ShowFacts | None, name: str, year: int | None) -> Series:
        nfo = (facts.sidecar if facts else None) or Sidecar()
        title = (nfo.title or name)[:300]
        series = self._series.get(title)
        if series is None:
            series = self.session.scalar(
                select(Series)
                .where(Series.tenant_id == self.library.tenant_id, Series.name == title)
                .order_by(Series.id)
                .limit(1)
            )
        if series is None:
            series = Series(
                tenant_id=self.library.tenant_id,
                name=title,
                year=nfo.year if nfo.year is not None else year,
                category_id=self.library.category_id,
                cover=facts.poster_url if facts else "",
                plot=nfo.plot,
                genre=nfo.genre,
                rating=nfo.rating,
                release_date=nfo.release_date,
                director=nfo.director,
                cast=nfo.cast,
                backdrop_path=[],
            )
            self.session.add(series)
            self.session.flush()
        self._series[title] = series
        return series

    def _season(self, series: Series, number: int) -> None:
        found = self.session.scalar(
            select(Season.id).where(Season.series_id == series.id, Season.season_number == number)
        )
        if found is None:
            self.session.add(
                Season(
                    tenant_id=series.tenant_id,
                    series_id=series.id,
                    season_number=number,
                    name=f"Season {number}",
                )
            )
            self.session.flush()

    def _episode(self, row: LibraryFile, result: ProbedFile) -> None:
        episode = self.session.get(Episode, row.episode_id) if row.episode_id else None
        if episode is None:
            if row.status is not LibraryFileStatus.ok or result.episode is None:
                return
            episode = self._new_episode(result, result.episode)
            if episode is None:
                return
            row.episode_id = episode.id
        episode.source_url = _source_url(self.library, result.rel_path)
        episode.container_extension = result.extension
        episode.media_info = result.media_info or {}
        episode.probe_error = result.probe_error[:500]
        if result.media_info:
            episode.duration_secs = _duration(result.media_info)

    def _new_episode(self, result: ProbedFile, name: EpisodeName) -> Episode | None:
        nfo = result.sidecar or Sidecar()
        season = nfo.season if nfo.season is not None else name.season
        number = nfo.episode if nfo.episode is not None else name.episode
        series = self._show(result.show, name.show, name.year)
        self._season(series, season)
        existing = self.session.scalar(
            select(Episode).where(
                Episode.series_id == series.id,
                Episode.season_number == season,
                Episode.episode_num == number,
            )
        )
        if existing is not None:
            # Made by hand or from another file: the first file keeps it.
            taken = self.session.scalar(
                select(LibraryFile.id).where(LibraryFile.episode_id == existing.id)
            )
            return None if taken is not None else existing
        episode = Episode(
            tenant_id=series.tenant_id,
            series_id=series.id,
            season_number=season,
            episode_num=number,
            title=(nfo.title or name.title or f"Episode {number}")[:300],
            plot=nfo.plot,
            rating=nfo.rating,
            release_date=nfo.release_date,
            movie_image=result.poster_url,
        )
        self.session.add(episode)
        self.session.flush()
        return episode


def mark_missing(session: Session, library: MediaLibrary, seen: set[str]) -> int:
    """Files recorded earlier and not found now: marked missing, their movies disabled.
    Returns how many were newly found missing."""
    count = 0
    rows = session.scalars(
        select(LibraryFile).where(
            LibraryFile.library_id == library.id,
            LibraryFile.status != LibraryFileStatus.missing,
        )
    )
    for row in rows:
        if row.rel_path in seen:
            continue
        row.status = LibraryFileStatus.missing
        row.probe_error = MISSING_NOTE
        count += 1
        if row.movie_id is not None and (movie := session.get(Movie, row.movie_id)) is not None:
            movie.enabled = False
            movie.probe_error = MISSING_NOTE
        if row.episode_id is not None and (ep := session.get(Episode, row.episode_id)) is not None:
            ep.probe_error = MISSING_NOTE
    session.flush()
    return count

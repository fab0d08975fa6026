"""What a set of bouquets offers, read from the database into plain immutable values.

Each kind is read on its own (:func:`load_live`, :func:`load_vod`, :func:`load_series`),
so a cache can rebuild the live list after a channel edit without touching 100,000
movies. Each is one column query over the bouquet items joined to the item table (no ORM
objects; timestamps converted by the database, JSON parsed by orjson) and returns a
:class:`Section`: items de-duplicated and ordered as the reference asks (§4.1: bouquets
in the line's order, items in each bouquet's stored order). Builders in
:mod:`palinsesto.panel.playback.xtream` and the playlist writers take these values; nothing
here knows about HTTP.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Generic, TypeVar

import orjson
from sqlalchemy import BigInteger, Text, cast, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from palinsesto.catalog.models import (
    BouquetItem,
    Category,
    CategoryKind,
    Channel,
    ChannelCategory,
    Episode,
    ItemType,
    Movie,
    Season,
    Series,
)


@dataclass(frozen=True, slots=True)
class CategoryView:
    id: int
    kind: str
    name: str
    sort_order: int


@dataclass(frozen=True, slots=True)
class ChannelView:
    id: int
    name: str
    logo: str
    epg_channel_id: str | None
    category_ids: tuple[int, ...]
    archive_days: int
    custom_sid: str
    added: int
    number: int | None = None  # the operator's channel number (M3U tvg-chno)


@dataclass(frozen=True, slots=True)
class MovieView:
    id: int
    name: str
    year: int | None
    category_id: int | None
    stream_icon: str
    rating: float | None
    plot: str
    cast: str
    director: str
    genre: str
    release_date: str
    youtube_trailer: str
    duration_secs: int
    backdrop_path: tuple[str, ...]
    tmdb_id: int | None
    container_extension: str
    added: int


@dataclass(frozen=True, slots=True)
class SeriesView:
    id: int
    name: str
    year: int | None
    category_id: int | None
    cover: str
    plot: str
    cast: str
    director: str
    genre: str
    release_date: str
    rating: float | None
    backdrop_path: tuple[str, ...]
    youtube_trailer: str
    episode_run_time: int
    tmdb_id: int | None
    last_modified: int


@dataclass(frozen=True, slots=True)
class SeasonView:
    id: int
    season_number: int
    name: str
    overview: str
    air_date: str
    cover: str


@dataclass(frozen=True, slots=True)
class EpisodeView:
    id: int
    series_id: int
    season_number: int
    episode_num: int
    title: str
    plot: str
    duration_secs: int
    movie_image: str
    rating: float | None
    release_date: str
    container_extension: str
    added: int


ItemT = TypeVar("ItemT", ChannelView, MovieView, SeriesView)


@dataclass(frozen=True, slots=True)
class Section(Generic[ItemT]):
    """One kind (live, VOD or series) of what a bouquet set offers, in bouquet order."""

    kind: CategoryKind
    items: list[ItemT]
    categories: dict[int, CategoryView]  # the tenant's categories of this kind
    used_category_ids: frozenset[int]
    by_id: dict[int, ItemT]

    def used_categories(self) -> list[CategoryView]:
        """Categories holding at least one item of this set (reference §4.2), in the
        categories' sort order."""
        found = [c for c in self.categories.values() if c.id in self.used_category_ids]
        return sorted(found, key=lambda c: (c.sort_order, c.id))

    def category_name(self, category_id: int | None) -> str:
        category = self.categories.get(category_id) if category_id is not None else None
        return category.name if category is not None else ""


LiveSection = Section[ChannelView]


def with_recorded_archive(section: LiveSection, recorded: Callable[[int], bool]) -> LiveSection:
    """The section with ``archive_days`` kept only on channels whose archive really holds
    something (``recorded(channel id)``): tv_archive, catch-up attributes and has_archive
    are never advertised for time that cannot be played (§4.3, §8.5)."""
    items = [
        c if c.archive_days <= 0 or recorded(c.id) else replace(c, archive_days=0)
        for c in section.items
    ]
    return Section(
        section.kind,
        items,
        section.categories,
        section.used_category_ids,
        {item.id: item for item in items},
    )


VodSection = Section[MovieView]
SeriesSection = Section[SeriesView]


class epoch_seconds(FunctionElement[int]):  # noqa: N801 (an SQL function's name)
    """Unix seconds of a timestamp column, computed by the database: no per-row
    ``datetime`` objects for 100,000 movies."""

    type = BigInteger()
    inherit_cache = True


@compiles(epoch_seconds)
def _epoch_postgresql(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    # FLOOR: truncate like int(datetime.timestamp()); a bare cast would round.
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)})) AS BIGINT)"


@compiles(epoch_seconds, "sqlite")
def _epoch_sqlite(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLAlchemy stores naive UTC "YYYY-MM-DD HH:MM:SS.ffffff" text on SQLite.
    return f"CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER)"


def _json_list(raw: str | None) -> tuple[str, ...]:
    # JSON columns are read as text (cast in SQL) and parsed here: orjson is several
    # times faster than the JSON type's per-row json.loads.
    return tuple(orjson.loads(raw) or ()) if raw else ()


def _categories(session: Session, tenant_id: int, kind: CategoryKind) -> dict[int, CategoryView]:
    return {
        row[0]: CategoryView(row[0], kind.value, row[1], row[2])
        for row in session.execute(
            select(Category.id, Category.name, Category.sort_order).where(
                Category.tenant_id == tenant_id, Category.kind == kind
            )
        )
    }


def _section(
    session: Session,
    tenant_id: int,
    kind: CategoryKind,
    items: list[ItemT],
    used: Iterable[int | None],
) -> Section[ItemT]:
    """The :class:`Section` of ``items``; ``used`` are their category ids (None skipped)."""
    return Section(
        kind,
        items,
        _categories(session, tenant_id, kind),
        frozenset(c for c in used if c is not None),
        {item.id: item for item in items},
    )


def _in_bouquet_order(rows: list[Any], bouquet_ids: Sequence[int]) -> list[Any]:
    """Rows starting ``(bouquet_id, position, item_id, ...)``, ordered as §4.1 asks:
    bouquets in the line's order, then each bouquet's stored position; the first
    occurrence of an item is kept."""
    rank = {bid: i for i, bid in enumerate(bouquet_ids)}
    rows.sort(key=lambda r: (rank[r[0]], r[1], r[2]))
    seen: set[int] = set()
    out = []
    for row in rows:
        if row[2] not in seen:
            seen.add(row[2])
            out.append(row)
    return out


def _bouquet_rows(
    session: Session,
    tenant_id: int,
    bouquet_ids: Sequence[int],
    item_type: ItemType,
    table: type[Channel] | type[Movie] | type[Series],
    columns: Sequence[Any],
    *extra: Any,
) -> list[Any]:
    """One query: the enabled items of ``table`` in the bouquets, with their placement
    (``extra``: more conditions)."""
    if not bouquet_ids:
        return []
    stmt = (
        select(BouquetItem.bouquet_id, BouquetItem.position, table.id, *columns)
        .join(table, table.id == BouquetItem.item_id)
        .where(
            BouquetItem.bouquet_id.in_(list(bouquet_ids)),
            BouquetItem.item_type == item_type,
            table.tenant_id == tenant_id,
            table.enabled.is_(True),
            *extra,
        )
    )
    return _in_bouquet_order(list(session.execute(stmt)), bouquet_ids)


def load_live(session: Session, tenant_id: int, bouquet_ids: Sequence[int]) -> LiveSection:
    """The set's enabled channels, each with its categories in their stored order."""
    rows = _bouquet_rows(
        session,
        tenant_id,
        bouquet_ids,
        ItemType.channel,
        Channel,
        (
            Channel.name,
            Channel.logo,
            Channel.epg_channel_id,
            Channel.archive_days,
            Channel.custom_sid,
            epoch_seconds(Channel.created_at),
            Channel.number,
        ),
    )
    links: defaultdict[int, list[int]] = defaultdict(list)
    if rows:
        for channel_id, category_id in session.execute(
            select(ChannelCategory.channel_id, ChannelCategory.category_id)
            .join(Channel, Channel.id == ChannelCategory.channel_id)
            .where(Channel.tenant_id == tenant_id)
            .order_by(ChannelCategory.channel_id, ChannelCategory.position)
        ):
            links[channel_id].append(category_id)
    items = [
        ChannelView(
            cid,
            name,
            logo or "",
            epg or None,
            tuple(links.get(cid, ())),
            archive or 0,
            sid or "",
            added or 0,
            number,
        )  # fmt: skip
        for _bid, _pos, cid, name, logo, epg, archive, sid, added, number in rows
    ]
    used = (c for item in items for c in item.category_ids)
    return _section(session, tenant_id, CategoryKind.live, items, used)


def load_vod(session: Session, tenant_id: int, bouquet_ids: Sequence[int]) -> VodSection:
    """The set's enabled movies."""
    rows = _bouquet_rows(
        session,
        tenant_id,
        bouquet_ids,
        ItemType.movie,
        Movie,
        (
            Movie.name,
            Movie.year,
            Movie.category_id,
            Movie.stream_icon,
            Movie.rating,
            Movie.plot,
            Movie.cast,
            Movie.director,
            Movie.genre,
            Movie.release_date,
            Movie.youtube_trailer,
            Movie.duration_secs,
            cast(Movie.backdrop_path, Text),
            Movie.tmdb_id,
            Movie.container_extension,
            epoch_seconds(Movie.created_at),
        ),
        # Never advertise what does not play: a file ffmpeg could not read is left out.
        Movie.probe_error == "",
    )
    items = [
        MovieView(
            r[2],
            r[3],
            r[4],
            r[5],
            r[6] or "",
            r[7],
            r[8] or "",
            r[9] or "",
            r[10] or "",
            r[11] or "",
            r[12] or "",
            r[13] or "",
            r[14] or 0,
            _json_list(r[15]),
            r[16],
            r[17] or "mp4",
            r[18] or 0,
        )  # fmt: skip
        for r in rows
    ]
    used = (m.category_id for m in items)
    return _section(session, tenant_id, CategoryKind.movie, items, used)


def load_series(session: Session, tenant_id: int, bouquet_ids: Sequence[int]) -> SeriesSection:
    """The set's enabled series (their seasons and episodes are read per request)."""
    rows = _bouquet_rows(
        session,
        tenant_id,
        bouquet_ids,
        ItemType.series,
        Series,
        (
            Series.name,
            Series.year,
            Series.category_id,
            Series.cover,
            Series.plot,
            Series.cast,
            Series.director,
            Series.genre,
            Series.release_date,
            Series.rating,
            cast(Series.backdrop_path, Text),
            Series.youtube_trailer,
            Series.episode_run_time,
            Series.tmdb_id,
            epoch_seconds(func.coalesce(Series.updated_at, Series.created_at)),
        ),
    )
    items = [
        SeriesView(
            r[2],
            r[3],
            r[4],
            r[5],
            r[6] or "",
            r[7] or "",
            r[8] or "",
            r[9] or "",
            r[10] or "",
            r[11] or "",
            r[12],
            _json_list(r[13]),
            r[14] or "",
            r[15] or 0,
            r[16],
            r[17] or 0,
        )  # fmt: skip
        for r in rows
    ]
    used = (s.category_id for s in items)
    return _section(session, tenant_id, CategoryKind.series, items, used)


def load_seasons(session: Session, tenant_id: int, series_id: int) -> list[SeasonView]:
    """Stored season rows of one series, by season number."""
    return [
        SeasonView(
            r.id, r.season_number, r.name or "", r.overview or "", r.air_date or "", r.cover or ""
        )  # fmt: skip
        for r in session.execute(
            select(
                Season.id,
                Season.season_number,
                Season.name,
                Season.overview,
                Season.air_date,
                Season.cover,
            )
            .where(Season.tenant_id == tenant_id, Season.series_id == series_id)
            .order_by(Season.season_number)
        )
    ]


def load_episodes(
    session: Session, tenant_id: int, series_ids: Iterable[int]
) -> dict[int, list[EpisodeView]]:
    """Episodes of the given series, grouped by series, ordered by season then episode."""
    wanted = list(series_ids)
    grouped: dict[int, list[EpisodeView]] = defaultdict(list)
    if not wanted:
        return grouped
    stmt = (
        select(
            Episode.id,
            Episode.series_id,
            Episode.season_number,
            Episode.episode_num,
            Episode.title,
            Episode.plot,
            Episode.duration_secs,
            Episode.movie_image,
            Episode.rating,
            Episode.release_date,
            Episode.container_extension,
            epoch_seconds(Episode.created_at).label("added"),
        )
        .where(Episode.tenant_id == tenant_id, Episode.probe_error == "")
        .order_by(Episode.series_id, Episode.season_number, Episode.episode_num, Episode.id)
    )
    if len(wanted) <= 500:
        stmt = stmt.where(Episode.series_id.in_(wanted))
    keep = set(wanted)
    for r in session.execute(stmt):
        if r.series_id in keep:
            grouped[r.series_id].append(
                EpisodeView(
                    r.id,
                    r.series_id,
                    r.season_number,
                    r.episode_num,
                    r.title,
                    r.plot or "",
                    r.duration_secs or 0,
                    r.movie_image or "",
                    r.rating,
                    r.release_date or "",
                    r.container_extension or "mp4",
                    r.added or 0,
                )
            )
    return grouped


def load_media_info(
    session: Session, tenant_id: int, table: type[Movie] | type[Episode], ids: Iterable[int]
) -> dict[int, dict[str, Any]]:
    """What probing found in the files of these movies or episodes (those probed)."""
    wanted = list(ids)
    if not wanted:
        return {}
    rows = session.execute(
        select(table.id, cast(table.media_info, Text)).where(
            table.tenant_id == tenant_id, table.id.in_(wanted)
        )
    )
    found = {row[0]: orjson.loads(row[1]) if row[1] else {} for row in rows}
    return {item_id: info for item_id, info in found.items() if info}

"""The bulk rows of demo-data: channels, movies, series with seasons and episodes, bouquet
items and lines, written by SQLAlchemy Core bulk inserts (executemany) in chunks, each
chunk its own transaction. Ids are reserved in bulk, so that dependent rows (a channel's
categories, a line's bouquets) are made in the same chunk as their parent.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.orm import Session

from palinsesto.accounts.models import Line, LineBouquet
from palinsesto.catalog import demo_rows as rows
from palinsesto.catalog import demo_words as words
from palinsesto.catalog.models import (
    BouquetItem,
    Channel,
    ChannelCategory,
    Episode,
    ItemType,
    Movie,
    Season,
    Series,
)
from palinsesto.db import Base, Database

ProgressCallback = Callable[[str, int, int], None]
"""Called as ``progress(table, rows_done, rows_total)`` after each committed chunk."""

DEFAULT_CHUNK_ROWS = 5_000


def chunks(count: int, size: int) -> Iterator[tuple[int, int]]:
    """``(start, size)`` of each chunk of at most ``size`` out of ``count``."""
    for start in range(0, count, size):
        yield start, min(size, count - start)


def table_of(model: type[Base]) -> Table:
    """The Core table of a mapped class (typed as a plain FromClause by the ORM)."""
    return cast(Table, model.__table__)


def reserve_ids(session: Session, table: Table, count: int) -> list[int]:
    """Ids for ``count`` new rows of ``table``, taken in one statement.

    PostgreSQL draws them from the column's sequence, so concurrent writers never collide.
    SQLite has no sequence: the caller's write transaction (BEGIN IMMEDIATE, see
    :class:`palinsesto.db.Database`) holds the write lock, so max(id) cannot move under it.
    """
    if count == 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        sequence = session.scalar(
            text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": table.name}
        )
        return list(
            session.scalars(
                text("SELECT nextval(CAST(:seq AS regclass)) FROM generate_series(1, :n)"),
                {"seq": sequence, "n": count},
            )
        )
    start = session.scalar(select(func.max(table.c.id))) or 0
    return list(range(start + 1, start + 1 + count))


class BulkWriter:
    """Writes one tenant's bulk rows; remembers what it made (for the bouquets) and counts it."""

    def __init__(
        self,
        db: Database,
        tenant_id: int,
        rng: random.Random,
        now: datetime,
        progress: ProgressCallback,
        chunk_rows: int,
    ) -> None:
        self.db = db
        self.tenant_id = tenant_id
        self.rng = rng
        self.now = now
        self.progress = progress
        self.chunk_rows = chunk_rows
        self.rows: dict[str, int] = {}
        self.sample_line: tuple[str, str] | None = None
        # Ids of what this run made, for the bouquets.
        self.channel_ids_by_category: dict[str, list[int]] = {}
        self.movie_ids_by_category: dict[str, list[int]] = {}
        self.series_ids_by_category: dict[str, list[int]] = {}

    def _existing_names(self, model: Any) -> words.UniqueNames:
        with self.db.session() as session:
            names = session.scalars(select(model.name).where(model.tenant_id == self.tenant_id))
            return words.UniqueNames.excluding(names)

    def _bulk(self, session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            session.execute(insert(table), rows)
            self.rows[table.name] = self.rows.get(table.name, 0) + len(rows)

    def channels(self, live: dict[str, int], count: int) -> None:
        """``count`` channels numbered after the highest, in weighted live categories."""
        rng, now, tenant_id = self.rng, self.now, self.tenant_id
        names = self._existing_names(Channel)
        category_names = list(live)
        weights = list(
            itertools.accumulate(words.LIVE_CATEGORIES[name][0] for name in category_names)
        )
        with self.db.session() as session:
            number = session.scalar(
                select(func.max(Channel.number)).where(Channel.tenant_id == tenant_id)
            )
        number = number or 0
        self.progress("channels", 0, count)
        for start, size in chunks(count, self.chunk_rows):
            with self.db.transaction() as session:
                ids = reserve_ids(session, table_of(Channel), size)
                channels: list[dict[str, Any]] = []
                links: list[dict[str, Any]] = []
                for channel_id in ids:
                    number += 1
                    category = rng.choices(category_names, cum_weights=weights)[0]
                    base, epg_id = words.channel_name(rng, category)
                    channels.append(
                        rows.channel(
                            rng,
                            channel_id=channel_id,
                            tenant_id=tenant_id,
                            number=number,
                            name=names.take(base),
                            logo_name=base,
                            epg_channel_id=epg_id,
                            now=now,
                        )
                    )
                    links.append({"channel_id": channel_id, "category_id": live[category]})
                    self.channel_ids_by_category.setdefault(category, []).append(channel_id)
                    if rng.random() < 0.05:  # a few channels sit in a second category
                        extra = rng.choices(category_names, cum_weights=weights)[0]
                        if extra != category:
                            links.append({"channel_id": channel_id, "category_id": live[extra]})
                self._fix_link_positions(links)
                self._bulk(session, table_of(Channel), channels)
                self._bulk(session, table_of(ChannelCategory), links)
            self.progress("channels", start + size, count)

    @staticmethod
    def _fix_link_positions(links: list[dict[str, Any]]) -> None:
        # A channel's first category is position 0, a second one position 1.
        seen: set[int] = set()
        for link in links:
            link["position"] = 1 if link["channel_id"] in seen else 0
            seen.add(link["channel_id"])

    def movies(self, categories: dict[str, int], count: int) -> None:
        """``count`` movies, one category each."""
        rng, now, tenant_id = self.rng, self.now, self.tenant_id
        names = self._existing_names(Movie)
        category_names = list(categories)
        self.progress("movies", 0, count)
        for start, size in chunks(count, self.chunk_rows):
            with self.db.transaction() as session:
                ids = reserve_ids(session, table_of(Movie), size)
                batch: list[dict[str, Any]] = []
                for movie_id in ids:
                    category = rng.choice(category_names)
                    batch.append(
                        rows.movie(
                            rng,
                            movie_id=movie_id,
                            tenant_id=tenant_id,
                            name=names.take(words.title(rng)),
                            category=category,
                            category_id=categories[category],
                            second_genre=rng.choice(category_names),
                            now=now,
                        )
                    )
                    self.movie_ids_by_category.setdefault(category, []).append(movie_id)
                self._bulk(session, table_of(Movie), batch)
            self.progress("movies", start + size, count)

    def series(self, categories: dict[str, int], count: int, episodes_per_series: int) -> None:
        """``count`` series, each with ``episodes_per_series`` episodes spread over seasons."""
        rng, now, tenant_id = self.rng, self.now, self.tenant_id
        names = self._existing_names(Series)
        category_names = list(categories)
        plan = [rows.season_plan(rng, episodes_per_series) for _ in range(count)]
        total_seasons = sum(len(p) for p in plan)
        total_episodes = count * episodes_per_series
        self.progress("series", 0, count)
        self.progress("seasons", 0, total_seasons)
        self.progress("episodes", 0, total_episodes)
        seasons_done = episodes_done = 0
        for start, size in chunks(count, self.chunk_rows):
            with self.db.transaction() as session:
                ids = reserve_ids(session, table_of(Series), size)
                made: list[dict[str, Any]] = []
                for series_id in ids:
                    category = rng.choice(category_names)
                    made.append(
                        rows.series(
                            rng,
                            series_id=series_id,
                            tenant_id=tenant_id,
                            name=names.take(words.title(rng)),
                            category=category,
                            category_id=categories[category],
                            now=now,
                        )
                    )
                    self.series_ids_by_category.setdefault(category, []).append(series_id)
                self._bulk(session, table_of(Series), made)
            self.progress("series", start + size, count)
            # Seasons and episodes of this chunk's series, each in chunks of their own.
            season_rows: list[dict[str, Any]] = []
            episode_rows: list[dict[str, Any]] = []
            for series_row, per_season in zip(made, plan[start : start + size], strict=True):
                seasons, episodes = rows.seasons_and_episodes(rng, series_row, per_season, now)
                season_rows.extend(seasons)
                episode_rows.extend(episodes)
            for part_start, part in chunks(len(season_rows), self.chunk_rows):
                with self.db.transaction() as session:
                    batch = season_rows[part_start : part_start + part]
                    for row, season_id in zip(
                        batch, reserve_ids(session, table_of(Season), part), strict=True
                    ):
                        row["id"] = season_id
                    self._bulk(session, table_of(Season), batch)
                seasons_done += part
                self.progress("seasons", seasons_done, total_seasons)
            for part_start, part in chunks(len(episode_rows), self.chunk_rows):
                with self.db.transaction() as session:
                    batch = episode_rows[part_start : part_start + part]
                    for row, episode_id in zip(
                        batch, reserve_ids(session, table_of(Episode), part), strict=True
                    ):
                        row["id"] = episode_id
                        row["source_url"] = (
                            f"http://vod.example.net/episodes/{episode_id}."
                            f"{row['container_extension']}"
                        )
                    self._bulk(session, table_of(Episode), batch)
                episodes_done += part
                self.progress("episodes", episodes_done, total_episodes)

    def bouquet_items(self, bouquets: dict[str, int]) -> None:
        """Every bouquet's items, in category order, appended after any existing items."""

        def in_order(by_category: dict[str, list[int]], keep: frozenset[str] | None) -> list[int]:
            return [
                item
                for category in sorted(by_category)
                if keep is None or category in keep
                for item in by_category[category]
            ]

        channels, movies, series = (
            self.channel_ids_by_category,
            self.movie_ids_by_category,
            self.series_ids_by_category,
        )
        contents: dict[str, list[tuple[ItemType, list[int]]]] = {
            "Full": [
                (ItemType.channel, in_order(channels, None)),
                (ItemType.movie, in_order(movies, None)),
                (ItemType.series, in_order(series, None)),
            ],
            "Sports": [(ItemType.channel, in_order(channels, words.SPORTS_CATEGORIES))],
            "Kids": [
                (ItemType.channel, in_order(channels, words.KIDS_LIVE_CATEGORIES)),
                (ItemType.movie, in_order(movies, words.KIDS_MOVIE_CATEGORIES)),
                (ItemType.series, in_order(series, words.KIDS_SERIES_CATEGORIES)),
            ],
            "Movies": [(ItemType.movie, in_order(movies, None))],
            "Series": [(ItemType.series, in_order(series, None))],
        }
        rows: list[dict[str, Any]] = []
        with self.db.session() as session:
            for name, parts in contents.items():
                bouquet_id = bouquets[name]
                for item_type, item_ids in parts:
                    last = session.scalar(
                        select(func.max(BouquetItem.position)).where(
                            BouquetItem.bouquet_id == bouquet_id,
                            BouquetItem.item_type == item_type,
                        )
                    )
                    first = 0 if last is None else last + 1
                    rows.extend(
                        {
                            "bouquet_id": bouquet_id,
                            "item_type": item_type.value,
                            "item_id": item_id,
                            "position": first + offset,
                        }
                        for offset, item_id in enumerate(item_ids)
                    )
        self.progress("bouquet_items", 0, len(rows))
        for start, size in chunks(len(rows), self.chunk_rows):
            with self.db.transaction() as session:
                self._bulk(session, table_of(BouquetItem), rows[start : start + size])
            self.progress("bouquet_items", start + size, len(rows))

    def lines(self, count: int, bouquets: dict[str, int], resellers: list[int]) -> None:
        """``count`` lines holding Full and some other bouquets, some sold by ``resellers``."""
        rng, now, tenant_id = self.rng, self.now, self.tenant_id
        extras = [bouquets[name] for name in ("Sports", "Kids", "Movies", "Series")]
        taken: set[str] = set()
        self.progress("lines", 0, count)
        for start, size in chunks(count, self.chunk_rows):
            with self.db.transaction() as session:
                usernames = self._fresh_usernames(session, size, taken)
                ids = reserve_ids(session, table_of(Line), size)
                lines: list[dict[str, Any]] = []
                links: list[dict[str, Any]] = []
                for line_id, username in zip(ids, usernames, strict=True):
                    lines.append(
                        rows.line(
                            rng,
                            line_id=line_id,
                            tenant_id=tenant_id,
                            username=username,
                            resellers=resellers,
                            now=now,
                        )
                    )
                    links.extend(rows.line_bouquets(rng, line_id, bouquets["Full"], extras))
                self._bulk(session, table_of(Line), lines)
                self._bulk(session, table_of(LineBouquet), links)
                if self.sample_line is None:
                    active = next(
                        (
                            row
                            for row in lines
                            if row["enabled"]
                            and not row["banned"]
                            and (row["exp_date"] is None or row["exp_date"] > now)
                        ),
                        None,
                    )
                    if active is not None:
                        self.sample_line = (active["username"], active["password"])
            self.progress("lines", start + size, count)

    def _fresh_usernames(self, session: Session, count: int, taken: set[str]) -> list[str]:
        """``count`` usernames used by no stored line (usernames are global, reference §3.2)."""
        picked: list[str] = []
        while len(picked) < count:
            candidates: list[str] = []
            while len(candidates) < count - len(picked):
                name = words.username(self.rng)
                if name not in taken:
                    taken.add(name)
                    candidates.append(name)
            stored = set(
                session.scalars(select(Line.username).where(Line.username.in_(candidates)))
            )
            picked.extend(name for name in candidates if name not in stored)
        return picked


def analyze(db: Database, tables: Sequence[str]) -> None:
    """Refresh PostgreSQL's planner statistics of ``tables`` after a bulk load.

    Until autovacuum gets to them (a minute or more), the planner believes the tables are
    as small as before the load and picks nested loops over 100,000 rows: the admin API's
    lines filtered by bouquet took 200+ ms instead of 40 (bench/panel_pages.py). SQLite
    keeps no statistics unless asked, and its default plans are the fast ones here.
    """
    if db.engine.dialect.name != "postgresql" or not tables:
        return
    with db.engine.connect() as conn:
        conn.execute(text(f"ANALYZE {', '.join(tables)}"))
        conn.commit()

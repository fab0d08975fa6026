"""Apply the entries of an M3U playlist to a tenant's catalog.

Categories come from ``group-title`` (created when missing, reused by name otherwise). With
``kind=live`` each entry becomes a channel with its logo, EPG id, number, archive depth and
one source whose kind is guessed from the URL; with ``kind=movie`` each becomes a movie.

Re-importing never duplicates. An entry matches a stored item of the tenant when

1. its URL is one of the item's source URLs, or else
2. its name and first group equal the item's name and category.

A matched item is updated where the playlist says something new (logo, EPG id, number,
archive days; extra groups become extra categories); when it matched by name and group but
the URL is new, the URL replaces the item's first (primary) source and any failover sources
after it are kept. Duplicate entries within one playlist merge the same way.

Everything happens in the caller's transaction, with one audit entry per import.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from palinsesto.accounts.models import Tenant
from palinsesto.catalog.m3u_reader import M3UEntry
from palinsesto.catalog.models import (
    Category,
    CategoryKind,
    Channel,
    ChannelCategory,
    ChannelMode,
    Movie,
    SourceKind,
)
from palinsesto.trust.audit import record

NAME_MAX = 200
URL_MAX = 1000
VOD_EXTENSIONS = frozenset({"mp4", "mkv", "avi", "mov", "m4v", "ts", "webm", "flv", "mpg"})


class ImportRefused(ValueError):
    """The import would break a rule (a plan limit); nothing was written."""


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    categories_created: list[str] = field(default_factory=list)

    @property
    def imported(self) -> int:
        return self.created + self.updated + self.unchanged


def source_kind(url: str) -> SourceKind:
    """Guess how the live engine should read ``url``: by scheme, and .m3u8 means HLS."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        return SourceKind.hls if parts.path.lower().endswith(".m3u8") else SourceKind.http_ts
    if scheme in ("rtmp", "rtmps"):
        return SourceKind.rtmp
    return SourceKind(scheme)  # udp, rtsp, srt: the reader allows nothing else


def _vod_extension(url: str) -> str:
    suffix = PurePosixPath(urlsplit(url).path).suffix.lower().lstrip(".")
    return suffix if suffix in VOD_EXTENSIONS else "mp4"


class _CategoryIndex:
    def __init__(self, session: Session, tenant_id: int, kind: CategoryKind) -> None:
        self.session, self.tenant_id, self.kind = session, tenant_id, kind
        rows = session.execute(
            select(Category.name, Category.id, Category.sort_order).where(
                Category.tenant_id == tenant_id, Category.kind == kind
            )
        ).all()
        self.ids = {name: category_id for name, category_id, _ in rows}
        self.next_order = max((order for _, _, order in rows), default=0) + 1
        self.created: list[str] = []

    def ids_for(self, groups: Sequence[str]) -> list[int]:
        found: list[int] = []
        for group in groups:
            name = group[:NAME_MAX]
            if name not in self.ids:
                category = Category(
                    tenant_id=self.tenant_id, kind=self.kind, name=name, sort_order=self.next_order
                )
                self.next_order += 1
                self.session.add(category)
                self.session.flush()
                self.ids[name] = category.id
                self.created.append(name)
            if self.ids[name] not in found:
                found.append(self.ids[name])
        return found


def import_entries(
    session: Session,
    tenant_id: int,
    entries: Sequence[M3UEntry],
    *,
    kind: CategoryKind = CategoryKind.live,
    source: str,
    actor: str = "cli",
    actor_id: int | None = None,
) -> ImportReport:
    """Create or update the tenant's channels (or movies) from ``entries``.

    ``source`` (the file or URL) goes into the audit entry. Raises :class:`ImportRefused`
    when the tenant's channel limit would be exceeded; the caller's transaction then rolls
    back and nothing is kept.
    """
    if kind is CategoryKind.series:
        raise ImportRefused("series cannot be imported from M3U (episodes need seasons)")
    categories = _CategoryIndex(session, tenant_id, kind)
    if kind is CategoryKind.live:
        report = _import_channels(session, tenant_id, entries, categories)
    else:
        report = _import_movies(session, tenant_id, entries, categories)
    report.categories_created = categories.created
    record(
        session,
        actor_id=actor_id,
        actor=actor,
        tenant_id=tenant_id,
        action="import",
        entity="channel" if kind is CategoryKind.live else "movie",
        entity_id="m3u",
        after={
            "source": source,
            "entries": len(entries),
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "categories_created": report.categories_created,
        },
    )
    return report


def _import_channels(
    session: Session, tenant_id: int, entries: Sequence[M3UEntry], categories: _CategoryIndex
) -> ImportReport:
    channels = list(session.scalars(select(Channel).where(Channel.tenant_id == tenant_id)))
    by_url: dict[str, Channel] = {}
    by_name_group: dict[tuple[str, int | None], Channel] = {}
    for channel in channels:
        for item in channel.sources or []:
            by_url.setdefault(str(item.get("url", "")), channel)
        first = channel.category_ids[0] if channel.category_ids else None
        by_name_group.setdefault((channel.name, first), channel)
    # Entries without tvg-chno are numbered after every number, stored or in the playlist.
    highest = session.scalar(select(func.max(Channel.number)).where(Channel.tenant_id == tenant_id))
    listed = [entry.tvg_chno for entry in entries if entry.tvg_chno is not None]
    next_number = max([highest or 0, *listed]) + 1
    outcome: dict[int, str] = {}  # id(channel) -> created / updated / unchanged
    created = 0
    for entry in entries:
        category_ids = categories.ids_for(entry.groups)
        name = entry.name[:NAME_MAX]
        key = (name, category_ids[0] if category_ids else None)
        channel = by_url.get(entry.url) or by_name_group.get(key)
        if channel is None:
            number = entry.tvg_chno
            if number is None:
                number, next_number = next_number, next_number + 1
            channel = Channel(
                tenant_id=tenant_id,
                name=name,
                number=number,
                logo=entry.tvg_logo if len(entry.tvg_logo) <= URL_MAX else "",
                epg_channel_id=entry.tvg_id[:NAME_MAX] or None,
                sources=[{"url": entry.url, "kind": source_kind(entry.url).value}],
                mode=ChannelMode.on_demand,
                archive_days=entry.catchup_days or 0,
                category_links=[
                    ChannelCategory(category_id=category_id, position=position)
                    for position, category_id in enumerate(category_ids)
                ],
            )
            session.add(channel)
            outcome[id(channel)] = "created"
            created += 1
        elif _update_channel(channel, entry, category_ids):
            if outcome.get(id(channel)) != "created":
                outcome[id(channel)] = "updated"
        else:
            outcome.setdefault(id(channel), "unchanged")
        by_url.setdefault(entry.url, channel)
        by_name_group.setdefault(key, channel)
    _check_channel_limit(session, tenant_id, len(channels) + created)
    session.flush()
    return _tally(outcome)


def _tally(outcome: dict[int, str]) -> ImportReport:
    states = list(outcome.values())
    return ImportReport(
        created=states.count("created"),
        updated=states.count("updated"),
        unchanged=states.count("unchanged"),
    )


def _update_channel(channel: Channel, entry: M3UEntry, category_ids: list[int]) -> bool:
    changed = False
    urls = [str(item.get("url", "")) for item in channel.sources or []]
    if entry.url not in urls:
        new = {"url": entry.url, "kind": source_kind(entry.url).value}
        channel.sources = [new, *list(channel.sources or [])[1:]]
        changed = True
    updates: dict[str, Any] = {}
    if entry.tvg_logo and len(entry.tvg_logo) <= URL_MAX:
        updates["logo"] = entry.tvg_logo
    if entry.tvg_id:
        updates["epg_channel_id"] = entry.tvg_id[:NAME_MAX]
    if entry.tvg_chno is not None:
        updates["number"] = entry.tvg_chno
    if entry.catchup_days is not None:
        updates["archive_days"] = entry.catchup_days
    for attribute, value in updates.items():
        if getattr(channel, attribute) != value:
            setattr(channel, attribute, value)
            changed = True
    have = set(channel.category_ids)
    for category_id in category_ids:
        if category_id not in have:
            channel.category_links.append(
                ChannelCategory(category_id=category_id, position=len(channel.category_links))
            )
            have.add(category_id)
            changed = True
    return changed


def _check_channel_limit(session: Session, tenant_id: int, total: int) -> None:
    limit = session.scalar(select(Tenant.max_channels).where(Tenant.id == tenant_id))
    if limit is not None and total > limit:
        raise ImportRefused(
            f"the tenant allows {limit} channels; this import would bring it to {total}"
        )


def _import_movies(
    session: Session, tenant_id: int, entries: Sequence[M3UEntry], categories: _CategoryIndex
) -> ImportReport:
    movies = list(session.scalars(select(Movie).where(Movie.tenant_id == tenant_id)))
    by_url = {movie.source_url: movie for movie in movies if movie.source_url}
    by_name_group = {(movie.name, movie.category_id): movie for movie in movies}
    outcome: dict[int, str] = {}
    for entry in entries:
        category_ids = categories.ids_for(entry.groups[:1])
        name = entry.name[:NAME_MAX]
        key = (name, category_ids[0] if category_ids else None)
        movie = by_url.get(entry.url) or by_name_group.get(key)
        if movie is None:
            movie = Movie(
                tenant_id=tenant_id,
                name=name,
                category_id=key[1],
                stream_icon=entry.tvg_logo if len(entry.tvg_logo) <= URL_MAX else "",
                container_extension=_vod_extension(entry.url),
                source_url=entry.url,
            )
            session.add(movie)
            outcome[id(movie)] = "created"
        else:
            changed = False
            if movie.source_url != entry.url:
                movie.source_url = entry.url
                movie.container_extension = _vod_extension(entry.url)
                changed = True
            if entry.tvg_logo and entry.tvg_logo != movie.stream_icon:
                movie.stream_icon = entry.tvg_logo
                changed = True
            if changed and outcome.get(id(movie)) != "created":
                outcome[id(movie)] = "updated"
            else:
                outcome.setdefault(id(movie), "unchanged")
        by_url.setdefault(entry.url, movie)
        by_name_group.setdefault(key, movie)
    session.flush()
    return _tally(outcome)

"""Apply the entries of an M3U playlist to a tenant's catalog.

Categories come from ``group-title`` (created when missing, reused by name otherwise). With
``kind=live`` each entry becomes a channel with its logo, EPG id, number, archive depth and
one source whose kind is guessed from the URL; with ``kind=movie`` each becomes a movie.

Every entry is checked against the bounds the admin API applies (:mod:`.limits`); one
that breaks them is refused on its own, by line number, and the others are imported.

Re-importing never duplicates. An entry matches a stored item of the tenant when

1. its URL is one of the item's source URLs, or else
2. its name and first group equal the item's name and category.

A matched item is updated where the playlist says something new (logo, EPG id, number,
archive days; extra groups become extra categories); when it matched by name and group but
the URL is new, the URL replaces the item's first (primary) source and any failover sources
after it are kept. Duplicate entries within one playlist merge the same way.

Entries are applied in batches as they are read: new items are inserted many rows per
statement and only a batch's matched items are loaded as objects, so a 100,000-entry
playlist costs a few index dictionaries, not 100,000 ORM objects. Everything happens in
the caller's transaction, with one audit entry per import.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, cast
from urllib.parse import urlsplit

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from palinsesto.accounts.models import Tenant
from palinsesto.catalog.limits import (
    ARCHIVE_DAYS_MAX,
    CATEGORIES_PER_CHANNEL_MAX,
    CATEGORY_NAME_MAX,
    CHANNEL_NAME_MAX,
    CHANNEL_NUMBER_MAX,
    EPG_CHANNEL_ID_MAX,
    IMAGE_URL_MAX,
    MOVIE_NAME_MAX,
    SOURCE_URL_MAX,
)
from palinsesto.catalog.m3u_reader import M3UEntry, M3UError
from palinsesto.catalog.models import (
    Category,
    CategoryKind,
    Channel,
    ChannelCategory,
    ChannelMode,
    Movie,
)
from palinsesto.protocol.sources import SourceKind
from palinsesto.trust.audit import record

VOD_EXTENSIONS = frozenset({"mp4", "mkv", "avi", "mov", "m4v", "ts", "webm", "flv", "mpg"})
BATCH_SIZE = 1000
STREAM_ROWS = 5000  # stored items are read in slices this size (a server-side cursor on PG)


class ImportRefused(ValueError):
    """The import would break a rule (a plan limit); nothing was written."""


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    categories_created: list[str] = field(default_factory=list)
    rejected: int = 0  # entries refused for values out of bounds

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


def _too_long(what: str, value: str, limit: int) -> str | None:
    return f"{what} longer than {limit} characters" if len(value) > limit else None


def _number_problem(attribute: str, raw: str, value: int | None, limit: int) -> str | None:
    if raw and (value is None or value > limit):
        return f"{attribute} must be a whole number from 0 to {limit}, got {raw[:24]!r}"
    return None


def entry_problem(entry: M3UEntry, kind: CategoryKind) -> str | None:
    """Why the admin API would refuse what ``entry`` asks to store, or None."""
    live = kind is CategoryKind.live
    groups = entry.groups if live else entry.groups[:1]
    checks = [
        _too_long("name", entry.name, CHANNEL_NAME_MAX if live else MOVIE_NAME_MAX),
        _too_long("URL", entry.url, SOURCE_URL_MAX),
        _too_long("tvg-logo", entry.tvg_logo, IMAGE_URL_MAX),
        *(_too_long(f"group {g[:40]!r}", g, CATEGORY_NAME_MAX) for g in groups),
    ]
    if live:
        days_attribute, days_raw = entry.catchup_days_text
        checks += [
            _too_long("tvg-id", entry.tvg_id, EPG_CHANNEL_ID_MAX),
            f"more than {CATEGORIES_PER_CHANNEL_MAX} groups"
            if len(groups) > CATEGORIES_PER_CHANNEL_MAX
            else None,
            _number_problem("tvg-chno", entry.tvg_chno_text, entry.tvg_chno, CHANNEL_NUMBER_MAX),
            _number_problem(days_attribute, days_raw, entry.catchup_days, ARCHIVE_DAYS_MAX),
        ]
    return next((problem for problem in checks if problem), None)


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
        for name in groups:
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


class _Draft:
    """An item this import creates, until its batch is inserted (then the indexes hold
    its id instead)."""

    __slots__ = ("id", "values", "category_ids", "url", "key")

    def __init__(
        self,
        values: dict[str, Any],
        category_ids: list[int],
        url: str,
        key: tuple[str, int | None],
    ) -> None:
        self.id: int | None = None
        self.values = values
        self.category_ids = category_ids
        self.url, self.key = url, key


Ref = int | _Draft  # a stored item's id, or an item this import creates


class _KeyIndex:
    """Items by URL, or by (name, first category), for matching entries.

    Keyed by the key's 64-bit hash rather than the key: at the 50 MB size limit that is
    over 200,000 URLs and names not kept twice in memory. Two different keys with the same
    hash (odds about 1 in 10^9 for such a playlist) would match one item.
    """

    __slots__ = ("_refs",)

    def __init__(self) -> None:
        self._refs: dict[int, Ref] = {}

    def get(self, key: Hashable) -> Ref | None:
        return self._refs.get(hash(key))

    def setdefault(self, key: Hashable, ref: Ref) -> None:
        self._refs.setdefault(hash(key), ref)

    def replace(self, key: Hashable, old: Ref, new: Ref) -> None:
        hashed = hash(key)
        if self._refs.get(hashed) is old:
            self._refs[hashed] = new


def import_entries(
    session: Session,
    tenant_id: int,
    entries: Iterable[M3UEntry],
    *,
    kind: CategoryKind = CategoryKind.live,
    source: str,
    actor: str = "cli",
    actor_id: int | None = None,
    on_reject: Callable[[M3UError], None] | None = None,
) -> ImportReport:
    """Create or update the tenant's channels (or movies) from ``entries``, read lazily.

    An entry out of the API's bounds is passed to ``on_reject`` and skipped. ``source``
    (the file or URL) goes into the audit entry. Raises :class:`ImportRefused` when the
    tenant's channel limit would be exceeded; the caller's transaction then rolls back
    and nothing is kept.
    """
    if kind is CategoryKind.series:
        raise ImportRefused("series cannot be imported from M3U (episodes need seasons)")
    categories = _CategoryIndex(session, tenant_id, kind)
    batch: _Batch = (
        _ChannelBatch(session, tenant_id, categories)
        if kind is CategoryKind.live
        else _MovieBatch(session, tenant_id, categories)
    )
    seen = rejected = 0
    for entry in entries:
        seen += 1
        problem = entry_problem(entry, kind)
        if problem is not None:
            rejected += 1
            if on_reject is not None:
                on_reject(M3UError(entry.line_number, problem))
            continue
        batch.add(entry)
    report = batch.finish()
    report.categories_created = categories.created
    report.rejected = rejected
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
            "entries": seen,
            "rejected": rejected,
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "categories_created": report.categories_created,
        },
    )
    return report


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


def _primary_url(table: type[Channel] | type[Movie], values: dict[str, Any]) -> str:
    return str(values["sources"][0]["url"]) if table is Channel else str(values["source_url"])


def _insert_rows(
    session: Session, table: type[Channel] | type[Movie], rows: list[dict[str, Any]]
) -> list[int]:
    """Insert ``rows`` (one executemany) and return their ids in the same order.

    Not INSERT ... RETURNING: on SQLite, SQLAlchemy can only keep RETURNING in parameter
    order by inserting row by row (10,000 statements for 10,000 channels). The rows are
    found again instead: ids above the highest before the insert, of this tenant, by
    primary URL, which is unique among an import's new items (entries with a known URL
    match the item that has it).
    """
    tenant_id = rows[0]["tenant_id"]
    before = session.scalar(select(func.max(table.id))) or 0
    # Core, not the ORM's bulk path, which runs one statement per row on this table.
    session.connection().execute(insert(_table(table)), rows)
    columns = (table.id, Channel.sources) if table is Channel else (table.id, Movie.source_url)
    found: dict[str, int] = {}
    for item_id, value in session.execute(
        select(*columns).where(table.id > before, table.tenant_id == tenant_id).order_by(table.id)
    ):
        url = str(value[0]["url"]) if table is Channel else str(value)
        found.setdefault(url, item_id)
    return [found[_primary_url(table, row)] for row in rows]


class _Batch:
    """Matching and batching shared by channels and movies."""

    def __init__(self, session: Session, tenant_id: int, categories: _CategoryIndex) -> None:
        self.session, self.tenant_id, self.categories = session, tenant_id, categories
        self.by_url = _KeyIndex()
        self.by_name_group = _KeyIndex()
        self.drafts: list[_Draft] = []
        self.updates: dict[int, list[tuple[M3UEntry, list[int]]]] = {}
        # Ids above this were created by this import (every stored item it can match was
        # read before it started), so created items need no bookkeeping of their own.
        self.floor: int = session.scalar(select(func.max(self.table.id))) or 0
        self.created = 0
        self.outcome: dict[int, bool] = {}  # stored item id -> changed

    table: type[Channel] | type[Movie]

    def groups_of(self, entry: M3UEntry) -> Sequence[str]:
        return entry.groups

    def add(self, entry: M3UEntry) -> None:
        category_ids = self.categories.ids_for(self.groups_of(entry))
        key = (entry.name, category_ids[0] if category_ids else None)
        ref = self.by_url.get(entry.url)
        if ref is None:
            ref = self.by_name_group.get(key)
        if ref is None:
            ref = _Draft(self.new_values(entry, category_ids), category_ids, entry.url, key)
            self.drafts.append(ref)
        elif isinstance(ref, _Draft) and ref.id is None:
            self.merge(ref, entry, category_ids)  # a duplicate within this batch
        else:
            item_id = ref if isinstance(ref, int) else ref.id
            assert item_id is not None
            self.updates.setdefault(item_id, []).append((entry, category_ids))
        self.by_url.setdefault(entry.url, ref)
        self.by_name_group.setdefault(key, ref)
        if len(self.drafts) + len(self.updates) >= BATCH_SIZE:
            self.flush()

    def flush(self) -> None:
        if self.drafts:
            self.created += len(self.drafts)
            self.insert(self.drafts)
            for draft in self.drafts:
                assert draft.id is not None
                self.by_url.replace(draft.url, draft, draft.id)
                self.by_name_group.replace(draft.key, draft, draft.id)
                draft.values, draft.category_ids = {}, []
            self.drafts = []
        if self.updates:
            items = self.load(list(self.updates))
            for item in items:
                changed = False
                for entry, category_ids in self.updates[item.id]:
                    changed = self.update(item, entry, category_ids) or changed
                if item.id <= self.floor:  # created items count as created, however merged
                    self.outcome[item.id] = self.outcome.get(item.id, False) or changed
                self.updated(item)
            self.updates = {}
            self.write(items)
        # Nothing loaded as an object is needed again: keep the identity map small.
        self.session.expunge_all()

    def finish(self) -> ImportReport:
        self.flush()
        updated = sum(self.outcome.values())
        return ImportReport(
            created=self.created,
            updated=updated,
            unchanged=len(self.outcome) - updated,
        )

    def new_values(self, entry: M3UEntry, category_ids: list[int]) -> dict[str, Any]:
        raise NotImplementedError

    def merge(self, draft: _Draft, entry: M3UEntry, category_ids: list[int]) -> None:
        raise NotImplementedError

    def insert(self, drafts: list[_Draft]) -> None:
        raise NotImplementedError

    def load(self, ids: list[int]) -> Sequence[Any]:
        raise NotImplementedError

    def update(self, item: Any, entry: M3UEntry, category_ids: list[int]) -> bool:
        raise NotImplementedError

    def updated(self, item: Any) -> None:
        """Called after an item's updates are applied."""

    def write(self, items: Sequence[Any]) -> None:
        """Store what :meth:`update` changed in ``items`` (ORM objects: flush them)."""
        self.session.flush()


class _ChannelBatch(_Batch):
    table = Channel

    def __init__(self, session: Session, tenant_id: int, categories: _CategoryIndex) -> None:
        super().__init__(session, tenant_id, categories)
        # One streamed pass over the tenant's channels, each row with one of its categories
        # in position order: the first row of a channel names its first category.
        self.stored = 0
        previous = None
        for channel_id, name, sources, category_id in session.execute(
            select(Channel.id, Channel.name, Channel.sources, ChannelCategory.category_id)
            .outerjoin(ChannelCategory, ChannelCategory.channel_id == Channel.id)
            .where(Channel.tenant_id == tenant_id)
            .order_by(Channel.id, ChannelCategory.position)
            .execution_options(yield_per=STREAM_ROWS)
        ):
            if channel_id == previous:
                continue
            previous = channel_id
            self.stored += 1
            for item in sources or []:
                self.by_url.setdefault(str(item.get("url", "")), channel_id)
            self.by_name_group.setdefault((name, category_id), channel_id)
        self.limit = session.scalar(select(Tenant.max_channels).where(Tenant.id == tenant_id))
        # Created without tvg-chno, in playlist order: numbered at the end (unless a later
        # duplicate entry gave one a number).
        self.unnumbered = array("q")
        self.numbered_later: set[int] = set()

    def new_values(self, entry: M3UEntry, category_ids: list[int]) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "name": entry.name,
            "number": entry.tvg_chno,
            "logo": entry.tvg_logo,
            "epg_channel_id": entry.tvg_id or None,
            "sources": [{"url": entry.url, "kind": source_kind(entry.url).value}],
            "mode": ChannelMode.on_demand,
            "archive_days": entry.catchup_days or 0,
        }

    def merge(self, draft: _Draft, entry: M3UEntry, category_ids: list[int]) -> None:
        values = draft.values
        urls = [item["url"] for item in values["sources"]]
        if entry.url not in urls:
            new = {"url": entry.url, "kind": source_kind(entry.url).value}
            values["sources"] = [new, *values["sources"][1:]]
        values.update(_channel_updates(entry))
        draft.category_ids += [c for c in category_ids if c not in draft.category_ids]

    def insert(self, drafts: list[_Draft]) -> None:
        total = self.stored + self.created
        if self.limit is not None and total > self.limit:
            raise ImportRefused(
                f"the tenant allows {self.limit} channels; this import would bring it "
                f"to at least {total}"
            )
        ids = _insert_rows(self.session, Channel, [draft.values for draft in drafts])
        links = []
        for draft, channel_id in zip(drafts, ids, strict=True):
            draft.id = channel_id
            if draft.values["number"] is None:
                self.unnumbered.append(channel_id)
            links += [
                {"channel_id": channel_id, "category_id": category_id, "position": position}
                for position, category_id in enumerate(draft.category_ids)
            ]
        if links:
            self.session.connection().execute(insert(_table(ChannelCategory)), links)

    def load(self, ids: list[int]) -> Sequence[_StoredChannel]:
        """The matched channels' importable fields, read as plain rows (no ORM objects:
        a re-import of 100,000 unchanged entries compares, it does not hydrate)."""
        links: dict[int, list[int]] = {}
        for channel_id, category_id in self.session.execute(
            select(ChannelCategory.channel_id, ChannelCategory.category_id)
            .where(ChannelCategory.channel_id.in_(ids))
            .order_by(ChannelCategory.channel_id, ChannelCategory.position)
        ):
            links.setdefault(channel_id, []).append(category_id)
        return [
            _StoredChannel(row, links.get(row[0], []))
            for row in self.session.execute(
                select(
                    Channel.id,
                    Channel.sources,
                    Channel.logo,
                    Channel.epg_channel_id,
                    Channel.number,
                    Channel.archive_days,
                ).where(Channel.id.in_(ids))
            )
        ]

    def update(self, item: _StoredChannel, entry: M3UEntry, category_ids: list[int]) -> bool:
        return item.apply(entry, category_ids)

    def updated(self, item: _StoredChannel) -> None:
        if item.id > self.floor and item.values["number"] is not None:
            self.numbered_later.add(item.id)

    def write(self, items: Sequence[_StoredChannel]) -> None:
        changed = [item for item in items if item.changed]
        if changed:
            table = _table(Channel)
            self.session.connection().execute(
                update(table)
                .where(table.c.id == bindparam("channel_id"))
                .values({name: bindparam(name) for name in _StoredChannel.FIELDS}),
                [{"channel_id": item.id, **item.values} for item in changed],
            )
        links = [
            {"channel_id": item.id, "category_id": category_id, "position": position}
            for item in items
            for position, category_id in item.new_links
        ]
        if links:
            self.session.connection().execute(insert(_table(ChannelCategory)), links)

    def finish(self) -> ImportReport:
        report = super().finish()
        self._number_the_rest()
        return report

    def _number_the_rest(self) -> None:
        """Entries without tvg-chno are numbered after every number, stored or in the
        playlist, in playlist order (ids grow in insertion order); none past the API's
        bound (those keep no number, and players number them)."""
        if not self.unnumbered:
            return
        highest = self.session.scalar(
            select(func.max(Channel.number)).where(Channel.tenant_id == self.tenant_id)
        )
        start = (highest or 0) + 1
        ids = [i for i in self.unnumbered if i not in self.numbered_later]
        del ids[max(0, CHANNEL_NUMBER_MAX - start + 1) :]
        for first in range(0, len(ids), BATCH_SIZE):
            chunk = ids[first : first + BATCH_SIZE]
            self.session.execute(
                update(Channel),
                [{"id": i, "number": start + first + n} for n, i in enumerate(chunk)],
            )


def _channel_updates(entry: M3UEntry) -> dict[str, Any]:
    updates: dict[str, Any] = {}
    if entry.tvg_logo:
        updates["logo"] = entry.tvg_logo
    if entry.tvg_id:
        updates["epg_channel_id"] = entry.tvg_id
    if entry.tvg_chno is not None:
        updates["number"] = entry.tvg_chno
    if entry.catchup_days is not None:
        updates["archive_days"] = entry.catchup_days
    return updates


class _StoredChannel:
    """A matched channel's importable fields, and what the playlist changes in them."""

    FIELDS = ("sources", "logo", "epg_channel_id", "number", "archive_days")
    __slots__ = ("id", "values", "category_ids", "new_links", "changed")

    def __init__(self, row: Any, category_ids: list[int]) -> None:
        self.id: int = row[0]
        self.values: dict[str, Any] = dict(zip(self.FIELDS, row[1:], strict=True))
        self.category_ids = category_ids
        self.new_links: list[tuple[int, int]] = []  # (position, category id)
        self.changed = False

    def apply(self, entry: M3UEntry, category_ids: list[int]) -> bool:
        changed = False
        sources = list(self.values["sources"] or [])
        if entry.url not in [str(item.get("url", "")) for item in sources]:
            new = {"url": entry.url, "kind": source_kind(entry.url).value}
            self.values["sources"] = [new, *sources[1:]]
            changed = True
        for name, value in _channel_updates(entry).items():
            if self.values[name] != value:
                self.values[name] = value
                changed = True
        self.changed = self.changed or changed
        for category_id in category_ids:
            if category_id not in self.category_ids:
                self.new_links.append((len(self.category_ids), category_id))
                self.category_ids.append(category_id)
                changed = True
        return changed


class _MovieBatch(_Batch):
    table = Movie

    def __init__(self, session: Session, tenant_id: int, categories: _CategoryIndex) -> None:
        super().__init__(session, tenant_id, categories)
        for movie_id, name, category_id, url in session.execute(
            select(Movie.id, Movie.name, Movie.category_id, Movie.source_url).where(
                Movie.tenant_id == tenant_id
            )
        ):
            if url:
                self.by_url.setdefault(url, movie_id)
            self.by_name_group.setdefault((name, category_id), movie_id)

    def groups_of(self, entry: M3UEntry) -> Sequence[str]:
        return entry.groups[:1]

    def new_values(self, entry: M3UEntry, category_ids: list[int]) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "name": entry.name,
            "category_id": category_ids[0] if category_ids else None,
            "stream_icon": entry.tvg_logo,
            "container_extension": _vod_extension(entry.url),
            "source_url": entry.url,
        }

    def merge(self, draft: _Draft, entry: M3UEntry, category_ids: list[int]) -> None:
        draft.values["source_url"] = entry.url
        draft.values["container_extension"] = _vod_extension(entry.url)
        if entry.tvg_logo:
            draft.values["stream_icon"] = entry.tvg_logo

    def insert(self, drafts: list[_Draft]) -> None:
        ids = _insert_rows(self.session, Movie, [draft.values for draft in drafts])
        for draft, movie_id in zip(drafts, ids, strict=True):
            draft.id = movie_id

    def load(self, ids: list[int]) -> Sequence[Movie]:
        return self.session.scalars(select(Movie).where(Movie.id.in_(ids))).all()

    def update(self, item: Movie, entry: M3UEntry, category_ids: list[int]) -> bool:
        changed = False
        if item.source_url != entry.url:
            item.source_url = entry.url
            item.container_extension = _vod_extension(entry.url)
            changed = True
        if entry.tvg_logo and entry.tvg_logo != item.stream_icon:
            item.stream_icon = entry.tvg_logo
            changed = True
        return changed

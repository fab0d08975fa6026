"""Catalogues per bouquet set, kind by kind, and their serialised responses, cached until
they change.

Lines that share the same bouquets (the tuple of bouquet ids, in order) share one copy
of every section and of every response built from it: ``get_live_streams`` for 10,000
lines on the same package is serialised once. Each kind (live, vod, series) is loaded on
first use and kept apart, so the first ``get_live_streams`` after an edit reads 20,000
channels, not 100,000 movies too, and editing a movie leaves the live list as it was.

Freshness comes from change-event versions (read *before* the database, so a concurrent
edit can only make an entry look stale, never fresh). The admin API publishes
``catalog`` after every catalogue commit, plus ``catalog.scoped`` and one
``catalog.<kind>`` per kind the commit touched (``palinsesto.panel.admin.api.changes``). A
section's stamp is ``(catalog − catalog.scoped, catalog.<kind>)``: a narrowed change
moves only its kinds' stamps, and a bare ``catalog`` published by anyone else (the EPG
matcher, another tool) moves every stamp, so every kind is rebuilt.

What is built (response bodies, playlist templates) is bounded across all sets, in
entries and in bytes, least recently used first out: a client asking for many different
variants (offsets, categories, playlist types) can make the server rebuild, never grow.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from palinsesto.accounts.models import Tenant
from palinsesto.cluster.events import ChangeEvents
from palinsesto.db import Database
from palinsesto.panel.playback.catalog_view import (
    LiveSection,
    Section,
    SeriesSection,
    VodSection,
    load_live,
    load_series,
    load_vod,
    with_recorded_archive,
)
from palinsesto.panel.playback.rights_gate import gated_section

# (bouquet item type, id) a line may not list (LineView.blocked): lines with blocks get
# their own sets, everyone else shares the bouquet set's.
Blocked = frozenset[tuple[str, int]]
NO_BLOCKS: Blocked = frozenset()
CatalogKey = tuple[int, tuple[int, ...], Blocked]
Stamp = tuple[int, int]

BuiltT = TypeVar("BuiltT")  # what a caller builds from sections (bytes, a template)

DEFAULT_MAX_ENTRIES = 2048
DEFAULT_MAX_BYTES = 256 * 1024 * 1024

KINDS = ("live", "vod", "series")
CATALOG_TOPIC = "catalog"
SCOPED_TOPIC = "catalog.scoped"
KIND_TOPICS = {kind: f"catalog.{kind}" for kind in KINDS}
LOADERS: dict[str, Callable[[Session, int, Sequence[int]], Section[Any]]] = {
    "live": load_live,
    "vod": load_vod,
    "series": load_series,
}
KIND_ITEM_TYPES = {"live": "channel", "vod": "movie", "series": "series"}


def without_blocked(kind: str, section: Any, blocked: Blocked) -> Any:
    """``section`` without the items a line's notice blocks name."""
    item_type = KIND_ITEM_TYPES[kind]
    keep = [i for i in section.items if (item_type, i.id) not in blocked]
    if len(keep) == len(section.items):
        return section
    used: set[int] = set()
    for item in keep:
        ids = getattr(item, "category_ids", None)
        used.update(
            ids if ids is not None else () if item.category_id is None else (item.category_id,)
        )
    return replace(
        section, items=keep, used_category_ids=frozenset(used), by_id={i.id: i for i in keep}
    )


class Sections:
    """The sections of one bouquet set that a cached value is built from."""

    __slots__ = ("tenant_id", "bouquet_ids", "_loaded")

    def __init__(
        self, tenant_id: int, bouquet_ids: tuple[int, ...], loaded: dict[str, Section[Any]]
    ) -> None:
        self.tenant_id = tenant_id
        self.bouquet_ids = bouquet_ids
        self._loaded = loaded

    def _get(self, kind: str) -> Section[Any]:
        section = self._loaded.get(kind)
        if section is None:  # a builder reading a kind it did not declare: a bug
            raise LookupError(f"the {kind} section was not declared for this build")
        return section

    @property
    def live(self) -> LiveSection:
        return self._get("live")

    @property
    def vod(self) -> VodSection:
        return self._get("vod")

    @property
    def series(self) -> SeriesSection:
        return self._get("series")


class _SetEntry:
    """One bouquet set: its loaded sections and what was built from them."""

    __slots__ = ("sections", "built", "locks")

    def __init__(self) -> None:
        self.sections: dict[str, tuple[Stamp, Section[Any]]] = {}
        # name -> (kinds, stamps of those kinds when built, value)
        self.built: dict[Any, tuple[tuple[str, ...], tuple[Stamp, ...], Any]] = {}
        self.locks: dict[Any, threading.Lock] = {}


@dataclass(frozen=True, slots=True)
class CacheStats:
    """What the built-value cache holds now, against its bounds."""

    entries: int
    bytes: int
    max_entries: int
    max_bytes: int
    evictions: int
    sets: int


def _nbytes(value: Any) -> int:
    # Bodies, JSON arrays and playlist templates say what they hold (``nbytes``).
    if isinstance(value, bytes):
        return len(value)
    return int(getattr(value, "nbytes", 0))


class CatalogCache:
    """Bouquet-set sections and what is built from them: ``max_sets`` sets, and at most
    ``max_entries`` built values holding ``max_bytes`` in all (least recently used out)."""

    def __init__(
        self,
        db: Database,
        events: ChangeEvents,
        max_sets: int = 64,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        recorded: Callable[[int, int], bool] | None = None,
    ) -> None:
        self._db = db
        # (tenant, channel) -> whether its catch-up archive holds anything; the archive
        # announces a change of that answer as a "catalog.live" event.
        self._recorded = recorded
        self._events = events
        self._max_sets = max_sets
        self._max_entries = max_entries
        self._max_bytes = max_bytes
        self._entries: OrderedDict[CatalogKey, _SetEntry] = OrderedDict()
        # Every built value of every set, least recently used first, with its size.
        self._lru: OrderedDict[tuple[CatalogKey, Any], int] = OrderedDict()
        self._bytes = 0
        self._evictions = 0
        self._lock = threading.Lock()
        self._tenants: dict[int, tuple[int, str, str]] = {}
        self.loads: dict[str, int] = dict.fromkeys(KINDS, 0)  # section reads, for tests

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(
                len(self._lru),
                self._bytes,
                self._max_entries,
                self._max_bytes,
                self._evictions,
                len(self._entries),
            )

    def _forget(self, key: CatalogKey, name: Any) -> None:
        """Drop one built value from the accounting (``self._lock`` held)."""
        size = self._lru.pop((key, name), None)
        if size is not None:
            self._bytes -= size

    def _drop_set(self, key: CatalogKey, entry: _SetEntry) -> None:
        for name in entry.built:
            self._forget(key, name)
        entry.built.clear()

    def _remember(self, key: CatalogKey, entry: _SetEntry, name: Any, built: Any) -> None:
        """Store ``built`` = (kinds, stamps, value) under ``name``, then evict the least
        recently used values until the cache is within its bounds again."""
        size = _nbytes(built[2])
        with self._lock:
            self._forget(key, name)
            entry.built.pop(name, None)
            if size > self._max_bytes or self._entries.get(key) is not entry:
                return  # too large to keep, or its set was dropped meanwhile: serve once
            entry.built[name] = built
            self._lru[(key, name)] = size
            self._bytes += size
            while len(self._lru) > self._max_entries or self._bytes > self._max_bytes:
                (old_key, old_name), old_size = self._lru.popitem(last=False)
                self._bytes -= old_size
                self._evictions += 1
                old_entry = self._entries.get(old_key)
                if old_entry is not None:
                    old_entry.built.pop(old_name, None)

    def stamp(self, tenant_id: int, kind: str) -> Stamp:
        """The change-event stamp a ``kind`` section of ``tenant_id`` is fresh at."""
        version = self._events.version
        unscoped = version(tenant_id, CATALOG_TOPIC) - version(tenant_id, SCOPED_TOPIC)
        return unscoped, version(tenant_id, KIND_TOPICS[kind])

    def _stamps(self, tenant_id: int, kinds: tuple[str, ...]) -> tuple[Stamp, ...]:
        return tuple(self.stamp(tenant_id, k) for k in kinds)

    def _set(
        self, tenant_id: int, bouquet_ids: tuple[int, ...], blocked: Blocked = NO_BLOCKS
    ) -> _SetEntry:
        key = (tenant_id, bouquet_ids, blocked)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = _SetEntry()
                while len(self._entries) > self._max_sets:
                    self._drop_set(*self._entries.popitem(last=False))
            else:
                self._entries.move_to_end(key)
            return entry

    def _lock_for(self, entry: _SetEntry, name: Any) -> threading.Lock:
        with self._lock:
            return entry.locks.setdefault(name, threading.Lock())

    def section(
        self,
        tenant_id: int,
        bouquet_ids: tuple[int, ...],
        kind: str,
        blocked: Blocked = NO_BLOCKS,
    ) -> Section[Any]:
        """The set's ``kind`` section (reads the database when it is missing or stale)."""
        entry = self._set(tenant_id, bouquet_ids, blocked)
        hit = entry.sections.get(kind)
        if hit is not None and hit[0] == self.stamp(tenant_id, kind):
            return hit[1]
        with self._lock_for(entry, ("section", kind)):  # one read per kind, however many ask
            stamp = self.stamp(tenant_id, kind)
            hit = entry.sections.get(kind)
            if hit is not None and hit[0] == stamp:
                return hit[1]
            with self._db.session() as session:
                loaded = LOADERS[kind](session, tenant_id, bouquet_ids)
                section = gated_section(kind, session, tenant_id, loaded)
            if blocked:
                section = without_blocked(kind, section, blocked)
            if kind == "live" and self._recorded is not None:
                section = with_recorded_archive(section, partial(self._recorded, tenant_id))
            self.loads[kind] += 1
            entry.sections[kind] = (stamp, section)
            # Drop what was built from the old section rather than wait for a request.
            key = (tenant_id, bouquet_ids, blocked)
            with self._lock:
                for name, (kinds, _stamps, _value) in list(entry.built.items()):
                    if kind in kinds:
                        entry.built.pop(name, None)
                        self._forget(key, name)
        return section

    def peek_section(
        self,
        tenant_id: int,
        bouquet_ids: tuple[int, ...],
        kind: str,
        blocked: Blocked = NO_BLOCKS,
    ) -> Section[Any] | None:
        """The set's ``kind`` section if it is loaded and fresh, without any I/O."""
        entry = self._entries.get((tenant_id, bouquet_ids, blocked))
        hit = entry.sections.get(kind) if entry is not None else None
        if hit is not None and hit[0] == self.stamp(tenant_id, kind):
            return hit[1]
        return None

    def live(
        self, tenant_id: int, bouquet_ids: tuple[int, ...], blocked: Blocked = NO_BLOCKS
    ) -> LiveSection:
        return self.section(tenant_id, bouquet_ids, "live", blocked)

    def vod(
        self, tenant_id: int, bouquet_ids: tuple[int, ...], blocked: Blocked = NO_BLOCKS
    ) -> VodSection:
        return self.section(tenant_id, bouquet_ids, "vod", blocked)

    def series(
        self, tenant_id: int, bouquet_ids: tuple[int, ...], blocked: Blocked = NO_BLOCKS
    ) -> SeriesSection:
        return self.section(tenant_id, bouquet_ids, "series", blocked)

    def peek(
        self,
        tenant_id: int,
        bouquet_ids: tuple[int, ...],
        name: Any,
        kinds: tuple[str, ...],
        blocked: Blocked = NO_BLOCKS,
    ) -> Any | None:
        """What was built under ``name`` from still-fresh sections, without any I/O."""
        key = (tenant_id, bouquet_ids, blocked)
        entry = self._entries.get(key)
        hit = entry.built.get(name) if entry is not None else None
        if hit is not None and hit[1] == self._stamps(tenant_id, kinds):
            with self._lock:
                if (key, name) in self._lru:
                    self._lru.move_to_end((key, name))
            return hit[2]
        return None

    def built(
        self,
        tenant_id: int,
        bouquet_ids: tuple[int, ...],
        name: Any,
        kinds: tuple[str, ...],
        build: Callable[[Sections], BuiltT],
        blocked: Blocked = NO_BLOCKS,
    ) -> BuiltT:
        """``build(sections)`` once per version of the ``kinds`` sections it reads,
        remembered under ``name``."""
        value = self.peek(tenant_id, bouquet_ids, name, kinds, blocked)
        if value is not None:
            return value
        entry = self._set(tenant_id, bouquet_ids, blocked)
        with self._lock_for(entry, name):
            stamps = self._stamps(tenant_id, kinds)
            hit = entry.built.get(name)
            if hit is not None and hit[1] == stamps:
                return hit[2]
            loaded = {k: self.section(tenant_id, bouquet_ids, k, blocked) for k in kinds}
            value = build(Sections(tenant_id, bouquet_ids, loaded))
            key = (tenant_id, bouquet_ids, blocked)
            self._remember(key, entry, name, (kinds, stamps, value))
            # The per-name lock is not needed once the value is stored or given up on.
            with self._lock:
                entry.locks.pop(name, None)
        return value

    # The tenant's name and message of the day (user_info.message, §3.2).

    def peek_tenant(self, tenant_id: int) -> tuple[str, str] | None:
        hit = self._tenants.get(tenant_id)
        if hit is not None and hit[0] == self._events.version(tenant_id, "lines"):
            return hit[1], hit[2]
        return None

    def tenant(self, tenant_id: int) -> tuple[str, str]:
        """``(name, message)`` of a tenant, cached until its ``lines`` topic changes."""
        hit = self.peek_tenant(tenant_id)
        if hit is not None:
            return hit
        version = self._events.version(tenant_id, "lines")
        with self._db.session() as session:
            row = session.execute(
                select(Tenant.name, Tenant.message).where(Tenant.id == tenant_id)
            ).first()
        name, message = (row[0], row[1] or "") if row else ("", "")
        self._tenants[tenant_id] = (version, name, message)
        return name, message

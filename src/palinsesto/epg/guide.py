"""The stored guide behind :class:`palinsesto.panel.playback.guide.Guide`.

Surfaces ask by the XMLTV id their channel carries (``epg_channel_id``). Which stored
programmes answer is decided once per guide version and cached per tenant:

* a Palinsesto channel with that ``epg_channel_id`` and an accepted mapping reads the
  mapped guide channel of its source;
* otherwise the id itself, from the enabled source with the lowest priority number that
  carries it;
* the scheduled shows of channels with that id are merged in, with the live mark.

Only the source's active import run is read, so an import in progress or a failed one is
never seen.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text

from palinsesto.catalog.models import Channel
from palinsesto.cluster.events import ChangeEvents
from palinsesto.db import Database
from palinsesto.epg.models import (
    ChannelLiveState,
    ChannelMapping,
    EpgSource,
    GuideChannel,
    MappingState,
    MatchMethod,
)
from palinsesto.epg.schedule import Occurrence, ShowRule, expand, load_rules, with_live_mark
from palinsesto.panel.playback.guide import ProgrammeRow
from palinsesto.panel.playback.programme_details import ProgrammeDetails

# Programmes longer than this are refused at import, so a range scan may start this early.
LONGEST_PROGRAMME = 7 * 86_400
CACHE_TTL = 30.0
EPG_TOPIC = "epg"
SHOWS_PAST = 400 * 86_400
SHOWS_AHEAD = 28 * 86_400

_RANGE_SQL = text(
    "SELECT id, source_id, start, stop, title, description, lang, details FROM epg_programmes "
    "WHERE tenant_id = :tenant AND xmltv_id = :xmltv AND start >= :earliest "
    "AND start < :stop AND stop > :start AND run_id = :run ORDER BY start"
)
_UPCOMING_SQL = text(
    "SELECT id, source_id, start, stop, title, description, lang, details FROM epg_programmes "
    "WHERE tenant_id = :tenant AND xmltv_id = :xmltv AND start >= :earliest "
    "AND stop > :now AND run_id = :run ORDER BY start LIMIT :limit"
)


def _row(channel_id: str, r: Any) -> ProgrammeRow:
    """A row of ``_RANGE_SQL`` / ``_UPCOMING_SQL``."""
    details = ProgrammeDetails.from_stored(r[7])
    return ProgrammeRow(r[0], r[1], channel_id, r[2], r[3], r[4], r[5], r[6], details)


@dataclass(frozen=True, slots=True)
class Target:
    """Where the programmes of one served id are stored."""

    run_id: int
    xmltv_id: str


@dataclass
class _TenantGuide:
    key: tuple[int, int]
    loaded_at: float
    targets: dict[str, Target] = field(default_factory=dict)
    shows: dict[str, list[ShowRule]] = field(default_factory=dict)
    live_since: dict[str, int] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)


class StoredGuide:
    """Reads programmes from the database; install it as ``ctx.services["guide"]``."""

    def __init__(
        self,
        db: Database,
        events: ChangeEvents,
        clock: Callable[[], float] = time.time,
        ttl: float = CACHE_TTL,
    ) -> None:
        self.db = db
        self.events = events
        self.clock = clock
        self.ttl = ttl
        self._cache: dict[int, _TenantGuide] = {}
        self._lock = threading.Lock()

    # -- Guide protocol --------------------------------------------------------------------

    def version(self, tenant_id: int) -> int:
        epg = self.events.version(tenant_id, EPG_TOPIC)
        catalog = self.events.version(tenant_id, "catalog")
        return (epg << 32) | (catalog & 0xFFFFFFFF)

    def programmes(
        self, tenant_id: int, channel_id: str, start: int, stop: int
    ) -> list[ProgrammeRow]:
        state = self._state(tenant_id)
        rows: list[ProgrammeRow] = []
        target = state.targets.get(channel_id)
        if target is not None:
            with self.db.engine.connect() as conn:
                found = conn.execute(
                    _RANGE_SQL,
                    {
                        "tenant": tenant_id,
                        "xmltv": target.xmltv_id,
                        "earliest": start - LONGEST_PROGRAMME,
                        "start": start,
                        "stop": stop,
                        "run": target.run_id,
                    },
                ).all()
            rows = [_row(channel_id, r) for r in found]
        return self._merge(state, channel_id, rows, start, stop)

    def upcoming(self, tenant_id: int, channel_id: str, now: int, limit: int) -> list[ProgrammeRow]:
        if limit <= 0:
            return []
        state = self._state(tenant_id)
        rows: list[ProgrammeRow] = []
        target = state.targets.get(channel_id)
        if target is not None:
            with self.db.engine.connect() as conn:
                found = conn.execute(
                    _UPCOMING_SQL,
                    {
                        "tenant": tenant_id,
                        "xmltv": target.xmltv_id,
                        "earliest": now - LONGEST_PROGRAMME,
                        "now": now,
                        "run": target.run_id,
                        "limit": limit,
                    },
                ).all()
            rows = [_row(channel_id, r) for r in found]
        if channel_id in state.shows or channel_id in state.live_since:
            horizon = rows[-1].stop if len(rows) >= limit else now + 28 * 86_400
            rows = self._merge(state, channel_id, rows, now, horizon, now=now)
            rows = [r for r in rows if r.stop > now]
        return rows[:limit]

    def stream(
        self, tenant_id: int, channel_ids: Iterable[str], start: int, stop: int
    ) -> Iterator[ProgrammeRow]:
        for channel_id in channel_ids:
            yield from self.programmes(tenant_id, channel_id, start, stop)

    # -- helpers ---------------------------------------------------------------------------

    def has_guide(self, tenant_id: int, channel_id: str) -> bool:
        state = self._state(tenant_id)
        return channel_id in state.targets or channel_id in state.shows

    def invalidate(self, tenant_id: int) -> None:
        with self._lock:
            self._cache.pop(tenant_id, None)

    def _merge(
        self,
        state: _TenantGuide,
        channel_id: str,
        rows: list[ProgrammeRow],
        start: int,
        stop: int,
        now: int | None = None,
    ) -> list[ProgrammeRow]:
        rules = state.shows.get(channel_id)
        live_since = state.live_since.get(channel_id)
        if not rules and live_since is None:
            return rows
        now = int(self.clock()) if now is None else now
        # Weekly shows never end: expand them no further than the guide looks ahead.
        start = max(start, now - SHOWS_PAST)
        stop = min(stop, now + SHOWS_AHEAD)
        occurrences: list[Occurrence] = []
        for rule in rules or ():
            occurrences.extend(expand(rule, start, stop))
        occurrences.sort(key=lambda o: o.start)
        name = state.names.get(channel_id, channel_id)
        occurrences = with_live_mark(occurrences, live_since, now, name)
        extra = [
            ProgrammeRow(o.id, 0, channel_id, o.start, o.stop, o.title, o.description, o.lang)
            for o in occurrences
            if o.start < stop and o.stop > start
        ]
        return sorted([*rows, *extra], key=lambda r: (r.start, r.id))

    def _state(self, tenant_id: int) -> _TenantGuide:
        key = (self.events.version(tenant_id, EPG_TOPIC), self.events.version(tenant_id, "catalog"))
        now = time.monotonic()
        cached = self._cache.get(tenant_id)
        if cached is not None and cached.key == key and now - cached.loaded_at < self.ttl:
            return cached
        state = self._load(tenant_id, key, now)
        with self._lock:
            self._cache[tenant_id] = state
        return state

    def _load(self, tenant_id: int, key: tuple[int, int], now: float) -> _TenantGuide:
        state = _TenantGuide(key, now)
        with self.db.session() as session:
            sources = session.execute(
                select(EpgSource.id, EpgSource.active_run_id)
                .where(
                    EpgSource.tenant_id == tenant_id,
                    EpgSource.enabled.is_(True),
                    EpgSource.active_run_id.is_not(None),
                )
                .order_by(EpgSource.priority, EpgSource.id)
            ).all()
            runs = {source_id: run_id for source_id, run_id in sources if run_id is not None}
            order = {source_id: i for i, (source_id, _) in enumerate(sources)}
            guide_channels: dict[int, Target] = {}
            direct: dict[str, tuple[int, Target]] = {}
            for gc_id, source_id, xmltv_id in session.execute(
                select(GuideChannel.id, GuideChannel.source_id, GuideChannel.xmltv_id).where(
                    GuideChannel.tenant_id == tenant_id
                )
            ):
                if source_id not in runs:
                    continue
                target = Target(runs[source_id], xmltv_id)
                guide_channels[gc_id] = target
                rank = order[source_id]
                if xmltv_id not in direct or rank < direct[xmltv_id][0]:
                    direct[xmltv_id] = (rank, target)
            mapped: dict[int, tuple[int, float, Target]] = {}
            for channel_id, gc_id, method, confidence in session.execute(
                select(
                    ChannelMapping.channel_id,
                    ChannelMapping.guide_channel_id,
                    ChannelMapping.method,
                    ChannelMapping.confidence,
                ).where(
                    ChannelMapping.tenant_id == tenant_id,
                    ChannelMapping.state == MappingState.accepted,
                )
            ):
                found = guide_channels.get(gc_id)
                if found is None:
                    continue
                rank = 0 if method is MatchMethod.manual else 1
                best = mapped.get(channel_id)
                if best is None or (rank, -confidence) < (best[0], -best[1]):
                    mapped[channel_id] = (rank, confidence, found)
            epg_ids: dict[int, str] = {}
            for channel_id, epg_id, name in session.execute(
                select(Channel.id, Channel.epg_channel_id, Channel.name)
                .where(Channel.tenant_id == tenant_id, Channel.epg_channel_id.is_not(None))
                .order_by(Channel.id)
            ):
                if not epg_id:
                    continue
                epg_ids[channel_id] = epg_id
                state.names.setdefault(epg_id, name)
                if channel_id in mapped and epg_id not in state.targets:
                    state.targets[epg_id] = mapped[channel_id][2]
            for xmltv_id, (_rank, target) in direct.items():
                state.targets.setdefault(xmltv_id, target)
            live = session.execute(
                select(ChannelLiveState.channel_id, ChannelLiveState.live_since).where(
                    ChannelLiveState.tenant_id == tenant_id,
                    ChannelLiveState.live_since.is_not(None),
                )
            ).all()
        for channel_id, since in live:
            if channel_id in epg_ids and since is not None:
                state.live_since.setdefault(epg_ids[channel_id], since)
        shows: defaultdict[str, list[ShowRule]] = defaultdict(list)
        for rule in load_rules(self.db, tenant_id):
            if rule.channel_id in epg_ids:
                shows[epg_ids[rule.channel_id]].append(rule)
        state.shows = dict(shows)
        return state

"""Creators' own guide: scheduled shows expanded into programmes, and the live mark.

A show happens once or every week on given weekdays, at the same local time of day in its
time zone (a 19:00 Tuesday lesson stays at 19:00 across daylight-saving changes). Shows
are expanded when the guide is read, so a weekly show never runs out of occurrences.

When the live engine reports a push on a channel (:func:`mark_live`), the programme
running then is served with a ``LIVE`` title; if nothing is scheduled, a programme named
after the channel covers the live hour, so the guide never says "no information" while
the creator is on air.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from palinsesto.catalog.models import Channel
from palinsesto.db import Database
from palinsesto.epg.models import ChannelLiveState, ScheduledShow

LIVE_PREFIX = "LIVE: "
# Ids of expanded occurrences live above any stored programme id (XC ids are str(int)).
OCCURRENCE_ID_BASE = 10**12
LIVE_FILLER_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class Occurrence:
    id: int
    start: int
    stop: int
    title: str
    description: str
    lang: str


@dataclass(frozen=True, slots=True)
class ShowRule:
    """A scheduled show as plain values (what the guide caches)."""

    id: int
    channel_id: int
    title: str
    description: str
    start: int
    stop: int
    weekly_days: tuple[int, ...]
    repeat_until: int | None
    timezone: str
    lang: str

    @classmethod
    def of(cls, show: ScheduledShow) -> ShowRule:
        return cls(
            show.id,
            show.channel_id,
            show.title,
            show.description,
            show.start,
            show.stop,
            tuple(sorted(set(show.weekly_days or ()))),
            show.repeat_until,
            show.timezone or "UTC",
            show.lang,
        )


def expand(rule: ShowRule, start: int, stop: int) -> list[Occurrence]:
    """Occurrences of ``rule`` overlapping [start, stop), by start."""
    duration = rule.stop - rule.start
    if not rule.weekly_days:
        if rule.start < stop and rule.stop > start:
            return [_occurrence(rule, 0, rule.start)]
        return []
    zone = ZoneInfo(rule.timezone)
    first_local = datetime.fromtimestamp(rule.start, zone)
    time_of_day = time(first_local.hour, first_local.minute, first_local.second)
    first_day = first_local.date()
    day = max(first_day, datetime.fromtimestamp(start - duration, zone).date() - timedelta(days=1))
    last_day = datetime.fromtimestamp(stop, zone).date()
    found: list[Occurrence] = []
    while day <= last_day:
        if day.isoweekday() in rule.weekly_days:
            begin = int(datetime.combine(day, time_of_day, zone).timestamp())
            if rule.repeat_until is not None and begin >= rule.repeat_until:
                break
            if begin >= rule.start and begin < stop and begin + duration > start:
                found.append(_occurrence(rule, (day - first_day).days, begin))
        day += timedelta(days=1)
    return found


def _occurrence(rule: ShowRule, index: int, begin: int) -> Occurrence:
    return Occurrence(
        OCCURRENCE_ID_BASE + rule.id * 100_000 + index % 100_000,
        begin,
        begin + (rule.stop - rule.start),
        rule.title,
        rule.description,
        rule.lang,
    )


def with_live_mark(
    occurrences: list[Occurrence], live_since: int | None, now: int, filler_title: str
) -> list[Occurrence]:
    """Mark the occurrence running at ``now`` as live, or add a filler while on air."""
    if live_since is None:
        return occurrences
    marked: list[Occurrence] = []
    running = False
    for o in occurrences:
        if o.start <= now < o.stop:
            running = True
            o = Occurrence(o.id, o.start, o.stop, LIVE_PREFIX + o.title, o.description, o.lang)
        marked.append(o)
    if not running:
        later = [o.start for o in occurrences if o.start > now]
        stop = min([now + LIVE_FILLER_SECONDS, *later])
        filler = Occurrence(
            OCCURRENCE_ID_BASE - 1, live_since, stop, LIVE_PREFIX + filler_title, "", ""
        )
        marked.append(filler)
        marked.sort(key=lambda o: o.start)
    return marked


def mark_live(
    db: Database,
    tenant_id: int,
    channel_id: int,
    live: bool,
    *,
    now: int,
    on_change: Callable[[int], None] | None = None,
) -> None:
    """Record that a push is (or is no longer) live on ``channel_id``; the live engine
    calls this when a publisher connects or leaves."""
    with db.transaction() as session:
        channel = session.get(Channel, channel_id)
        if channel is None or channel.tenant_id != tenant_id:
            raise ValueError(f"channel {channel_id} is not a channel of tenant {tenant_id}")
        state = session.get(ChannelLiveState, channel_id)
        if state is None:
            state = ChannelLiveState(tenant_id=tenant_id, channel_id=channel_id)
            session.add(state)
        if live and state.live_since is None:
            state.live_since = now
        elif not live:
            state.live_since = None
    if on_change is not None:
        on_change(tenant_id)


def load_rules(db: Database, tenant_id: int) -> list[ShowRule]:
    with db.session() as session:
        shows = session.scalars(
            select(ScheduledShow).where(ScheduledShow.tenant_id == tenant_id)
        ).all()
        return [ShowRule.of(s) for s in shows]


def to_unix(value: datetime | date) -> int:
    """Unix seconds of an aware datetime (the API takes ISO 8601 with an offset)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(value.timestamp())
    return int(datetime.combine(value, time(), UTC).timestamp())

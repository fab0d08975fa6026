"""Rights records and territory rules without I/O: may this item be distributed, to whom, now?

One vocabulary for the whole feature. A tenant that requires rights (``rights_required``)
distributes an item only while one of its records is ``active`` and ``starts_at <= now <
ends_at``; territory rules (allowed / blocked countries, deny-on-unknown) and blackout
windows narrow that per viewer country. :func:`refusal` is the single decision, called by
admission (every play) and, country-less, by the catalogue filter (what lists show).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class RightsItem(enum.StrEnum):
    channel = "channel"
    movie = "movie"
    series = "series"


class RightsStatus(enum.StrEnum):
    active = "active"
    suspended = "suspended"
    revoked = "revoked"


class BlackoutAction(enum.StrEnum):
    slate = "slate"  # viewers in the territory see the blackout slate (TS) or are refused
    hidden = "hidden"  # also absent from the lists for everyone while it lasts


class Refusal(enum.StrEnum):
    """The reason code each surface renders (player API, playlists, stream URLs)."""

    rights_missing = "RIGHTS_MISSING"
    rights_expired = "RIGHTS_EXPIRED"
    rights_territory = "RIGHTS_TERRITORY"
    geo_blocked = "GEO_BLOCKED"
    geo_unknown = "GEO_UNKNOWN"
    blackout = "BLACKOUT"


EXPIRY_ALERT_DAYS = (30, 7, 1)


@dataclass(frozen=True, slots=True)
class Licence:
    """One rights record, as the decision needs it (unix seconds; ``ends`` None = open)."""

    starts: float
    ends: float | None
    territories: frozenset[str]  # ISO 3166 alpha-2; empty = worldwide
    status: RightsStatus = RightsStatus.active

    def valid_at(self, now: float) -> bool:
        return (
            self.status is RightsStatus.active
            and self.starts <= now
            and (self.ends is None or now < self.ends)
        )


@dataclass(frozen=True, slots=True)
class Blackout:
    starts: float
    ends: float
    countries: frozenset[str]  # empty = everywhere
    action: BlackoutAction = BlackoutAction.slate

    def covers(self, now: float, country: str | None) -> bool:
        if not self.starts <= now < self.ends:
            return False
        return not self.countries or (country is not None and country in self.countries)


@dataclass(frozen=True, slots=True)
class ItemRules:
    """Everything that gates one item: its records, territory rule and blackouts."""

    licences: tuple[Licence, ...] = ()
    allowed: frozenset[str] = frozenset()  # empty = every country not blocked
    blocked: frozenset[str] = frozenset()
    deny_unknown: bool = False
    blackouts: tuple[Blackout, ...] = ()

    @property
    def territorial(self) -> bool:
        """Whether a viewer's country matters for this item (if not, no GeoIP lookup)."""
        return bool(
            self.allowed
            or self.blocked
            or self.deny_unknown
            or any(b.countries for b in self.blackouts)
            or any(lic.territories for lic in self.licences)
        )

    def boundaries(self) -> Iterable[float]:
        """Instants when what lists show may change (the catalogue is rebuilt then)."""
        for lic in self.licences:
            yield lic.starts
            if lic.ends is not None:
                yield lic.ends
        for b in self.blackouts:
            if b.action is BlackoutAction.hidden:
                yield b.starts
                yield b.ends


NO_RULES = ItemRules()


@dataclass(frozen=True, slots=True)
class Viewer:
    """Where a play comes from: ``country`` None = unknown (no GeoIP answer)."""

    country: str | None


def refusal(
    rules: ItemRules, *, rights_required: bool, now: float, viewer: Viewer | None
) -> Refusal | None:
    """Why this viewer may not have this item now, or None.

    ``viewer`` None means "no viewer in particular" (the catalogue): only rights validity and
    ``hidden`` blackouts that cover everyone count there; territory is decided per play.
    Order: rights (the licence must exist and be current), then territory, then blackouts.
    """
    if rights_required:
        if not rules.licences:
            return Refusal.rights_missing
        current = [lic for lic in rules.licences if lic.valid_at(now)]
        if not current:
            return Refusal.rights_expired
        if viewer is not None and not any(
            not lic.territories or (viewer.country in lic.territories) for lic in current
        ):
            return Refusal.rights_territory
    if viewer is None:
        hidden = any(
            b.action is BlackoutAction.hidden and not b.countries and b.covers(now, None)
            for b in rules.blackouts
        )
        return Refusal.blackout if hidden else None
    country = viewer.country
    if country is None and rules.deny_unknown:
        return Refusal.geo_unknown
    if country is not None and (
        country in rules.blocked or (rules.allowed and country not in rules.allowed)
    ):
        return Refusal.geo_blocked
    if any(b.covers(now, country) for b in rules.blackouts):
        return Refusal.blackout
    return None


def normalise_countries(codes: Iterable[str]) -> list[str]:
    """Upper-case ISO 3166-1 alpha-2 codes, sorted, deduplicated; ValueError names a bad one."""
    found = set()
    for code in codes:
        value = code.strip().upper()
        if len(value) != 2 or not value.isalpha() or not value.isascii():
            raise ValueError(f"not an ISO 3166 alpha-2 country code: {code!r}")
        found.add(value)
    return sorted(found)


def expiry_bucket(ends: float | None, now: float) -> int | None:
    """The alert threshold (30, 7 or 1 days) a record ending at ``ends`` falls in, if any."""
    if ends is None or ends <= now:
        return None
    left = ends - now
    for days in sorted(EXPIRY_ALERT_DAYS):
        if left <= days * 86400:
            return days
    return None

"""Rights and territory gating for playback: the one place both admission and the catalogue
ask "may this item be distributed (to this viewer) now?" (decision in trust/rights.py).

* Admission (:class:`RightsGate`, called by ``PlaybackAccess.authorize``) raises
  :class:`ContentRefused`, a ``LineRefused`` with the reason code every surface renders.
  A tenant's rules are loaded once and cached until its ``rights`` or ``lines`` topic
  changes; a viewer's country is looked up only for items whose rules need one.
* The catalogue (:func:`gated_section`, called by the catalogue cache on every section it
  loads) drops items without a current record (and under a ``hidden`` blackout), so they are
  absent from the player API, playlists and the guide. Sections are cached until the catalog
  changes, so the next instant at which validity flips is noted in :data:`CATALOG_CLOCK`;
  the live engine's once-a-second tick publishes ``catalog`` for a tenant when it passes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from palinsesto.accounts.models import Tenant
from palinsesto.cluster.events import ChangeEvents
from palinsesto.db import Database
from palinsesto.panel.playback.lines import LineRefused
from palinsesto.trust.geo import CountryLookup
from palinsesto.trust.models import BlackoutWindow, RightsRecord, TerritoryRule
from palinsesto.trust.rights import (
    NO_RULES,
    Blackout,
    BlackoutAction,
    ItemRules,
    Licence,
    Refusal,
    RightsItem,
    RightsStatus,
    Viewer,
    refusal,
)

RIGHTS_TOPIC = "rights"
# Catalogue kind → the item type its records are filed under.
KIND_ITEMS = {"live": RightsItem.channel, "vod": RightsItem.movie, "series": RightsItem.series}


class ContentRefused(LineRefused):
    """The line may watch, but this item may not be distributed to it now (451)."""

    def __init__(self, reason: Refusal, tenant_id: int, item_id: int) -> None:
        super().__init__(f"{reason.value}: item {item_id}")
        self.code = reason.value
        self.reason = reason
        self.tenant_id = tenant_id


class NotLoaded(LookupError):
    """The tenant's rules are not in memory (the caller retries off the event loop)."""


@dataclass(frozen=True, slots=True)
class TenantRights:
    required: bool
    items: dict[tuple[RightsItem, int], ItemRules] = field(default_factory=dict)

    def rules(self, item: RightsItem, item_id: int) -> ItemRules:
        return self.items.get((item, item_id), NO_RULES)

    def next_change(self, now: float) -> float | None:
        """The next instant after ``now`` at which what lists show may change."""
        later = [t for r in self.items.values() for t in r.boundaries() if t > now]
        return min(later) if later else None


def _ts(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


def load_tenant_rights(session: Session, tenant_id: int) -> TenantRights:
    """Every record, territory rule and blackout of a tenant, grouped by item."""
    required = bool(session.scalar(select(Tenant.rights_required).where(Tenant.id == tenant_id)))
    licences: dict[tuple[RightsItem, int], list[Licence]] = {}
    for rec in session.scalars(select(RightsRecord).where(RightsRecord.tenant_id == tenant_id)):
        licences.setdefault((RightsItem(rec.item_type), rec.item_id), []).append(
            Licence(
                rec.starts_at.timestamp(),
                _ts(rec.ends_at),
                frozenset(rec.territories or ()),
                RightsStatus(rec.status),
            )
        )
    blackouts: dict[tuple[RightsItem, int], list[Blackout]] = {}
    for win in session.scalars(select(BlackoutWindow).where(BlackoutWindow.tenant_id == tenant_id)):
        blackouts.setdefault((RightsItem(win.item_type), win.item_id), []).append(
            Blackout(
                win.starts_at.timestamp(),
                win.ends_at.timestamp(),
                frozenset(win.countries or ()),
                BlackoutAction(win.action),
            )
        )
    territory = {
        (RightsItem(t.item_type), t.item_id): t
        for t in session.scalars(select(TerritoryRule).where(TerritoryRule.tenant_id == tenant_id))
    }
    items: dict[tuple[RightsItem, int], ItemRules] = {}
    for key in {*licences, *blackouts, *territory}:
        rule = territory.get(key)
        items[key] = ItemRules(
            tuple(licences.get(key, ())),
            frozenset(rule.allowed or ()) if rule else frozenset(),
            frozenset(rule.blocked or ()) if rule else frozenset(),
            bool(rule.deny_unknown) if rule else False,
            tuple(blackouts.get(key, ())),
        )
    return TenantRights(required, items)


class CatalogClock:
    """When each tenant's cached catalogue next goes stale because of time alone.

    Keyed by the database (its engine) as well as the tenant: tests run several servers,
    each with its own tenant 1, in one process."""

    def __init__(self) -> None:
        self._due: dict[tuple[object, int], float] = {}
        self._lock = threading.Lock()

    def note(self, database: object, tenant_id: int, when: float | None) -> None:
        if when is None:
            return
        with self._lock:
            current = self._due.get((database, tenant_id))
            if current is None or when < current:
                self._due[(database, tenant_id)] = when

    def due(self, database: object, now: float) -> list[int]:
        """Tenants whose next change has passed (forgotten: the rebuild notes the next)."""
        with self._lock:
            passed = [k for k, when in self._due.items() if k[0] is database and when <= now]
            for key in passed:
                del self._due[key]
        return [tenant_id for _, tenant_id in passed]


CATALOG_CLOCK = CatalogClock()


def gated_section(kind: str, session: Session, tenant_id: int, section: Any) -> Any:
    """``section`` without the items the tenant may not distribute now (catalogue builders
    call this on every section they load)."""
    rights = load_tenant_rights(session, tenant_id)
    now = time.time()
    CATALOG_CLOCK.note(session.get_bind(), tenant_id, rights.next_change(now))
    item = KIND_ITEMS[kind]
    if not rights.required and not rights.items:
        return section
    keep = [
        i
        for i in section.items
        if refusal(rights.rules(item, i.id), rights_required=rights.required, now=now, viewer=None)
        is None
    ]
    if len(keep) == len(section.items):
        return section
    return replace(
        section,
        items=keep,
        used_category_ids=frozenset(_category_ids(keep)),
        by_id={i.id: i for i in keep},
    )


def _category_ids(items: Iterable[Any]) -> Iterable[int]:
    for item in items:
        ids = getattr(item, "category_ids", None)
        if ids is None:
            ids = () if item.category_id is None else (item.category_id,)
        yield from ids


class RightsGate:
    """Admission's rights and territory check, from memory."""

    def __init__(
        self, db: Database, events: ChangeEvents, geo: CountryLookup | None = None
    ) -> None:
        self._db, self._events, self.geo = db, events, geo
        self._tenants: dict[int, tuple[tuple[int, int], TenantRights]] = {}
        self._lock = threading.Lock()

    def _version(self, tenant_id: int) -> tuple[int, int]:
        return (
            self._events.version(tenant_id, RIGHTS_TOPIC),
            self._events.version(tenant_id, "lines"),  # rights_required lives on the tenant
        )

    def tenant(self, tenant_id: int, *, cached_only: bool = False) -> TenantRights:
        version = self._version(tenant_id)
        hit = self._tenants.get(tenant_id)
        if hit is not None and hit[0] == version:
            return hit[1]
        if cached_only:
            raise NotLoaded(f"rights of tenant {tenant_id}")
        with self._db.session() as session:
            found = load_tenant_rights(session, tenant_id)
        with self._lock:
            if len(self._tenants) > 10_000:
                self._tenants.clear()
            self._tenants[tenant_id] = (version, found)
        return found

    def country(self, ip: str) -> str | None:
        return self.geo.country(ip) if self.geo is not None else None

    def check(
        self,
        tenant_id: int,
        item: RightsItem,
        item_id: int,
        ip: str,
        now: float,
        *,
        cached_only: bool = False,
    ) -> None:
        """Raise :class:`ContentRefused` if ``item`` may not go to the viewer at ``ip``."""
        rights = self.tenant(tenant_id, cached_only=cached_only)
        rules = rights.rules(item, item_id)
        if not rights.required and rules is NO_RULES:
            return
        viewer = Viewer(self.country(ip) if rules.territorial else None)
        reason = refusal(rules, rights_required=rights.required, now=now, viewer=viewer)
        if reason is not None:
            raise ContentRefused(reason, tenant_id, item_id)

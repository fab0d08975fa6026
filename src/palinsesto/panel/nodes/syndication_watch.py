"""Syndicated channels on streaming nodes: the partners' viewers, cluster-wide.

A partner's play of another panel's channel is admitted into its syndication's slot
group (control.py, cluster/session_slots.py), and into its offer's when the offer caps all
its partners together, whichever replica admits it and whichever of the owner's nodes
serves it. The watch reads the syndications' groups only: an offer's group is a cap, its
viewers are each counted already in their own partner's audience. Every replica runs this
watch; each step is safe on all of them at once:

* **cut**: viewers of a syndication that is no longer running (revoked, withdrawn,
  cancelled, its term over) are ended like the admin's "end session" (their slots freed,
  their nodes told in the reply to their next heartbeat), with the "ended" slate. Those
  of a syndication whose owner's panel is suspended are ended too, without it (the
  syndication stays; admission refuses them until the owner is resumed, as the
  all-in-one's engine cuts them). A catalogue change (what ending a syndication
  publishes) wakes the watch at once; otherwise it looks every :data:`TICK_SECONDS`.
* **audience**: each group's count now, and viewer-seconds from the store's group ticks
  (each interval counted by the one replica whose tick closed it), added to the
  syndication's row every :data:`FLUSH_SECONDS`. Counts only: nothing of a viewer leaves
  the partner's tenant.
* **term sweep**: ``end_expired`` (set by the application where no local engine runs it)
  ends syndications whose term passed; its query skips rows another replica is ending.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime

from sqlalchemy import or_, select

from palinsesto.accounts.models import Tenant, TenantStatus
from palinsesto.catalog.models import Syndication, SyndicationOffer, SyndicationStatus
from palinsesto.catalog.syndication import add_audience
from palinsesto.cluster.events import ChangeEvents
from palinsesto.cluster.session_slots import SessionSlots
from palinsesto.db import Database
from palinsesto.panel.playback.syndication_audience import SyndicationAudience

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0
FLUSH_SECONDS = 10.0
SWEEP_SECONDS = 2.0  # how late an expired term may leave a partner's catalogue
GROUP_PREFIX = "syn:"
OFFER_GROUP_PREFIX = "offer:"


def syndication_group(syndication_id: int) -> str:
    """The slot group of a syndication's partner viewers (its offer's cap counts it)."""
    return f"{GROUP_PREFIX}{syndication_id}"


def offer_group(offer_id: int) -> str:
    """The slot group of all partners' viewers of an offer (its ``max_viewers_total``)."""
    return f"{OFFER_GROUP_PREFIX}{offer_id}"


def _syndication_ids(groups: Iterable[str]) -> dict[int, str]:
    """The syndications' groups among ``groups`` (others, the offers', are left out)."""
    found = {}
    for group in groups:
        if group.startswith(GROUP_PREFIX) and group[len(GROUP_PREFIX) :].isdigit():
            found[int(group[len(GROUP_PREFIX) :])] = group
    return found


class _ClusterCounts:
    """The last tick's counts, as :class:`SyndicationAudience` reads them."""

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}

    def syndication_counts(self) -> dict[int, int]:
        return dict(self.counts)


class SyndicationWatch:
    def __init__(
        self,
        db: Database,
        events: ChangeEvents,
        slots: SessionSlots,
        end_session: Callable[[int, int | None], Awaitable[bool]],
        pause_session: Callable[[int, int | None], Awaitable[bool]] | None = None,
    ) -> None:
        """``end_session`` ends a viewer of a syndication that ended (with its slate);
        ``pause_session`` one of a syndication whose owner is suspended (default: alike)."""
        self._db, self._slots, self._end_session = db, slots, end_session
        self._pause_session = pause_session or end_session
        # Ends syndications whose term passed; set by the application (panel mode).
        self.end_expired: Callable[[], object] | None = None
        self._counts = _ClusterCounts()
        self._audience = SyndicationAudience(self._counts)
        self._flushed_at = time.monotonic()
        self._swept_at = 0.0
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.cut_total = 0  # sessions this replica ended (diagnostics, tests)
        events.subscribe(self._on_change)

    # ---- what the owner's audience page reads (from a worker thread) ----

    def viewers_now(self, syndication_id: int) -> int:
        """The partner's viewers on nodes at the last tick (at most a second old)."""
        return self._counts.counts.get(syndication_id, 0)

    def unrecorded(self, syndication_id: int) -> tuple[int, int]:
        """(peak, seconds) this replica measured and has not stored yet."""
        return self._audience.unrecorded(syndication_id)

    # ---- the loop ----

    def _on_change(self, tenant_id: int, topic: str) -> None:
        # Ending a syndication changes the partner's catalogue: look now, not next tick.
        loop, wake = self._loop, self._wake
        if topic.startswith("catalog") and loop is not None and wake is not None:
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:  # the loop closed (shutting down)
                pass

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), TICK_SECONDS)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.tick(time.time())
            except Exception:  # noqa: BLE001 - the store or the database is away: next tick
                log.exception("syndication watch failed")

    async def tick(self, now: float) -> None:
        if self.end_expired is not None and now - self._swept_at >= SWEEP_SECONDS:
            self._swept_at = now
            await asyncio.to_thread(self.end_expired)
        tick = await self._slots.group_tick(now)
        held = _syndication_ids(tick.counts)
        self._counts.counts = {sid: tick.counts[group] for sid, group in held.items()}
        self._audience.integrate(
            tick.seconds,
            {sid: tick.before[g] for sid, g in _syndication_ids(tick.before).items()},
            self._counts.counts,
        )
        if held:
            running = await asyncio.to_thread(self._running, list(held))
            for syndication_id, group in held.items():
                owner_active = running.get(syndication_id)
                if owner_active is None:
                    await self._cut(group, now, self._end_session, "is over")
                elif not owner_active:
                    await self._cut(group, now, self._pause_session, "'s owner is suspended")
        if time.monotonic() - self._flushed_at >= FLUSH_SECONDS:
            await self.flush()

    async def _cut(
        self,
        group: str,
        now: float,
        end: Callable[[int, int | None], Awaitable[bool]],
        why: str,
    ) -> None:
        for session_id in await self._slots.group_sessions(group, now):
            if await end(session_id, None):
                self.cut_total += 1
        log.info("syndication %s%s: its partner's viewers were cut", group, why)

    def _running(self, syndication_ids: list[int]) -> dict[int, bool]:
        """Which of these syndications are running now (active, term not over), each
        with whether its owner's panel is active (a suspended one plays to no partner)."""
        now = datetime.now(UTC)
        with self._db.session() as session:
            rows = session.execute(
                select(Syndication.id, Tenant.status)
                .join(SyndicationOffer, SyndicationOffer.id == Syndication.offer_id)
                .join(Tenant, Tenant.id == Syndication.owner_tenant_id)
                .where(
                    Syndication.id.in_(syndication_ids),
                    Syndication.status == SyndicationStatus.active,
                    or_(SyndicationOffer.until.is_(None), SyndicationOffer.until > now),
                )
            ).all()
            return {int(sid): status is TenantStatus.active for sid, status in rows}

    async def flush(self) -> None:
        """Store the measured audience (kept for the next attempt if the database is away)."""
        self._flushed_at = time.monotonic()
        figures = self._audience.take()
        if not figures:
            return
        try:
            await asyncio.to_thread(self._store, figures)
        except Exception:  # noqa: BLE001 - figures kept for next time
            self._audience.give_back(figures)
            log.exception("syndication audience of the nodes not recorded")

    def _store(self, figures: dict[int, tuple[int, int]]) -> None:
        with self._db.transaction() as session:
            add_audience(session, figures)

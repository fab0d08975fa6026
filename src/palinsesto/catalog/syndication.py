"""Syndication: one tenant's channel carried, with permission, in other tenants' catalogues.

Tenant A (the owner) offers channel X, privately to tenant B or publicly in the platform's
directory, on terms (until when, in which countries, how many of B's viewers at once,
whether B may sell it in paid bouquets). B requests it; A approves (or the offer approves
itself). B then gets an *entry*: a channel row of its own, with no sources and no stream
key, that it names, numbers, files in categories and places in bouquets like any other.
Playing the entry plays X itself (palinsesto.panel.playback.access resolves it), so one
ingest and one ffmpeg serve both panels.

Ending a syndication (A revokes, withdraws the offer, the term passes, B cancels) deletes
the entry, so X leaves B's player API, playlists and guide with the next catalogue
version, and the live engine cuts B's running viewers.

A private offer is addressed by the partner's *partner code* (accounts/partner_codes.py),
which the partner hands out itself: no panel learns another's number or existence by
guessing. The viewer cap is per partner (``max_viewers``) and/or for all partners of the
offer together (``max_viewers_total``); admission counts both where it counts viewers.

When a panel goes away (the platform deletes it), every syndication it is a side of ends
first (:func:`close_for_tenant`): its entries leave partners' catalogues, both logs say so.
A suspended owner keeps its syndications (nothing is deleted, resuming restores them) but
its channels play to no partner meanwhile (panel/playback/access.py refuses, the engine
cuts running partner viewers with the offline slate).

Every function takes the tenant it acts for and reads rows of that tenant only; the
other side is reached through the syndication row, never by an id the caller sends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from palinsesto.accounts.models import Package, Tenant, TenantStatus
from palinsesto.accounts.partner_codes import normalise_partner_code
from palinsesto.catalog.bouquets import forget_item
from palinsesto.catalog.channels import check_channel_limit
from palinsesto.catalog.models import (
    BouquetItem,
    Channel,
    ChannelMode,
    ItemType,
    OfferStatus,
    Syndication,
    SyndicationOffer,
    SyndicationStatus,
)
from palinsesto.errors import (
    AlreadyExists,
    InvalidValue,
    NotPermitted,
    OutOfScope,
    PlanLimitReached,
)
from palinsesto.trust.rights import normalise_countries

# A request still open, or a syndication running: one of these per offer and partner.
LIVE_STATUSES = (SyndicationStatus.requested, SyndicationStatus.active)


@dataclass(frozen=True, slots=True)
class OfferTerms:
    partner_code: str | None  # the partner's code (as typed); None: public, in the directory
    until: datetime | None
    territories: Sequence[str]
    max_viewers: int | None  # each partner's viewers at once
    paid_bouquets: bool
    auto_approve: bool
    max_viewers_total: int | None = None  # all partners' viewers at once, together


def offer_is_current(offer: SyndicationOffer, now: datetime) -> bool:
    return offer.status is OfferStatus.open and (offer.until is None or offer.until > now)


# ---- the owner's side ----


def make_offer(
    session: Session, tenant_id: int, channel_id: int, terms: OfferTerms, now: datetime
) -> SyndicationOffer:
    """Offer ``channel_id`` (a channel of ``tenant_id``) on ``terms``; 422 naming the field."""
    channel = session.get(Channel, channel_id)
    if channel is None or channel.tenant_id != tenant_id:
        raise InvalidValue(f"No channel {channel_id} in this panel.", "channel_id")
    if channel.syndication_id is not None:
        raise InvalidValue(
            "This channel is another panel's; only its owner offers it.", "channel_id"
        )
    partner = None
    if terms.partner_code is not None:
        partner = partner_by_code(session, tenant_id, terms.partner_code)
    if (
        terms.max_viewers is not None
        and terms.max_viewers_total is not None
        and terms.max_viewers > terms.max_viewers_total
    ):
        raise InvalidValue(
            "Each partner's cap cannot be above the total for all partners.", "max_viewers"
        )
    if terms.until is not None and terms.until <= now:
        raise InvalidValue("The end of the term must be in the future.", "until")
    try:
        territories = normalise_countries(terms.territories)
    except ValueError as exc:
        raise InvalidValue(str(exc), "territories") from None
    offer = SyndicationOffer(
        tenant_id=tenant_id,
        channel_id=channel_id,
        partner_tenant_id=partner,
        until=terms.until,
        territories=territories,
        max_viewers=terms.max_viewers,
        max_viewers_total=terms.max_viewers_total,
        paid_bouquets=terms.paid_bouquets,
        auto_approve=terms.auto_approve,
    )
    session.add(offer)
    session.flush()
    return offer


def partner_by_code(session: Session, tenant_id: int, typed: str) -> int:
    """The panel whose partner code is ``typed``: 422 on field ``partner_code`` otherwise.

    An unknown code, a malformed one and that of a panel not active now get the same
    answer, so a code says nothing about panels its typist was not given the code of."""
    code = normalise_partner_code(typed)
    found = None
    if code is not None:
        found = session.execute(
            select(Tenant.id, Tenant.status).where(Tenant.partner_code == code)
        ).first()
    if found is not None and found[0] == tenant_id:
        raise InvalidValue(
            "This is your own panel's partner code: use the code of the panel to offer to.",
            "partner_code",
        )
    if found is None or found[1] is not TenantStatus.active:
        raise InvalidValue(
            "No panel takes offers with this partner code. Ask the partner for the code "
            "its Directory page shows.",
            "partner_code",
        )
    return int(found[0])


def offer_of(session: Session, tenant_id: int, offer_id: int) -> SyndicationOffer:
    offer = session.get(SyndicationOffer, offer_id)
    if offer is None or offer.tenant_id != tenant_id:
        raise OutOfScope(f"Offer {offer_id} not found.")
    return offer


def withdraw_offer(session: Session, offer: SyndicationOffer, now: datetime) -> list[Syndication]:
    """Close the offer and revoke what it granted (requests are refused)."""
    offer.status = OfferStatus.withdrawn
    ended = []
    for syndication in session.scalars(
        select(Syndication).where(
            Syndication.offer_id == offer.id, Syndication.status.in_(LIVE_STATUSES)
        )
    ):
        if syndication.status is SyndicationStatus.requested:
            decide(session, syndication, approve=False, now=now)
        else:
            end(session, syndication, SyndicationStatus.revoked, "the offer was withdrawn", now)
        ended.append(syndication)
    return ended


def as_owner(session: Session, tenant_id: int, syndication_id: int) -> Syndication:
    found = session.get(Syndication, syndication_id)
    if found is None or found.owner_tenant_id != tenant_id:
        raise OutOfScope(f"Syndication {syndication_id} not found.")
    return found


def as_partner(session: Session, tenant_id: int, syndication_id: int) -> Syndication:
    found = session.get(Syndication, syndication_id)
    if found is None or found.partner_tenant_id != tenant_id:
        raise OutOfScope(f"Syndication {syndication_id} not found.")
    return found


def decide(
    session: Session, syndication: Syndication, *, approve: bool, now: datetime
) -> Channel | None:
    """Approve a request (the partner's entry is made and returned) or refuse it."""
    if syndication.status is not SyndicationStatus.requested:
        raise AlreadyExists(f"This request is {syndication.status.value} already.", "status")
    syndication.decided_at = now
    if not approve:
        syndication.status = SyndicationStatus.refused
        return None
    offer = session.get(SyndicationOffer, syndication.offer_id)
    if offer is None or not offer_is_current(offer, now):
        raise InvalidValue("The offer is withdrawn or its term is over.", "offer_id")
    source = session.get(Channel, syndication.channel_id)
    if source is None:
        raise InvalidValue("The offered channel no longer exists.", "channel_id")
    try:
        check_channel_limit(session, syndication.partner_tenant_id)
    except PlanLimitReached:  # said without the partner's figures: they are its own
        raise PlanLimitReached(
            "The partner's plan allows no more channels; it must make room first.",
            "max_channels",
        ) from None
    syndication.status = SyndicationStatus.active
    entry = Channel(
        tenant_id=syndication.partner_tenant_id,
        name=source.name,
        logo=source.logo,
        epg_channel_id=source.epg_channel_id,
        sources=[],
        mode=ChannelMode.on_demand,
        transcode_profile="copy",
        archive_days=0,
        enabled=True,
        stream_key=None,
        public_watch=False,
        syndication_id=syndication.id,
    )
    session.add(entry)
    session.flush()
    return entry


def end(
    session: Session,
    syndication: Syndication,
    status: SyndicationStatus,
    reason: str,
    now: datetime,
) -> int | None:
    """End a running syndication: its entry leaves the partner's catalogue and bouquets.

    Returns the entry's id (None if it had none)."""
    if syndication.status is not SyndicationStatus.active:
        raise AlreadyExists(f"This syndication is {syndication.status.value}.", "status")
    syndication.status = status
    syndication.ended_at = now
    syndication.end_reason = reason[:200]
    entry = entry_of(session, syndication)
    if entry is None:
        return None
    entry_id = entry.id
    forget_item(session, ItemType.channel, entry_id)
    session.delete(entry)
    session.flush()
    return entry_id


def entry_of(session: Session, syndication: Syndication) -> Channel | None:
    return session.scalar(
        select(Channel).where(
            Channel.syndication_id == syndication.id,
            Channel.tenant_id == syndication.partner_tenant_id,
        )
    )


def end_expired(session: Session, now: datetime) -> list[Syndication]:
    """End every running syndication whose offer's term has passed (a periodic sweep)."""
    stmt = (
        select(Syndication)
        .join(SyndicationOffer, SyndicationOffer.id == Syndication.offer_id)
        .where(
            Syndication.status == SyndicationStatus.active,
            SyndicationOffer.until.is_not(None),
            SyndicationOffer.until <= now,
        )
        # Panel replicas sweep at once: each ends the rows no other is ending (PostgreSQL;
        # SQLite has one writer anyway).
        .with_for_update(of=Syndication, skip_locked=True)
    )
    ended = list(session.scalars(stmt))
    for syndication in ended:
        end(session, syndication, SyndicationStatus.ended, "the term is over", now)
    return ended


def close(
    session: Session, syndication: Syndication, *, by_owner: bool, reason: str, now: datetime
) -> str:
    """End a live syndication (requested or running) because something it stands on goes
    away: a request is refused (the owner's side went) or cancelled (the partner's); a
    running one is revoked or cancelled, its entry removed. Returns the audit action."""
    if syndication.status is SyndicationStatus.requested:
        if by_owner:
            decide(session, syndication, approve=False, now=now)
        else:
            syndication.status = SyndicationStatus.cancelled
            syndication.decided_at = now
        syndication.ended_at = now
        syndication.end_reason = reason[:200]
        return "refuse" if by_owner else "cancel"
    status = SyndicationStatus.revoked if by_owner else SyndicationStatus.cancelled
    end(session, syndication, status, reason, now)
    return "revoke" if by_owner else "cancel"


def end_for_channel(
    session: Session, channel: Channel, now: datetime
) -> list[tuple[Syndication, str]]:
    """The owner deletes an offered channel: every request for it is refused and every
    syndication of it ends first. Returns each with its audit action."""
    live = list(
        session.scalars(
            select(Syndication).where(
                Syndication.channel_id == channel.id,
                Syndication.owner_tenant_id == channel.tenant_id,
                Syndication.status.in_(LIVE_STATUSES),
            )
        )
    )
    reason = "the channel was deleted"
    return [(s, close(session, s, by_owner=True, reason=reason, now=now)) for s in live]


def close_for_tenant(
    session: Session, tenant_id: int, now: datetime
) -> list[tuple[Syndication, str]]:
    """The platform deletes panel ``tenant_id``: every syndication it is a side of ends
    first, so no partner keeps an entry that plays nothing and no owner a partner that is
    gone. Returns each with its audit action (written by the caller, in both logs)."""
    live = list(
        session.scalars(
            select(Syndication)
            .where(
                or_(
                    Syndication.owner_tenant_id == tenant_id,
                    Syndication.partner_tenant_id == tenant_id,
                ),
                Syndication.status.in_(LIVE_STATUSES),
            )
            .order_by(Syndication.id)
        )
    )
    closed = []
    for syndication in live:
        by_owner = syndication.owner_tenant_id == tenant_id
        side = "owner's" if by_owner else "partner's"
        reason = f"the {side} panel was deleted"
        closed.append((syndication, close(session, syndication, by_owner=by_owner,
                                          reason=reason, now=now)))  # fmt: skip
    return closed


def running_of_owner(session: Session, tenant_id: int) -> list[Syndication]:
    """The running syndications of ``tenant_id``'s channels (its suspension pauses them)."""
    return list(
        session.scalars(
            select(Syndication)
            .where(
                Syndication.owner_tenant_id == tenant_id,
                Syndication.status == SyndicationStatus.active,
            )
            .order_by(Syndication.id)
        )
    )


# ---- the partner's side ----


def directory(session: Session, tenant_id: int, now: datetime) -> list[SyndicationOffer]:
    """Offers ``tenant_id`` may request: public ones of other panels and its private ones."""
    stmt = (
        select(SyndicationOffer)
        .join(Tenant, Tenant.id == SyndicationOffer.tenant_id)
        .where(
            SyndicationOffer.tenant_id != tenant_id,
            SyndicationOffer.status == OfferStatus.open,
            or_(SyndicationOffer.until.is_(None), SyndicationOffer.until > now),
            or_(
                SyndicationOffer.partner_tenant_id.is_(None),
                SyndicationOffer.partner_tenant_id == tenant_id,
            ),
            Tenant.status == TenantStatus.active,
        )
        .order_by(SyndicationOffer.id)
    )
    return list(session.scalars(stmt))


def request(
    session: Session, tenant_id: int, offer_id: int, now: datetime
) -> tuple[Syndication, Channel | None]:
    """``tenant_id`` asks for an offer; with auto-approval the entry comes at once."""
    offer = session.get(SyndicationOffer, offer_id)
    visible = offer is not None and offer.partner_tenant_id in (None, tenant_id)
    if offer is None or not visible or offer.tenant_id == tenant_id:
        raise InvalidValue(f"No offer {offer_id} open to this panel.", "offer_id")
    if not offer_is_current(offer, now):
        raise InvalidValue("This offer is withdrawn or its term is over.", "offer_id")
    owner = session.get(Tenant, offer.tenant_id)
    if owner is None or owner.status is not TenantStatus.active:  # as the directory hides it
        raise InvalidValue(f"No offer {offer_id} open to this panel.", "offer_id")
    taken = session.scalar(
        select(func.count(Syndication.id)).where(
            Syndication.partner_tenant_id == tenant_id,
            Syndication.channel_id == offer.channel_id,
            Syndication.status.in_(LIVE_STATUSES),
        )
    )
    if taken:
        raise AlreadyExists("This panel has requested or carries this channel already.", "offer_id")
    syndication = Syndication(
        offer_id=offer.id,
        channel_id=offer.channel_id,
        owner_tenant_id=offer.tenant_id,
        partner_tenant_id=tenant_id,
        status=SyndicationStatus.requested,
        requested_at=now,
    )
    session.add(syndication)
    session.flush()
    entry = decide(session, syndication, approve=True, now=now) if offer.auto_approve else None
    return syndication, entry


def check_not_syndicated(channel: Channel, what: str) -> None:
    """Refuse changing what a partner's entry takes from its owner."""
    if channel.syndication_id is not None:
        raise NotPermitted(
            f"Channel {channel.id} is another panel's channel carried here: its {what} "
            "belongs to its owner. Cancel the syndication to remove it.",
            what,
        )


def check_paid_placement(
    session: Session, tenant_id: int, bouquet_ids: Sequence[int], channel_ids: Sequence[int]
) -> None:
    """Refuse a syndicated entry whose offer forbids paid bouquets in a bouquet that a paid
    package (credits > 0) of ``tenant_id`` sells."""
    if not bouquet_ids or not channel_ids:
        return
    unpaid = set(
        session.scalars(
            select(Channel.id)
            .join(Syndication, Syndication.id == Channel.syndication_id)
            .join(SyndicationOffer, SyndicationOffer.id == Syndication.offer_id)
            .where(
                Channel.tenant_id == tenant_id,
                Channel.id.in_(set(channel_ids)),
                SyndicationOffer.paid_bouquets.is_(False),
            )
        )
    )
    if not unpaid:
        return
    paid = paid_bouquets(session, tenant_id) & set(bouquet_ids)
    if paid:
        raise InvalidValue(
            f"Channel {min(unpaid)} is carried on terms that forbid paid bouquets, and "
            f"bouquet {min(paid)} is sold in a paid package.",
            "items",
        )


def paid_bouquets(session: Session, tenant_id: int) -> set[int]:
    """Bouquets a package of ``tenant_id`` sells for credits."""
    found: set[int] = set()
    for ids in session.scalars(
        select(Package.bouquet_ids).where(
            Package.tenant_id == tenant_id, Package.credits > 0, Package.is_trial.is_(False)
        )
    ):
        found.update(ids or [])
    return found


def check_package_bouquets(session: Session, tenant_id: int, bouquet_ids: Sequence[int]) -> None:
    """A paid package may not sell a bouquet holding an entry whose terms forbid it."""
    if not bouquet_ids:
        return
    held = list(
        session.scalars(
            select(BouquetItem.item_id)
            .join(Channel, Channel.id == BouquetItem.item_id)
            .where(
                BouquetItem.bouquet_id.in_(set(bouquet_ids)),
                BouquetItem.item_type == ItemType.channel,
                Channel.tenant_id == tenant_id,
                Channel.syndication_id.is_not(None),
            )
        )
    )
    if not held:
        return
    for bouquet_id in bouquet_ids:
        channel_ids = list(
            session.scalars(
                select(BouquetItem.item_id).where(
                    BouquetItem.bouquet_id == bouquet_id,
                    BouquetItem.item_type == ItemType.channel,
                    BouquetItem.item_id.in_(held),
                )
            )
        )
        if channel_ids:
            _check_unpaid_in(session, tenant_id, bouquet_id, channel_ids)


def _check_unpaid_in(
    session: Session, tenant_id: int, bouquet_id: int, channel_ids: Sequence[int]
) -> None:
    unpaid = session.scalar(
        select(func.min(Channel.id))
        .join(Syndication, Syndication.id == Channel.syndication_id)
        .join(SyndicationOffer, SyndicationOffer.id == Syndication.offer_id)
        .where(
            Channel.tenant_id == tenant_id,
            Channel.id.in_(set(channel_ids)),
            SyndicationOffer.paid_bouquets.is_(False),
        )
    )
    if unpaid is not None:
        raise InvalidValue(
            f"Bouquet {bouquet_id} holds channel {unpaid}, carried on terms that forbid "
            "paid bouquets.",
            "bouquet_ids",
        )


# ---- playback ----


@dataclass(frozen=True, slots=True)
class Resolved:
    """A partner's entry, resolved to the channel it carries and the terms it plays on."""

    source: Channel
    syndication_id: int
    owner_tenant_id: int
    until: datetime | None
    territories: tuple[str, ...]
    max_viewers: int | None  # this partner's viewers at once
    offer_id: int = 0
    max_viewers_total: int | None = None  # all partners' viewers of the offer at once


def resolve(session: Session, entry: Channel, now: datetime) -> Resolved | None:
    """What ``entry`` plays, or None when its syndication is not running (or X is gone)."""
    if entry.syndication_id is None:
        return None
    syndication = session.get(Syndication, entry.syndication_id)
    if (
        syndication is None
        or syndication.partner_tenant_id != entry.tenant_id
        or syndication.status is not SyndicationStatus.active
    ):
        return None
    offer = session.get(SyndicationOffer, syndication.offer_id)
    source = session.get(Channel, syndication.channel_id)
    if offer is None or source is None or source.tenant_id != syndication.owner_tenant_id:
        return None
    if offer.until is not None and offer.until <= now:
        return None
    return Resolved(
        source,
        syndication.id,
        syndication.owner_tenant_id,
        offer.until,
        tuple(offer.territories or ()),
        offer.max_viewers,
        offer.id,
        offer.max_viewers_total,
    )


def add_audience(session: Session, figures: dict[int, tuple[int, int]]) -> None:
    """Add measured audience: syndication id → (peak viewers in the period, seconds)."""
    for syndication_id, (peak, seconds) in figures.items():
        row = session.get(Syndication, syndication_id)
        if row is None:
            continue
        row.peak_viewers = max(row.peak_viewers or 0, peak)
        row.watch_seconds = (row.watch_seconds or 0) + seconds

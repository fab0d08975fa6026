"""Syndication between panels (catalog/syndication.py): offers, the directory, requests,
approvals, revocations and the owner's per-partner audience.

Every route acts for the caller's own panel (a platform admin, who has none, is refused).
The owner sees its partners as panel names and viewer counts only; the partner sees the
offered channel's name, logo and terms, never its sources, stream key or other channels.
A private offer names its partner by the partner code that panel handed out (its own
Directory page shows it, ``/syndication/partner-code``); no route looks a panel up by
number or lists panels.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from palinsesto.accounts.models import Tenant, TenantStatus
from palinsesto.accounts.partner_codes import LENGTH as CODE_LENGTH
from palinsesto.accounts.partner_codes import new_partner_code
from palinsesto.catalog import syndication as service
from palinsesto.catalog.models import (
    Channel,
    Syndication,
    SyndicationOffer,
    SyndicationStatus,
)
from palinsesto.context import AppContext
from palinsesto.panel.admin.api.changes import audited, mark_changed
from palinsesto.panel.admin.api.deps import Context, DbSession, Manager, Principal, Staff
from palinsesto.panel.admin.api.errors import Forbidden
from palinsesto.panel.admin.api.inputs import InputModel
from palinsesto.panel.admin.api.types import MAX_ID, ObjectId, PathId, QueryId
from palinsesto.panel.admin.syndication_log import record_both
from palinsesto.trust.audit import snapshot
from palinsesto.trust.rights import normalise_countries

router = APIRouter(prefix="/syndication", tags=["syndication"])

LIST_MAX = 1000
VIEWERS_MAX = 1_000_000


def _own_tenant(principal: Principal) -> int:
    if principal.tenant_id is None:
        raise Forbidden("Syndication is between panels: sign in to a panel to offer or request.")
    return principal.tenant_id


def _now() -> datetime:
    return datetime.now(UTC)


def _partner_changed(session: Session, syndication: Syndication) -> None:
    """The partner's catalogue gains or loses the entry: caches and the engine hear it."""
    mark_changed(session, syndication.partner_tenant_id, "catalog.live")
    mark_changed(session, syndication.partner_tenant_id, "channels")


# ---- offers (the owner) ----


class OfferIn(InputModel):
    # InputModel refuses unknown fields: a private offer sent with a misspelt (or the
    # former ``partner_tenant_id``) partner field must not go out as a public one.

    channel_id: ObjectId
    partner_code: str | None = Field(
        default=None,
        min_length=1,
        max_length=CODE_LENGTH + 8,
        description="a private offer to the panel with this partner code (it shows it on "
        "its Directory page); none: public, in the directory",
        examples=["7KQM-3XPA-9DTR"],
    )
    until: AwareDatetime | None = Field(default=None, description="end of the term; none: open")
    territories: list[str] = Field(
        default=[], max_length=300, description="ISO 3166 alpha-2 codes; empty: worldwide"
    )
    max_viewers: int | None = Field(
        default=None, ge=1, le=VIEWERS_MAX, description="each partner's viewers at once"
    )
    max_viewers_total: int | None = Field(
        default=None, ge=1, le=VIEWERS_MAX, description="all partners' viewers at once, together"
    )
    paid_bouquets: bool = Field(default=False, description="the partner may sell it for credits")
    auto_approve: bool = Field(default=False, description="requests are approved at once")

    _codes = field_validator("territories")(normalise_countries)


class OfferOut(BaseModel):
    id: int
    channel_id: int
    channel_name: str
    channel_logo: str
    owner_tenant_id: int
    owner_name: str
    partner_tenant_id: int | None
    partner_name: str | None = Field(description="a private offer's partner panel")
    until: datetime | None
    territories: list[str]
    max_viewers: int | None
    max_viewers_total: int | None
    paid_bouquets: bool
    auto_approve: bool
    status: str
    created_at: datetime


def _offer_out(session: Session, offer: SyndicationOffer) -> OfferOut:
    channel = session.get(Channel, offer.channel_id)
    owner = session.get(Tenant, offer.tenant_id)
    partner = (
        session.get(Tenant, offer.partner_tenant_id)
        if offer.partner_tenant_id is not None
        else None
    )
    return OfferOut(
        id=offer.id,
        channel_id=offer.channel_id,
        channel_name=channel.name if channel is not None else "",
        channel_logo=channel.logo if channel is not None else "",
        owner_tenant_id=offer.tenant_id,
        owner_name=owner.name if owner is not None else "",
        partner_tenant_id=offer.partner_tenant_id,
        partner_name=partner.name if partner is not None else None,
        until=offer.until,
        territories=list(offer.territories or []),
        max_viewers=offer.max_viewers,
        max_viewers_total=offer.max_viewers_total,
        paid_bouquets=offer.paid_bouquets,
        auto_approve=offer.auto_approve,
        status=offer.status.value,
        created_at=offer.created_at,
    )


@router.post("/offers", response_model=OfferOut, status_code=201)
def create_offer(body: OfferIn, principal: Manager, session: DbSession) -> OfferOut:
    """Offer one of this panel's channels, privately to one panel or in the directory."""
    tenant_id = _own_tenant(principal)
    terms = service.OfferTerms(
        body.partner_code,
        body.until,
        body.territories,
        body.max_viewers,
        body.paid_bouquets,
        body.auto_approve,
        body.max_viewers_total,
    )
    offer = service.make_offer(session, tenant_id, body.channel_id, terms, _now())
    audited(session, principal, "create", "syndication_offer", offer)
    return _offer_out(session, offer)


@router.get("/offers", response_model=list[OfferOut])
def list_offers(principal: Staff, session: DbSession, channel_id: QueryId = None) -> list[OfferOut]:
    """This panel's own offers (of one channel with ``channel_id``), newest first."""
    stmt = select(SyndicationOffer).where(SyndicationOffer.tenant_id == _own_tenant(principal))
    if channel_id is not None:
        stmt = stmt.where(SyndicationOffer.channel_id == channel_id)
    rows = session.scalars(stmt.order_by(SyndicationOffer.id.desc()).limit(LIST_MAX))
    return [_offer_out(session, o) for o in rows]


@router.post("/offers/{offer_id}/withdraw", response_model=OfferOut)
def withdraw_offer(offer_id: PathId, principal: Manager, session: DbSession) -> OfferOut:
    """Close the offer: open requests are refused, running syndications revoked."""
    offer = service.offer_of(session, _own_tenant(principal), offer_id)
    before = snapshot(offer)
    for syndication in service.withdraw_offer(session, offer, _now()):
        action = "refuse" if syndication.status is SyndicationStatus.refused else "revoke"
        record_both(session, syndication, action, actor_id=principal.user_id,
                    actor=principal.username, ip=principal.ip,
                    actor_tenant_id=principal.tenant_id)  # fmt: skip
        _partner_changed(session, syndication)
    audited(session, principal, "withdraw", "syndication_offer", offer, before=before)
    return _offer_out(session, offer)


# ---- syndications (both sides) ----


class SyndicationOut(BaseModel):
    id: int
    offer_id: int
    channel_id: int
    channel_name: str
    owner_tenant_id: int
    owner_name: str
    partner_tenant_id: int
    partner_name: str
    status: str
    requested_at: datetime
    decided_at: datetime | None
    ended_at: datetime | None
    end_reason: str
    entry_channel_id: int | None = Field(description="the partner's entry (partner's view)")
    owner_suspended: bool = Field(
        description="the owner's panel is suspended: the channel plays to no partner until "
        "it is resumed (the syndication and the entry stay)"
    )


def _syndication_out(session: Session, row: Syndication, *, partner_view: bool) -> SyndicationOut:
    channel = session.get(Channel, row.channel_id)
    owner = session.get(Tenant, row.owner_tenant_id)
    partner = session.get(Tenant, row.partner_tenant_id)
    entry = service.entry_of(session, row) if partner_view else None
    return SyndicationOut(
        id=row.id,
        offer_id=row.offer_id,
        channel_id=row.channel_id,
        channel_name=channel.name if channel is not None else "",
        owner_tenant_id=row.owner_tenant_id,
        owner_name=owner.name if owner is not None else "",
        partner_tenant_id=row.partner_tenant_id,
        partner_name=partner.name if partner is not None else "",
        status=row.status.value,
        requested_at=row.requested_at,
        decided_at=row.decided_at,
        ended_at=row.ended_at,
        end_reason=row.end_reason,
        entry_channel_id=entry.id if entry is not None else None,
        owner_suspended=owner is not None and owner.status is TenantStatus.suspended,
    )


StatusFilter = Annotated[SyndicationStatus | None, Query(description="only this status")]


@router.get("/partners", response_model=list[SyndicationOut])
def list_partners(
    principal: Staff, session: DbSession, status: StatusFilter = None
) -> list[SyndicationOut]:
    """The owner's side: requests for this panel's channels, and who carries them."""
    return _listed(session, principal, status, partner_view=False)


def _listed(
    session: Session, principal: Principal, status: SyndicationStatus | None, *, partner_view: bool
) -> list[SyndicationOut]:
    """This panel's syndications on one side (``partner_view``: as the partner), newest
    first."""
    side = Syndication.partner_tenant_id if partner_view else Syndication.owner_tenant_id
    stmt = select(Syndication).where(side == _own_tenant(principal))
    if status is not None:
        stmt = stmt.where(Syndication.status == status)
    rows = session.scalars(stmt.order_by(Syndication.id.desc()).limit(LIST_MAX))
    return [_syndication_out(session, r, partner_view=partner_view) for r in rows]


def _owner_move(
    session: Session, principal: Principal, syndication_id: int, action: str
) -> Syndication:
    row = service.as_owner(session, _own_tenant(principal), syndication_id)
    before = snapshot(row)
    now = _now()
    if action == "approve":
        service.decide(session, row, approve=True, now=now)
    elif action == "refuse":
        service.decide(session, row, approve=False, now=now)
    else:
        service.end(session, row, SyndicationStatus.revoked, "revoked by the channel's owner", now)
    record_both(session, row, action, actor_id=principal.user_id, actor=principal.username,
                ip=principal.ip, actor_tenant_id=principal.tenant_id, before=before)  # fmt: skip
    _partner_changed(session, row)
    return row


@router.post("/partners/{syndication_id}/approve", response_model=SyndicationOut)
def approve(syndication_id: PathId, principal: Manager, session: DbSession) -> SyndicationOut:
    """Approve a request: the channel appears in the partner's catalogue, read-only."""
    row = _owner_move(session, principal, syndication_id, "approve")
    return _syndication_out(session, row, partner_view=False)


@router.post("/partners/{syndication_id}/refuse", response_model=SyndicationOut)
def refuse(syndication_id: PathId, principal: Manager, session: DbSession) -> SyndicationOut:
    row = _owner_move(session, principal, syndication_id, "refuse")
    return _syndication_out(session, row, partner_view=False)


@router.post("/partners/{syndication_id}/revoke", response_model=SyndicationOut)
def revoke(syndication_id: PathId, principal: Manager, session: DbSession) -> SyndicationOut:
    """Stop a partner carrying the channel: it leaves their catalogue, viewers are cut."""
    row = _owner_move(session, principal, syndication_id, "revoke")
    return _syndication_out(session, row, partner_view=False)


class AudienceOut(BaseModel):
    syndication_id: int
    channel_id: int
    channel_name: str
    partner_tenant_id: int
    partner_name: str
    status: str
    viewers_now: int = Field(
        description="the partner's viewers watching now (this server and the streaming nodes)"
    )
    peak_viewers: int
    watch_seconds: int


@router.get("/audience", response_model=list[AudienceOut])
def audience(principal: Staff, session: DbSession, ctx: Context) -> list[AudienceOut]:
    """Per partner and channel: viewers now, peak and watch time. Counts only: no line,
    address or player of another panel's viewer is shown."""
    rows = session.scalars(
        select(Syndication)
        .where(
            Syndication.owner_tenant_id == _own_tenant(principal),
            Syndication.status != SyndicationStatus.requested,
            Syndication.status != SyndicationStatus.refused,
        )
        .order_by(Syndication.id.desc())
        .limit(LIST_MAX)
    )
    return [_audience_of(session, ctx, row) for row in rows]


def _audience_of(session: Session, ctx: AppContext, row: Syndication) -> AudienceOut:
    # The partner's viewers on this server's engine, and on the streaming nodes (counted
    # cluster-wide; this replica's figures not stored yet are added).
    live = ctx.services.get("live")
    nodes = ctx.services.get("nodes")
    now, peak, seconds = 0, 0, 0
    for tracker in (
        getattr(live, "syndication_audience", None),
        getattr(nodes, "syndication", None),
    ):
        if tracker is not None:
            now += tracker.viewers_now(row.id)
            unrecorded = tracker.unrecorded(row.id)
            peak, seconds = max(peak, unrecorded[0]), seconds + unrecorded[1]
    channel = session.get(Channel, row.channel_id)
    partner = session.get(Tenant, row.partner_tenant_id)
    return AudienceOut(
        syndication_id=row.id,
        channel_id=row.channel_id,
        channel_name=channel.name if channel is not None else "",
        partner_tenant_id=row.partner_tenant_id,
        partner_name=partner.name if partner is not None else "",
        status=row.status.value,
        viewers_now=now,
        peak_viewers=max(row.peak_viewers, peak, now),
        watch_seconds=row.watch_seconds + seconds,
    )


# ---- the partner's side ----


class PartnerCodeOut(BaseModel):
    partner_code: str = Field(description="give it to a channel's owner to be offered it")
    panel_name: str


@router.get("/partner-code", response_model=PartnerCodeOut)
def partner_code(principal: Staff, session: DbSession) -> PartnerCodeOut:
    """This panel's own partner code: the owner of a channel offers it privately with it."""
    tenant = session.get(Tenant, _own_tenant(principal))
    if tenant is None:  # the principal's panel was deleted meanwhile
        raise Forbidden("This panel no longer exists.")
    return PartnerCodeOut(partner_code=tenant.partner_code, panel_name=tenant.name)


@router.post("/partner-code/replace", response_model=PartnerCodeOut)
def replace_partner_code(principal: Manager, session: DbSession) -> PartnerCodeOut:
    """A new partner code: the old one addresses nothing from now on (offers already made
    with it stay)."""
    tenant = session.get(Tenant, _own_tenant(principal))
    if tenant is None:
        raise Forbidden("This panel no longer exists.")
    before = snapshot(tenant)
    tenant.partner_code = new_partner_code()
    audited(session, principal, "replace_partner_code", "tenant", tenant, before=before)
    return PartnerCodeOut(partner_code=tenant.partner_code, panel_name=tenant.name)


@router.get("/directory", response_model=list[OfferOut])
def directory(principal: Staff, session: DbSession) -> list[OfferOut]:
    """Offers this panel may request: other panels' public ones and those made to it."""
    offers = service.directory(session, _own_tenant(principal), _now())
    return [_offer_out(session, o) for o in offers[:LIST_MAX]]


class RequestIn(InputModel):
    offer_id: int = Field(strict=True, ge=1, le=MAX_ID)


@router.post("/requests", response_model=SyndicationOut, status_code=201)
def make_request(body: RequestIn, principal: Manager, session: DbSession) -> SyndicationOut:
    """Ask to carry an offered channel (approved at once when the offer says so)."""
    row, entry = service.request(session, _own_tenant(principal), body.offer_id, _now())
    record_both(session, row, "request", actor_id=principal.user_id, actor=principal.username,
                ip=principal.ip, actor_tenant_id=principal.tenant_id)  # fmt: skip
    if entry is not None:
        record_both(session, row, "approve", actor_id=None, actor="auto-approval")
        _partner_changed(session, row)
    return _syndication_out(session, row, partner_view=True)


@router.get("/requests", response_model=list[SyndicationOut])
def list_requests(
    principal: Staff, session: DbSession, status: StatusFilter = None
) -> list[SyndicationOut]:
    """The partner's side: what this panel asked for, and what it carries."""
    return _listed(session, principal, status, partner_view=True)


@router.post("/requests/{syndication_id}/cancel", response_model=SyndicationOut)
def cancel(syndication_id: PathId, principal: Manager, session: DbSession) -> SyndicationOut:
    """Withdraw a request, or stop carrying the channel (its entry is removed)."""
    row = service.as_partner(session, _own_tenant(principal), syndication_id)
    before = snapshot(row)
    now = _now()
    if row.status is SyndicationStatus.requested:
        row.status = SyndicationStatus.cancelled
        row.decided_at = now
    else:
        service.end(session, row, SyndicationStatus.cancelled, "cancelled by the partner", now)
    record_both(session, row, "cancel", actor_id=principal.user_id, actor=principal.username,
                ip=principal.ip, actor_tenant_id=principal.tenant_id, before=before)  # fmt: skip
    _partner_changed(session, row)
    return _syndication_out(session, row, partner_view=True)

"""Matching the tenant's channels to guide channels, and the list a person reviews."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from palinsesto.catalog.models import Channel
from palinsesto.epg.guide import EPG_TOPIC
from palinsesto.epg.matching import MatchOutcome, match_channels, set_manual
from palinsesto.epg.models import ChannelMapping, GuideChannel, MappingState, MatchMethod
from palinsesto.panel.admin.api.changes import audited, mark_changed
from palinsesto.panel.admin.api.deps import DbSession, Manager, Principal, Staff
from palinsesto.panel.admin.api.errors import ValidationFailed
from palinsesto.panel.admin.api.inputs import InputModel
from palinsesto.panel.admin.api.pagination import ListParams, Page, paginate, rendered_page
from palinsesto.panel.admin.api.routes.epg_schemas import GuideChannelOut
from palinsesto.panel.admin.api.scope import get_scoped, scoped_select, tenant_for_create
from palinsesto.panel.admin.api.types import ObjectId, PathId, QueryId
from palinsesto.trust.audit import snapshot

router = APIRouter(prefix="/epg", tags=["epg"])


class MappingOut(BaseModel):
    id: int
    channel_id: int
    channel_name: str
    guide_channel: GuideChannelOut
    method: MatchMethod
    confidence: float
    state: MappingState


class ManualMappingIn(InputModel):
    guide_channel_id: ObjectId


def _mapping_out(session: Session, mapping: ChannelMapping) -> MappingOut:
    channel = session.get(Channel, mapping.channel_id)
    guide_channel = session.get(GuideChannel, mapping.guide_channel_id)
    return MappingOut(
        id=mapping.id,
        channel_id=mapping.channel_id,
        channel_name=channel.name if channel else "",
        guide_channel=GuideChannelOut.model_validate(guide_channel),
        method=mapping.method,
        confidence=mapping.confidence,
        state=mapping.state,
    )


@router.get("/mappings", response_model=Page[MappingOut])
def list_mappings(
    principal: Staff,
    session: DbSession,
    params: Annotated[ListParams, Depends()],
    state: MappingState | None = Query(default=None, description="'review' for the review list"),
    channel_id: QueryId = None,
    tenant_id: QueryId = None,
) -> Page[MappingOut]:
    stmt = scoped_select(principal, ChannelMapping, tenant_id)
    if state is not None:
        stmt = stmt.where(ChannelMapping.state == state)
    if channel_id is not None:
        stmt = stmt.where(ChannelMapping.channel_id == channel_id)
    sortable = {"confidence": ChannelMapping.confidence, "channel_id": ChannelMapping.channel_id}
    rows, total = paginate(session, stmt, params, sortable, ChannelMapping.id)
    return rendered_page([_mapping_out(session, r) for r in rows], total, params)


@router.post("/match", response_model=dict[str, int])
def rematch(principal: Manager, session: DbSession, tenant_id: QueryId = None) -> dict[str, int]:
    """Match the tenant's channels to its guide channels again (manual choices stay)."""
    tenant = tenant_for_create(session, principal, tenant_id)
    outcome: MatchOutcome = match_channels(session, tenant)
    mark_changed(session, tenant, EPG_TOPIC)
    mark_changed(session, tenant, "catalog")
    return dict(vars(outcome))


def _decide(
    session: Session, principal: Principal, mapping_id: int, state: MappingState
) -> MappingOut:
    mapping = get_scoped(session, principal, ChannelMapping, mapping_id, label="Mapping")
    before = snapshot(mapping)
    if state is MappingState.accepted:
        # Accepted by a person: it is a manual mapping now, and replaces the others.
        channel = session.get(Channel, mapping.channel_id)
        guide_channel = session.get(GuideChannel, mapping.guide_channel_id)
        assert channel is not None and guide_channel is not None
        confidence = mapping.confidence
        mapping = set_manual(session, mapping.tenant_id, channel, guide_channel)
        mapping.confidence = confidence
        mark_changed(session, mapping.tenant_id, "catalog")
    else:
        mapping.state = state
    audited(session, principal, "update", "epg_mapping", mapping, before=before)
    mark_changed(session, mapping.tenant_id, EPG_TOPIC)
    return _mapping_out(session, mapping)


@router.post("/mappings/{mapping_id}/accept", response_model=MappingOut)
def accept_mapping(mapping_id: PathId, principal: Manager, session: DbSession) -> MappingOut:
    return _decide(session, principal, mapping_id, MappingState.accepted)


@router.post("/mappings/{mapping_id}/reject", response_model=MappingOut)
def reject_mapping(mapping_id: PathId, principal: Manager, session: DbSession) -> MappingOut:
    return _decide(session, principal, mapping_id, MappingState.rejected)


@router.put("/channels/{channel_id}/mapping", response_model=MappingOut)
def choose_mapping(
    channel_id: PathId, body: ManualMappingIn, principal: Manager, session: DbSession
) -> MappingOut:
    """Map a channel to a guide channel by hand ("choose another" in the review list)."""
    channel = get_scoped(session, principal, Channel, channel_id, label="Channel")
    guide_channel = session.get(GuideChannel, body.guide_channel_id)
    if guide_channel is None or guide_channel.tenant_id != channel.tenant_id:
        raise ValidationFailed(
            f"Guide channel {body.guide_channel_id} not found.",
            fields={"guide_channel_id": "No such guide channel in this tenant."},
        )
    mapping = set_manual(session, channel.tenant_id, channel, guide_channel)
    audited(session, principal, "update", "epg_mapping", mapping)
    mark_changed(session, channel.tenant_id, EPG_TOPIC)
    mark_changed(session, channel.tenant_id, "catalog")
    return _mapping_out(session, mapping)


@router.delete("/channels/{channel_id}/mapping", status_code=204)
def remove_mapping(channel_id: PathId, principal: Manager, session: DbSession) -> None:
    """Forget every mapping of the channel, manual ones included (matching starts over)."""
    channel = get_scoped(session, principal, Channel, channel_id, label="Channel")
    for mapping in session.scalars(
        select(ChannelMapping).where(ChannelMapping.channel_id == channel.id)
    ).all():
        audited(session, principal, "delete", "epg_mapping", mapping)
        session.delete(mapping)
    mark_changed(session, channel.tenant_id, EPG_TOPIC)

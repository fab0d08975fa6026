"""Live channels: sources, categories, mode, transcoding, archive and the push stream key."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, BeforeValidator, Field, WithJsonSchema
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from palinsesto.accounts.models import AdminUser, Role
from palinsesto.catalog import channels as service
from palinsesto.catalog import syndication
from palinsesto.catalog.bouquets import check_bouquet_ids, forget_item
from palinsesto.catalog.limits import (
    ARCHIVE_DAYS_MAX,
    CATEGORIES_PER_CHANNEL_MAX,
    CHANNEL_NAME_MAX,
    CHANNEL_NUMBER_MAX,
    EPG_CHANNEL_ID_MAX,
    IMAGE_URL_MAX,
    SOURCE_URL_MAX,
)
from palinsesto.catalog.m3u_sources import append_items
from palinsesto.catalog.models import BouquetItem, Channel, ChannelCategory, ChannelMode, ItemType
from palinsesto.panel.admin.api.changes import audited, mark_changed
from palinsesto.panel.admin.api.deps import DbSession, Manager, Principal, Staff
from palinsesto.panel.admin.api.errors import NotFound, ValidationFailed
from palinsesto.panel.admin.api.identifiers import Label
from palinsesto.panel.admin.api.inputs import InputModel
from palinsesto.panel.admin.api.pagination import ListParams, Page, paginate, rendered_page
from palinsesto.panel.admin.api.patching import apply_changes, patch_changes
from palinsesto.panel.admin.api.scope import (
    get_scoped,
    scoped_select,
    tenant_clause,
    tenant_for_create,
)
from palinsesto.panel.admin.api.types import ObjectId, PathId, QueryId
from palinsesto.panel.admin.syndication_log import record_both
from palinsesto.protocol.profiles import TranscodeProfileName, profile_labels, profile_name
from palinsesto.protocol.sources import SourceKind
from palinsesto.trust.audit import snapshot

router = APIRouter(tags=["channels"])

# What a partner may change on another panel's channel it carries (catalog/syndication.py).
SYNDICATED_EDITABLE = frozenset(
    {"name", "number", "logo", "epg_channel_id", "category_ids", "notes"}
)
OWNERS_BULK = frozenset({"enabled", "transcode_profile"})


def _profile_alias(value: object) -> object:
    """Old spellings (``h264-480p``) still name their profile."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return profile_name(value)
    return value


# An enum in the OpenAPI document, with readable names the panel shows in its select.
ProfileChoice = Annotated[
    TranscodeProfileName,
    BeforeValidator(_profile_alias),
    WithJsonSchema(
        {
            "type": "string",
            "title": "Transcode profile",
            "enum": [p.value for p in TranscodeProfileName],
            "x-enum-labels": profile_labels(),
            "description": "copy remuxes; the others re-encode to H.264 at that height",
        }
    ),
]


def _stored_profile(value: str) -> str:
    try:
        return profile_name(value).value
    except ValueError:
        return value


class Source(InputModel):
    url: str = Field(default="", max_length=SOURCE_URL_MAX, description="none for push_* kinds")
    kind: SourceKind


class SourceOut(BaseModel):
    url: str
    kind: str


class ChannelIn(InputModel):
    name: Label = Field(min_length=1, max_length=CHANNEL_NAME_MAX)
    number: int | None = Field(default=None, ge=0, le=CHANNEL_NUMBER_MAX)
    logo: str = Field(default="", max_length=IMAGE_URL_MAX)
    epg_channel_id: str | None = Field(default=None, max_length=EPG_CHANNEL_ID_MAX)
    sources: list[Source] = Field(default=[], max_length=50)
    category_ids: list[ObjectId] = Field(default=[], max_length=CATEGORIES_PER_CHANNEL_MAX)
    mode: ChannelMode = ChannelMode.on_demand
    transcode_profile: ProfileChoice = TranscodeProfileName.copy
    archive_days: int = Field(default=0, ge=0, le=ARCHIVE_DAYS_MAX)
    enabled: bool = True
    public_watch: bool = Field(
        default=False, description="anyone with the share link watches without a line"
    )
    custom_sid: str = Field(default="", max_length=64)
    notes: str = Field(default="", max_length=10_000)
    owner_user_id: ObjectId | None = Field(default=None, description="a creator who owns it")
    tenant_id: ObjectId | None = Field(default=None, description="platform admins only")


class ChannelPatch(InputModel):
    name: Label | None = Field(default=None, min_length=1, max_length=CHANNEL_NAME_MAX)
    number: int | None = Field(default=None, ge=0, le=CHANNEL_NUMBER_MAX)
    logo: str | None = Field(default=None, max_length=IMAGE_URL_MAX)
    epg_channel_id: str | None = Field(default=None, max_length=EPG_CHANNEL_ID_MAX)
    sources: list[Source] | None = Field(default=None, max_length=50)
    category_ids: list[ObjectId] | None = Field(default=None, max_length=CATEGORIES_PER_CHANNEL_MAX)
    mode: ChannelMode | None = None
    transcode_profile: ProfileChoice | None = None
    archive_days: int | None = Field(default=None, ge=0, le=ARCHIVE_DAYS_MAX)
    enabled: bool | None = None
    public_watch: bool | None = None
    custom_sid: str | None = Field(default=None, max_length=64)
    notes: str | None = Field(default=None, max_length=10_000)
    owner_user_id: ObjectId | None = Field(default=None, description="a creator; null: none")


class ChannelOut(BaseModel):
    id: int
    tenant_id: int
    name: str
    number: int | None
    logo: str
    epg_channel_id: str | None
    sources: list[SourceOut]
    category_ids: list[int]
    mode: ChannelMode
    transcode_profile: str
    archive_days: int
    enabled: bool
    public_watch: bool
    custom_sid: str
    notes: str
    stream_key: str | None = Field(description="managers only; set for push sources")
    owner_user_id: int | None = Field(description="the creator who owns it, if any")
    syndication_id: int | None = Field(
        description="another panel's channel carried here (read-only sources): its syndication"
    )
    created_at: datetime
    updated_at: datetime


def render(channel: Channel, principal: Principal) -> ChannelOut:
    """The channel as the caller may see it: the stream key is for managers only."""
    return ChannelOut(
        id=channel.id,
        tenant_id=channel.tenant_id,
        name=channel.name,
        number=channel.number,
        logo=channel.logo,
        epg_channel_id=channel.epg_channel_id,
        sources=[
            SourceOut(url=s.get("url", ""), kind=s.get("kind", "")) for s in channel.sources or []
        ],
        category_ids=channel.category_ids,
        mode=channel.mode,
        transcode_profile=_stored_profile(channel.transcode_profile),
        archive_days=channel.archive_days,
        enabled=channel.enabled,
        public_watch=bool(channel.public_watch),
        custom_sid=channel.custom_sid,
        notes=channel.notes,
        stream_key=channel.stream_key if principal.is_manager else None,
        owner_user_id=channel.owner_user_id,
        syndication_id=channel.syndication_id,
        created_at=channel.created_at,
        updated_at=channel.updated_at,
    )


def _sources(sources: list[Source]) -> list[dict[str, str]]:
    return service.check_sources([(s.kind, s.url) for s in sources])


def check_creator(session: Session, tenant_id: int, user_id: int | None) -> None:
    """A channel's owner must be a creator of the channel's tenant."""
    if user_id is None:
        return
    user = session.get(AdminUser, user_id)
    if user is None or user.tenant_id != tenant_id or user.role is not Role.creator:
        raise ValidationFailed(
            f"User {user_id} is not a creator of this panel.",
            fields={"owner_user_id": "Not a creator of this panel."},
        )


@router.get("/channels", response_model=Page[ChannelOut])
def list_channels(
    principal: Staff,
    session: DbSession,
    params: Annotated[ListParams, Depends()],
    q: Annotated[str | None, Query(max_length=100, description="name contains")] = None,
    category_id: QueryId = None,
    enabled: bool | None = None,
    mode: ChannelMode | None = None,
    tenant_id: QueryId = None,
) -> Page[ChannelOut]:
    stmt = scoped_select(principal, Channel, tenant_id)
    if q:
        stmt = stmt.where(Channel.name.contains(q))
    if category_id is not None:
        stmt = stmt.where(
            Channel.id.in_(
                select(ChannelCategory.channel_id).where(ChannelCategory.category_id == category_id)
            )
        )
    if enabled is not None:
        stmt = stmt.where(Channel.enabled.is_(enabled))
    if mode:
        stmt = stmt.where(Channel.mode == mode)
    sortable = {"id": Channel.id, "name": Channel.name, "number": Channel.number}
    rows, total = paginate(session, stmt, params, sortable, Channel.id)
    return rendered_page([render(r, principal) for r in rows], total, params)


@router.post("/channels", response_model=ChannelOut, status_code=201)
def create_channel(body: ChannelIn, principal: Manager, session: DbSession) -> ChannelOut:
    tenant_id = tenant_for_create(session, principal, body.tenant_id)
    sources = _sources(body.sources)
    service.check_channel_limit(session, tenant_id)
    check_creator(session, tenant_id, body.owner_user_id)
    channel = Channel(
        tenant_id=tenant_id,
        sources=sources,
        stream_key=service.new_stream_key() if service.has_push_source(sources) else None,
        **body.model_dump(exclude={"tenant_id", "sources", "category_ids"}),
    )
    service.set_categories(session, channel, body.category_ids)
    session.add(channel)
    audited(session, principal, "create", "channel", channel)
    return render(channel, principal)


@router.get("/channels/{channel_id}", response_model=ChannelOut)
def get_channel(channel_id: PathId, principal: Staff, session: DbSession) -> ChannelOut:
    return render(get_scoped(session, principal, Channel, channel_id, label="Channel"), principal)


@router.patch("/channels/{channel_id}", response_model=ChannelOut)
def update_channel(
    channel_id: PathId, body: ChannelPatch, principal: Manager, session: DbSession
) -> ChannelOut:
    channel = get_scoped(session, principal, Channel, channel_id, label="Channel")
    before = snapshot(channel)
    changes = patch_changes(body, nullable={"number", "epg_channel_id", "owner_user_id"})
    if channel.syndication_id is not None:
        # A carried channel: the partner names, numbers and files it; the rest is its owner's.
        for field in sorted(set(changes) - SYNDICATED_EDITABLE):
            syndication.check_not_syndicated(channel, field)
    if changes.get("owner_user_id") is not None:
        check_creator(session, channel.tenant_id, changes["owner_user_id"])
    if "sources" in changes:
        channel.sources = _sources(body.sources or [])
        if service.has_push_source(channel.sources) and not channel.stream_key:
            channel.stream_key = service.new_stream_key()
    if "category_ids" in changes:
        service.set_categories(session, channel, changes["category_ids"])
    apply_changes(
        channel, {k: v for k, v in changes.items() if k not in {"sources", "category_ids"}}
    )
    audited(session, principal, "update", "channel", channel, before=before)
    return render(channel, principal)


@router.post("/channels/{channel_id}/stream-key", response_model=ChannelOut)
def rotate_stream_key(channel_id: PathId, principal: Manager, session: DbSession) -> ChannelOut:
    """A new stream key; publishers using the old one are refused from now on."""
    channel = get_scoped(session, principal, Channel, channel_id, label="Channel")
    syndication.check_not_syndicated(channel, "stream_key")
    before = snapshot(channel)
    channel.stream_key = service.new_stream_key()
    audited(session, principal, "rotate_stream_key", "channel", channel, before=before)
    return render(channel, principal)


@router.delete("/channels/{channel_id}", status_code=204)
def delete_channel(channel_id: PathId, principal: Manager, session: DbSession) -> None:
    channel = get_scoped(session, principal, Channel, channel_id, label="Channel")
    syndication.check_not_syndicated(channel, "syndication")
    _end_syndications(session, principal, channel)
    audited(session, principal, "delete", "channel", channel)
    forget_item(session, ItemType.channel, channel.id)
    session.delete(channel)


def _end_syndications(session: Session, principal: Principal, channel: Channel) -> None:
    """An offered channel is deleted: partners stop carrying it first (both logs say so)."""
    for ended, action in syndication.end_for_channel(session, channel, datetime.now(UTC)):
        record_both(session, ended, action, actor_id=principal.user_id,
                    actor=principal.username, ip=principal.ip,
                    actor_tenant_id=channel.tenant_id)  # fmt: skip
        mark_changed(session, ended.partner_tenant_id, "catalog.live")
        mark_changed(session, ended.partner_tenant_id, "channels")


# -- several channels at once -------------------------------------------------------------

BULK_MAX = 1000


class ChannelBulkChanges(InputModel):
    category_ids: list[ObjectId] | None = Field(
        default=None,
        max_length=CATEGORIES_PER_CHANNEL_MAX,
        description="replaces each channel's categories",
    )
    add_to_bouquet_ids: list[ObjectId] = Field(default=[], max_length=100)
    remove_from_bouquet_ids: list[ObjectId] = Field(default=[], max_length=100)
    enabled: bool | None = None
    transcode_profile: ProfileChoice | None = None


class ChannelBulkIn(InputModel):
    ids: list[ObjectId] = Field(min_length=1, max_length=BULK_MAX)
    changes: ChannelBulkChanges | None = Field(default=None, description="what to set")
    delete: bool = Field(default=False, description="delete the channels (no changes then)")


class ChannelBulkOut(BaseModel):
    updated: int
    deleted: int


@router.patch("/channels", response_model=ChannelBulkOut)
def bulk_update_channels(
    body: ChannelBulkIn, principal: Manager, session: DbSession
) -> ChannelBulkOut:
    """Change or delete several channels in one go: all of them or none (an id the caller
    cannot see is a 404 and nothing changes); one audit entry per channel."""
    asked = body.changes or ChannelBulkChanges()
    changes = asked.model_dump(exclude_unset=True, exclude_defaults=True)
    if asked.category_ids is not None:
        changes["category_ids"] = asked.category_ids
    if body.delete == bool(changes):
        raise ValidationFailed(
            "Choose what to change, or delete (not both).",
            fields={"changes": "Choose at least one change, or delete."},
        )
    ids = list(dict.fromkeys(body.ids))
    channels = list(
        session.scalars(
            select(Channel).where(Channel.id.in_(ids), tenant_clause(principal, Channel))
        )
    )
    missing = sorted(set(ids) - {c.id for c in channels})
    if missing:
        listed = ", ".join(str(i) for i in missing[:10])
        raise NotFound(f"Channel{'s' if len(missing) > 1 else ''} {listed} not found.")
    for channel in channels:  # what a carried channel's owner decides is refused, all or none
        if channel.syndication_id is not None:
            for field in ("syndication",) if body.delete else sorted(set(changes) & OWNERS_BULK):
                syndication.check_not_syndicated(channel, field)
    if body.delete:
        for channel in channels:
            _end_syndications(session, principal, channel)
            audited(session, principal, "delete", "channel", channel)
            forget_item(session, ItemType.channel, channel.id)
            session.delete(channel)
        return ChannelBulkOut(updated=0, deleted=len(channels))
    add, remove = asked.add_to_bouquet_ids, asked.remove_from_bouquet_ids
    by_tenant: dict[int, list[int]] = {}
    for channel in channels:
        by_tenant.setdefault(channel.tenant_id, []).append(channel.id)
    for tenant_id, tenant_channels in by_tenant.items():
        check_bouquet_ids(session, tenant_id, add, "changes.add_to_bouquet_ids")
        check_bouquet_ids(session, tenant_id, remove, "changes.remove_from_bouquet_ids")
        syndication.check_paid_placement(session, tenant_id, add, tenant_channels)
    for channel in sorted(channels, key=lambda c: ids.index(c.id)):
        before = snapshot(channel)
        if "category_ids" in changes:
            service.set_categories(session, channel, changes["category_ids"])
        apply_changes(
            channel,
            {k: changes[k] for k in ("enabled", "transcode_profile") if k in changes},
        )
        after = None
        if add or remove:
            session.flush()
            after = {**snapshot(channel), "added_to_bouquets": add, "removed_from_bouquets": remove}
        audited(session, principal, "update", "channel", channel, before=before, after=after)
    # A bouquet passed the check for every channel's tenant: they all share it.
    for bouquet_id in add:
        append_items(session, bouquet_id, ItemType.channel, ids)
    if remove:
        session.execute(
            delete(BouquetItem).where(
                BouquetItem.bouquet_id.in_(remove),
                BouquetItem.item_type == ItemType.channel,
                BouquetItem.item_id.in_(ids),
            )
        )
    return ChannelBulkOut(updated=len(channels), deleted=0)

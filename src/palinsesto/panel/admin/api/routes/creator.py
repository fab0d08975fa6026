"""A creator's own corner: its channels, how to go live, its shows, its audience.

Every route takes the channel through :func:`own_channel`, which answers 404 unless the
channel is the caller's (``Channel.owner_user_id``), as another tenant's ids are. Nothing
here names a line, a reseller or a viewer's address: the audience is counts (by app family
and by country), from admin/audience.py.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from palinsesto.catalog import channels as service
from palinsesto.catalog.limits import CHANNEL_NAME_MAX, IMAGE_URL_MAX
from palinsesto.catalog.models import Channel
from palinsesto.panel.admin.api.changes import audited
from palinsesto.panel.admin.api.deps import Context, Creator, DbSession, Principal
from palinsesto.panel.admin.api.errors import NotFound
from palinsesto.panel.admin.api.identifiers import Label
from palinsesto.panel.admin.api.inputs import InputModel
from palinsesto.panel.admin.api.patching import apply_changes, patch_changes
from palinsesto.panel.admin.api.routes import schedule
from palinsesto.panel.admin.api.routes.live import ingest_url
from palinsesto.panel.admin.api.routes.watch import share_ref
from palinsesto.panel.admin.api.types import MAX_ID, PathId
from palinsesto.panel.admin.audience import AudienceBook
from palinsesto.panel.nodes.ingest import node_ingest
from palinsesto.trust.audit import snapshot

router = APIRouter(prefix="/creator", tags=["creator"])


class CreatorChannel(BaseModel):
    id: int
    name: str
    logo: str
    enabled: bool
    public_watch: bool
    epg_channel_id: str | None
    stream_key: str | None = Field(description="what the encoder publishes with")
    watch_url: str


class CreatorChannelPatch(InputModel):
    name: Label | None = Field(default=None, min_length=1, max_length=CHANNEL_NAME_MAX)
    logo: str | None = Field(default=None, max_length=IMAGE_URL_MAX)
    public_watch: bool | None = None


class GoLive(BaseModel):
    channel_id: int
    rtmp_url: str | None
    stream_key: str | None
    status: str
    note: str
    srt_url: str | None = None  # a push_srt channel's listener on its node
    node_id: int | None = None  # the node to publish to (tenants whose channels run on nodes)


class AudienceRow(BaseModel):
    channel_id: int
    name: str
    viewers_now: int
    peak_viewers: int = Field(description="most viewers at once in the last 24 h")
    watch_seconds: int = Field(description="time watched in the last 24 h, all viewers")
    by_app: dict[str, int] = Field(description="viewers now by player family")
    by_country: dict[str, int] = Field(
        description="viewers now by country ('unknown' without GeoIP)"
    )


class Audience(BaseModel):
    items: list[AudienceRow]
    sampled_at: float


def own_channel(session: Session, principal: Principal, channel_id: int) -> Channel:
    channel = session.get(Channel, channel_id) if 0 < channel_id <= MAX_ID else None
    if (
        channel is None
        or channel.tenant_id != principal.tenant_id
        or channel.owner_user_id != principal.user_id
    ):
        raise NotFound(f"Channel {channel_id} not found.")
    return channel


def _own_channels(session: Session, principal: Principal) -> list[Channel]:
    return list(
        session.scalars(
            select(Channel)
            .where(
                Channel.tenant_id == principal.tenant_id,
                Channel.owner_user_id == principal.user_id,
            )
            .order_by(Channel.id)
        ).all()
    )


def _render(channel: Channel, ctx: Any) -> CreatorChannel:
    ref = share_ref(ctx.settings.secret_key, channel.id)
    return CreatorChannel(
        id=channel.id,
        name=channel.name,
        logo=channel.logo,
        enabled=channel.enabled,
        public_watch=bool(channel.public_watch),
        epg_channel_id=channel.epg_channel_id,
        stream_key=channel.stream_key,
        watch_url=f"{ctx.settings.effective_public_url}/watch/{ref}",
    )


@router.get("/channels", response_model=list[CreatorChannel])
def my_channels(principal: Creator, session: DbSession, ctx: Context) -> list[CreatorChannel]:
    return [_render(c, ctx) for c in _own_channels(session, principal)]


@router.get("/channels/{channel_id}", response_model=CreatorChannel)
def my_channel(
    channel_id: PathId, principal: Creator, session: DbSession, ctx: Context
) -> CreatorChannel:
    return _render(own_channel(session, principal, channel_id), ctx)


@router.patch("/channels/{channel_id}", response_model=CreatorChannel)
def edit_channel(
    channel_id: PathId,
    body: CreatorChannelPatch,
    principal: Creator,
    session: DbSession,
    ctx: Context,
) -> CreatorChannel:
    channel = own_channel(session, principal, channel_id)
    before = snapshot(channel)
    apply_changes(channel, patch_changes(body))
    audited(session, principal, "update", "channel", channel, before=before)
    return _render(channel, ctx)


@router.post("/channels/{channel_id}/stream-key", response_model=CreatorChannel)
def rotate_key(
    channel_id: PathId, principal: Creator, session: DbSession, ctx: Context
) -> CreatorChannel:
    """A new stream key; an encoder using the old one is refused from now on."""
    channel = own_channel(session, principal, channel_id)
    before = snapshot(channel)
    channel.stream_key = service.new_stream_key()
    audited(session, principal, "rotate_stream_key", "channel", channel, before=before)
    return _render(channel, ctx)


@router.get("/channels/{channel_id}/go-live", response_model=GoLive)
async def go_live(channel_id: PathId, principal: Creator, ctx: Context, request: Request) -> GoLive:
    """Where the encoder publishes (server URL and stream key) and whether it is live now."""

    def load() -> tuple[int, int, str | None, list[Any]]:
        with ctx.db.session() as session:
            channel = own_channel(session, principal, channel_id)
            return channel.id, channel.tenant_id, channel.stream_key, list(channel.sources)

    found_id, tenant_id, key, sources = await run_in_threadpool(load)
    control = ctx.services.get("nodes")
    if control is not None and await run_in_threadpool(control.tenant_has_nodes, tenant_id):
        # Published to the node the channel is placed on (panel/nodes/ingest.py).
        found = await node_ingest(control, tenant_id, found_id, sources)
        load_now = (await control.channel_loads(tenant_id)).get(found_id)
        return GoLive(
            channel_id=found_id,
            rtmp_url=found.rtmp_url,
            srt_url=found.srt_url,
            node_id=found.node_id,
            stream_key=key,
            status=str(load_now["state"]) if load_now else "offline",
            note=found.note,
        )
    engine = ctx.services.get("live")
    url = (
        ingest_url(ctx.settings, engine.rtmp_port, request.url.hostname or "")
        if engine is not None
        else None  # a panel without a local node takes no publisher itself
    )
    status = "offline"
    if engine is not None:
        runner = engine.runners.get(found_id)
        status = str(runner.status()["status"]) if runner is not None else "offline"
    if key is None:
        note = "This channel has no push source: ask the panel's owner to make it an RTMP channel."
    elif url is None:
        note = "RTMP ingest is turned off on this server."
    else:
        note = "In OBS: Settings → Stream → Service: Custom; Server: this URL; Stream key: yours."
    return GoLive(channel_id=found_id, rtmp_url=url, stream_key=key, status=status, note=note)


@router.get("/channels/{channel_id}/shows", response_model=list[schedule.ShowOut])
def my_shows(channel_id: PathId, principal: Creator, session: DbSession) -> list[schedule.ShowOut]:
    own_channel(session, principal, channel_id)
    return schedule.list_shows(channel_id, principal, session)


@router.post("/channels/{channel_id}/shows", response_model=schedule.ShowOut, status_code=201)
def add_show(
    channel_id: PathId, body: schedule.ShowIn, principal: Creator, session: DbSession
) -> schedule.ShowOut:
    """Schedule a show on the guide of one's own channel."""
    own_channel(session, principal, channel_id)
    return schedule.create_show(channel_id, body, principal, session)


@router.patch("/channels/{channel_id}/shows/{show_id}", response_model=schedule.ShowOut)
def edit_show(
    channel_id: PathId,
    show_id: PathId,
    body: schedule.ShowPatch,
    principal: Creator,
    session: DbSession,
) -> schedule.ShowOut:
    own_channel(session, principal, channel_id)
    return schedule.update_show(channel_id, show_id, body, principal, session)


@router.delete("/channels/{channel_id}/shows/{show_id}", status_code=204)
def remove_show(
    channel_id: PathId, show_id: PathId, principal: Creator, session: DbSession
) -> None:
    own_channel(session, principal, channel_id)
    schedule.delete_show(channel_id, show_id, principal, session)


@router.get("/audience", response_model=Audience)
async def audience(principal: Creator, ctx: Context) -> Audience:
    """Each own channel's viewers now, peak and watch time (24 h), apps and countries."""

    def load() -> list[tuple[int, str]]:
        with ctx.db.session() as session:
            return [(c.id, c.name) for c in _own_channels(session, principal)]

    channels = await run_in_threadpool(load)
    book: AudienceBook | None = ctx.services.get("audience")
    now = time.time()
    if book is None:
        book = AudienceBook()
    rows = []
    for channel_id, name in channels:
        figures = book.figures(principal.tenant_id or 0, channel_id, now)
        rows.append(
            AudienceRow(
                channel_id=channel_id,
                name=name,
                viewers_now=figures.viewers_now,
                peak_viewers=figures.peak_viewers,
                watch_seconds=figures.watch_seconds,
                by_app=figures.by_app,
                by_country=figures.by_country,
            )
        )
    return Audience(items=rows, sampled_at=now)

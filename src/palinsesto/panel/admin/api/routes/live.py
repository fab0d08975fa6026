"""Live engine status and control: channel status, start/stop, live sessions, end a session.

Scoped like every resource (routes/categories.py): another tenant's channel or session is
a 404. Handlers are ``async`` so they run on the loop that owns the engine.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy import select

from palinsesto.accounts.models import Line
from palinsesto.catalog.models import Channel
from palinsesto.catalog.syndication import check_not_syndicated
from palinsesto.config import Settings
from palinsesto.node.snapshot import SnapshotUnavailable
from palinsesto.panel.admin.api.deps import (
    Context,
    CurrentPrincipal,
    Manager,
    Principal,
    Staff,
)
from palinsesto.panel.admin.api.errors import NotFound, Unavailable, ValidationFailed
from palinsesto.panel.admin.api.routes.lines import scope_clause as line_scope_clause
from palinsesto.panel.admin.api.scope import get_scoped
from palinsesto.panel.admin.api.types import PathId, QueryId, SessionId
from palinsesto.panel.admin.live_stats import ViewerHistory, filled
from palinsesto.panel.nodes.ingest import node_ingest
from palinsesto.panel.playback.access import channel_info
from palinsesto.panel.playback.watch_tokens import WatchKind, issuing_watch_tokens, watch_path
from palinsesto.protocol.channels import ChannelInfo

router = APIRouter(tags=["live"])


class SessionOut(BaseModel):
    id: int
    tenant_id: int
    line_id: int
    username: str
    channel_id: int
    ip: str
    user_agent: str
    output: str
    started_at: float
    bytes: int
    channel_name: str = ""


NO_LOCAL_INGEST = (
    "This panel takes no publisher itself: each push channel is published to the streaming "
    "node it is placed on (the channel's page says which, and its address)."
)


class IngestOut(BaseModel):
    rtmp_url: str | None
    note: str
    srt_url: str | None = None  # a push_srt channel's listener on its node
    node_id: int | None = None  # the node to publish to (tenants whose channels run on nodes)


class PreviewOut(BaseModel):
    url: str
    expires_at: float


class FailureOut(BaseModel):
    channel_id: int
    channel: str
    at: float
    message: str


class OverviewOut(BaseModel):
    viewers: int
    bandwidth_out_bps: float
    channels_running: int
    channels_failing: int
    recent_failures: list[FailureOut]
    sampled_at: float


class HistoryPoint(BaseModel):
    at: float
    viewers: int
    bandwidth_bps: float


class HistoryOut(BaseModel):
    step_seconds: float
    since: float  # the start of the range asked for (unix time)
    started_at: float | None  # the first observation: before it nothing is known
    points: list[HistoryPoint]


class ChannelLive(BaseModel):
    channel_id: int
    status: str
    state: str
    viewers: int
    bitrate_kbps: float


class ChannelLiveList(BaseModel):
    items: list[ChannelLive]


async def _scoped_channel(
    ctx: Any, principal: Principal, channel_id: int, *, acting: bool = False
) -> ChannelInfo:
    """The channel, if the caller may see it (else 404), read in a worker thread. With
    ``acting`` (start, stop, ingest, preview) another panel's channel carried here is
    refused (403): it runs as its owner runs it.

    Not the request's ``DbSession``: that is a write transaction, and on SQLite taking
    its lock on the event loop would stall every request (and the engine) behind a writer.
    """

    def load() -> ChannelInfo:
        with ctx.db.session() as session:
            row = get_scoped(session, principal, Channel, channel_id, label="Channel")
            if acting:
                check_not_syndicated(row, "live state")
            return channel_info(row, session)

    return await asyncio.to_thread(load)


NO_ENGINE = (
    "This panel runs no streaming engine: channels run on the tenant's nodes "
    "(see Servers), which start and stop them as placed."
)


def _engine(ctx: Any) -> Any:
    engine = ctx.services.get("live")
    if engine is None:
        raise Unavailable(NO_ENGINE)
    return engine


async def _node_loads(ctx: Any, tenant_id: int | None) -> dict[int, dict[str, Any]]:
    """Channels' state from their nodes' heartbeats (those a node carries)."""
    control = ctx.services.get("nodes")
    if control is None:
        return {}
    try:
        loads: dict[int, dict[str, Any]] = await control.channel_loads(tenant_id)
        return loads
    except RuntimeError:  # the shared store is out of reach: nothing known to run there
        return {}


def _status_of_load(load: dict[str, Any] | None) -> dict[str, Any]:
    if load is None:
        return {"status": "stopped", "state": "idle", "viewers": 0, "nodes": []}
    running = load["state"] == "running"
    status = ("running" if load["healthy"] else "failing") if running else load["state"]
    return {
        "status": status,
        "state": load["state"],
        "viewers": load["viewers"],
        "nodes": load["nodes"],
    }


@router.get("/live/channels/{channel_id}")
async def channel_status(channel_id: PathId, principal: Staff, ctx: Context) -> dict[str, Any]:
    """running/stopped/failing, active source, bitrate, fps, uptime, restarts, viewers, and
    the last failures with ffmpeg's own message (on a panel without a local engine: the
    state, viewers and nodes its nodes report)."""
    channel = await _scoped_channel(ctx, principal, channel_id)
    engine = ctx.services.get("live")
    load = (await _node_loads(ctx, channel.tenant_id)).get(channel.id)
    if engine is None or load is not None:
        return {"channel_id": channel.id, "name": channel.name, **_status_of_load(load)}
    status = engine.channel_status(channel)
    return {"channel_id": channel.id, "name": channel.name, **status}


NOT_HERE = (
    "Channel {id} is not running on this server: its probe and thumbnail are taken "
    "only from channels the panel's own engine runs (not those on remote nodes)."
)


async def _running_here(ctx: Any, principal: Principal, channel_id: int) -> tuple[Any, Any]:
    """The local engine and the channel's running runner, else a 404 that says why."""
    channel = await _scoped_channel(ctx, principal, channel_id)
    engine = ctx.services.get("live")
    on_node = (await _node_loads(ctx, channel.tenant_id)).get(channel.id) is not None
    if engine is None or on_node:
        raise NotFound(NOT_HERE.format(id=channel.id))
    runner = engine.running(channel.id)
    if runner is None or not runner.fanout.ring.has_keyframe:
        raise NotFound(f"Channel {channel.id} is not running: start it to see its picture.")
    return engine, runner


@router.get("/live/channels/{channel_id}/probe")
async def channel_probe(channel_id: PathId, principal: Staff, ctx: Context) -> dict[str, Any]:
    """Codecs, resolution, frame rate, audio tracks and bitrate of the running channel's
    own output (its latest seconds, described by ffmpeg; kept ~10 s)."""
    engine, runner = await _running_here(ctx, principal, channel_id)
    try:
        facts = await engine.snapshots.probe(engine.ffmpeg, runner)
    except SnapshotUnavailable as exc:
        raise NotFound(f"Channel {channel_id} has no probe yet: {exc}") from None
    return {"channel_id": channel_id, **facts}


@router.get(
    "/live/channels/{channel_id}/thumbnail.jpg",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}}},
)
async def channel_thumbnail(channel_id: PathId, principal: Staff, ctx: Context) -> Response:
    """A 320-pixel-wide JPEG of the running channel's latest keyframe (made at most every
    ~10 s)."""
    engine, runner = await _running_here(ctx, principal, channel_id)
    try:
        jpeg = await engine.snapshots.thumbnail(engine.ffmpeg, runner)
    except SnapshotUnavailable as exc:
        raise NotFound(f"Channel {channel_id} has no thumbnail yet: {exc}") from None
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.post("/live/channels/{channel_id}/start")
async def start_channel(channel_id: PathId, principal: Manager, ctx: Context) -> dict[str, Any]:
    channel = await _scoped_channel(ctx, principal, channel_id, acting=True)
    runner = await _engine(ctx).start_channel(channel)
    return {"channel_id": channel.id, **runner.status()}


@router.post("/live/channels/{channel_id}/stop")
async def stop_channel(channel_id: PathId, principal: Manager, ctx: Context) -> dict[str, Any]:
    channel = await _scoped_channel(ctx, principal, channel_id, acting=True)
    engine = _engine(ctx)
    await engine.stop_channel(channel.id)
    return {"channel_id": channel.id, **engine.channel_status(channel)}


def _visible(principal: Principal, tenant_id: int) -> bool:
    return principal.is_platform or principal.tenant_id == tenant_id


async def _reseller_line_ids(ctx: Any, principal: Principal) -> frozenset[int] | None:
    """The lines whose sessions a reseller may see (its subtree's); None: no narrowing."""
    if not principal.is_reseller:
        return None

    def load() -> frozenset[int]:
        with ctx.db.session() as session:
            clause = line_scope_clause(session, principal)
            return frozenset(session.scalars(select(Line.id).where(clause)))

    return await asyncio.to_thread(load)


@router.get("/live/sessions", response_model=list[SessionOut])
async def list_sessions(principal: CurrentPrincipal, ctx: Context) -> list[SessionOut]:
    """Sessions playing now: line, channel, IP, user agent, output, start and bytes sent.

    A reseller sees only the sessions of its own subtree's lines."""
    own_lines = await _reseller_line_ids(ctx, principal)
    control = ctx.services.get("nodes")
    on_nodes = [
        SessionOut(
            id=s.session_id,
            tenant_id=s.tenant_id,
            line_id=s.line_id,
            username=s.username,
            channel_id=s.channel_id,
            ip=s.ip,
            user_agent=s.user_agent,
            output=s.output,
            started_at=s.started_at,
            bytes=0,
        )
        # Sessions on nodes, whichever replica admitted them (the shared session store).
        for s in (await _node_sessions(control, principal) if control is not None else [])
        if _visible(principal, s.tenant_id) and (own_lines is None or s.line_id in own_lines)
    ]
    engine = ctx.services.get("live")
    if engine is None:
        return on_nodes
    return on_nodes + [
        SessionOut(
            id=s.id,
            tenant_id=s.tenant_id,
            line_id=s.line_id,
            username=s.username,
            # The id in the viewer's own panel (a syndicated play runs another's channel).
            channel_id=s.entry_id or s.channel_id,
            ip=s.ip,
            user_agent=s.user_agent,
            output=s.output,
            started_at=s.started_at,
            bytes=s.bytes,
            # VOD sessions ("movie"/"series") carry a movie or episode id, not a channel's.
            channel_name=_channel_name(engine, s.channel_id) if s.output in ("ts", "hls") else "",
        )
        for s in engine.sessions.all()
        if _visible(principal, s.tenant_id) and (own_lines is None or s.line_id in own_lines)
    ]


async def _node_sessions(control: Any, principal: Principal) -> list[Any]:
    try:
        return list(await control.sessions(_tenant_filter(principal)))
    except RuntimeError:  # the shared store is out of reach
        raise Unavailable("The session store (Redis) cannot be reached.") from None


@router.delete("/live/sessions/{session_id}", status_code=204)
async def end_session(session_id: SessionId, principal: Manager, ctx: Context) -> None:
    """End a session: a TS viewer is cut at once, an HLS session's next request gets 403."""
    control = ctx.services.get("nodes")
    try:
        if control is not None and await control.end_session(session_id, principal.tenant_id):
            return
    except RuntimeError:  # the shared store is out of reach
        raise Unavailable("The session store (Redis) cannot be reached.") from None
    engine = ctx.services.get("live")
    found = engine.sessions.get(session_id) if engine is not None else None
    if engine is None or found is None or not _visible(principal, found.tenant_id):
        raise NotFound(f"Session {session_id} not found.")
    engine.sessions.end(found, "ended by an administrator")


def _channel_name(engine: Any, channel_id: int) -> str:
    # A session always has a runner (admission creates it), which knows the name.
    runner = engine.runners.get(channel_id)
    return runner.spec.name if runner is not None else ""


def _tenant_filter(principal: Principal) -> int | None:
    return None if principal.is_platform else principal.tenant_id


def ingest_url(settings: Settings, rtmp_port: int, browser_host: str) -> str | None:
    """The RTMP address OBS publishes to: the setting, or the public host and the port.

    Without ``rtmp_public_url`` the host is public_url's, else the one the browser used to
    reach the panel (it reached this machine, so the encoder on that network can too); the
    port is the one the ingest listens on.
    """
    if settings.rtmp_public_url:
        return settings.rtmp_public_url.rstrip("/")
    if not settings.rtmp_listen:
        return None
    host = (urlsplit(settings.public_url).hostname if settings.public_url else None) or (
        browser_host or settings.host
    )
    if ":" in host:
        host = f"[{host}]"
    port = rtmp_port or int(settings.rtmp_listen.rsplit(":", 1)[1])
    return f"rtmp://{host}:{port}/live"


@router.get("/live/ingest", response_model=IngestOut)
async def ingest(
    principal: Staff, ctx: Context, request: Request, channel_id: QueryId = None
) -> IngestOut:
    """Where encoders (OBS) publish: server URL; the stream key is the channel's own.

    With ``channel_id``, of a tenant that has nodes: the node the channel is placed on and
    its address for the channel's push (panel/nodes/ingest.py), only where it works."""
    control = ctx.services.get("nodes")
    if channel_id is not None and control is not None:
        channel = await _scoped_channel(ctx, principal, channel_id, acting=True)
        has_nodes = await asyncio.to_thread(control.tenant_has_nodes, channel.tenant_id)
        if has_nodes:
            found = await node_ingest(control, channel.tenant_id, channel.id, channel.sources)
            return IngestOut(
                rtmp_url=found.rtmp_url,
                srt_url=found.srt_url,
                node_id=found.node_id,
                note=found.note,
            )
    engine = ctx.services.get("live")
    if engine is None:  # a panel without a local node takes no publisher itself
        return IngestOut(rtmp_url=None, note=NO_LOCAL_INGEST)
    url = ingest_url(ctx.settings, engine.rtmp_port, request.url.hostname or "")
    note = (
        "In OBS: Settings → Stream → Service: Custom; Server: this URL; Stream key: the channel's."
        if url
        else "RTMP ingest is turned off on this server (rtmp_listen is empty)."
    )
    return IngestOut(rtmp_url=url, note=note)


@router.post("/live/channels/{channel_id}/preview", response_model=PreviewOut)
async def preview(channel_id: PathId, principal: Staff, ctx: Context) -> PreviewOut:
    """A short-lived HLS URL to preview the channel in the panel.

    The URL carries a signed watch token for this channel only (playback/watch_tokens.py),
    never the admin's token; it plays HLS for ``preview_token_ttl_seconds`` and the session
    shows up (and can be ended) in the live sessions list like any viewer.
    """
    channel = await _scoped_channel(ctx, principal, channel_id, acting=True)
    tokens = issuing_watch_tokens(ctx.services)
    if tokens is None:
        raise Unavailable(NO_ENGINE)
    expires = time.time() + ctx.settings.preview_token_ttl_seconds
    token = tokens.issue(
        WatchKind.preview, channel.tenant_id, channel.id, principal.user_id, expires
    )
    return PreviewOut(url=watch_path(token, channel.id), expires_at=expires)


@router.get("/live/channels", response_model=ChannelLiveList)
async def channels_live(
    principal: Staff,
    ctx: Context,
    ids: Annotated[str, Query(max_length=2000, description="comma-separated channel ids")] = "",
) -> ChannelLiveList:
    """Live state of several channels at once (the channels table's column)."""
    try:
        wanted = [int(x) for x in ids.split(",") if x.strip()][:200]
    except ValueError:
        raise ValidationFailed(
            "ids must be comma-separated integers", fields={"ids": "integers"}
        ) from None
    engine = ctx.services.get("live")
    loads = await _node_loads(ctx, _tenant_filter(principal))
    items = []
    for channel_id in wanted:
        if channel_id in loads:
            st = _status_of_load(loads[channel_id])
            items.append(ChannelLive(channel_id=channel_id, status=st["status"],
                                     state=st["state"], viewers=st["viewers"],
                                     bitrate_kbps=0.0))  # fmt: skip
            continue
        runner = engine.runners.get(channel_id) if engine is not None else None
        if runner is None or not _visible(principal, runner.spec.tenant_id):
            items.append(ChannelLive(channel_id=channel_id, status="stopped", state="idle",
                                     viewers=0, bitrate_kbps=0.0))  # fmt: skip
            continue
        st = runner.status()
        items.append(
            ChannelLive(
                channel_id=channel_id,
                status=st["status"],
                state=st["state"],
                viewers=st["viewers"],
                bitrate_kbps=st["bitrate_kbps"],
            )
        )
    return ChannelLiveList(items=items)


@router.get("/live/overview", response_model=OverviewOut)
async def overview(principal: Staff, ctx: Context) -> OverviewOut:
    """The dashboard's figures now: viewers, bandwidth out, channels running and failing,
    and the latest failures with ffmpeg's message."""
    engine = ctx.services.get("live")
    history: ViewerHistory = ctx.services["viewer_history"]
    tenant = _tenant_filter(principal)
    local = engine.sessions.all() if engine is not None else []
    viewers = sum(1 for s in local if _visible(principal, s.tenant_id))
    running = failing = 0
    for load in (await _node_loads(ctx, tenant)).values():
        viewers += load["viewers"]
        st = _status_of_load(load)
        running += st["status"] == "running"
        failing += st["status"] == "failing"
    failures: list[FailureOut] = []
    for runner in list(engine.runners.values()) if engine is not None else []:
        if not _visible(principal, runner.spec.tenant_id):
            continue
        st = runner.status()
        running += st["status"] == "running"
        failing += st["status"] == "failing"
        failures += [
            FailureOut(
                channel_id=runner.spec.channel_id,
                channel=runner.spec.name,
                at=f["at"],
                message=f["message"],
            )
            for f in st["failures"]
        ]
    failures.sort(key=lambda f: f.at, reverse=True)
    now = history.current(tenant)
    return OverviewOut(
        viewers=viewers,
        bandwidth_out_bps=round(now.bandwidth_bps, 1),
        channels_running=running,
        channels_failing=failing,
        recent_failures=failures[:10],
        sampled_at=now.at,
    )


@router.get("/live/history", response_model=HistoryOut)
async def viewer_history(
    principal: Staff,
    ctx: Context,
    hours: Annotated[int, Query(ge=1, le=168, description="1 to 168 (7 days)")] = 24,
) -> HistoryOut:
    """Viewers and bandwidth out over the last ``hours``: a point a minute up to 24 h, a
    point an hour beyond (kept in memory, 7 days), every step of the range from the first
    observation on (a step without viewers is a zero)."""
    history: ViewerHistory = ctx.services["viewer_history"]
    now = time.time()
    since = now - hours * 3600
    step = history.step_for(since, now)
    kept = history.series(_tenant_filter(principal), since, step)
    points = filled(kept, since, now, step, history.started_at)
    return HistoryOut(
        step_seconds=step,
        since=since,
        started_at=history.started_at,
        points=[
            HistoryPoint(at=p.at, viewers=p.viewers, bandwidth_bps=p.bandwidth_bps) for p in points
        ],
    )

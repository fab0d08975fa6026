"""Streaming servers (nodes): what the panel may place channels on."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

import anyio.from_thread
from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, field_validator

from palinsesto.cluster import servers as service
from palinsesto.cluster.models import Server, ServerStatus
from palinsesto.panel.admin.api.changes import audited
from palinsesto.panel.admin.api.deps import Context, DbSession, Manager, PlatformAdmin, Staff
from palinsesto.panel.admin.api.errors import Unavailable
from palinsesto.panel.admin.api.identifiers import Label
from palinsesto.panel.admin.api.inputs import InputModel
from palinsesto.panel.admin.api.pagination import ListParams, Page, page_of, paginate
from palinsesto.panel.admin.api.patching import apply_changes, patch_changes
from palinsesto.panel.admin.api.scope import get_scoped, scoped_select, tenant_for_create
from palinsesto.panel.admin.api.types import ObjectId, PathId, QueryId
from palinsesto.trust.audit import snapshot

router = APIRouter(tags=["servers"])


def _http_url(value: str | None) -> str | None:
    if value is None:
        return value
    try:
        parts = urlsplit(value)
        ok = parts.scheme in {"http", "https"} and bool(parts.hostname)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError("must be an http:// or https:// URL with a host")
    return value.rstrip("/")


class ServerIn(InputModel):
    name: Label = Field(min_length=1, max_length=100)
    public_url: str = Field(max_length=500, description="where viewers reach this node")
    capacity: int = Field(default=1000, ge=0, le=10_000_000, description="max viewers")
    tenant_id: ObjectId | None = Field(default=None, description="platform admins only")

    _url = field_validator("public_url")(_http_url)


class ServerPatch(InputModel):
    name: Label | None = Field(default=None, min_length=1, max_length=100)
    public_url: str | None = Field(default=None, max_length=500)
    status: ServerStatus | None = Field(default=None, description="set disabled to drain it")
    capacity: int | None = Field(default=None, ge=0, le=10_000_000)

    _url = field_validator("public_url")(_http_url)


class ServerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    tenant_id: int
    name: str
    public_url: str
    status: ServerStatus
    capacity: int
    last_heartbeat_at: datetime | None
    created_at: datetime
    rtmp_url: str = ""
    egress_mbps: int = 0
    max_channels: int = 0
    cpus: int = 0
    version: str = ""
    draining: bool = False


class ServerCreated(ServerOut):
    token: str = Field(description="the node's enrolment token: shown once, only its hash is kept")


class NodeLive(BaseModel):
    """A node as its heartbeats show it now (known to this panel replica)."""

    id: int
    state: str = Field(description="online, draining, lost, or never (no heartbeat yet)")
    heartbeat_age_seconds: float | None = None
    # None (unknown) while the node is lost or never beat: its last figures are stale.
    viewers: int | None = None
    egress_mbps: float | None = None
    cpu_percent: float | None = None
    channels: int | None = None
    # A node's role is per channel (the placement's): it pulls the ones it originates and
    # relays the others from their origin.
    origin_of: int | None = Field(default=None, description="channels it originates")
    edge_of: int | None = Field(default=None, description="channels it relays from an origin")


class NodeLiveList(BaseModel):
    items: list[NodeLive]


class DrainIn(InputModel):
    draining: bool = Field(description="true: no new sessions or channels; false: resume")


class KeyRotated(BaseModel):
    key_id: int


@router.get("/servers", response_model=Page[ServerOut])
def list_servers(
    principal: Staff,
    session: DbSession,
    params: Annotated[ListParams, Depends()],
    status: ServerStatus | None = None,
    tenant_id: QueryId = None,
) -> Page[ServerOut]:
    stmt = scoped_select(principal, Server, tenant_id)
    if status:
        stmt = stmt.where(Server.status == status)
    sortable = {"id": Server.id, "name": Server.name, "status": Server.status}
    rows, total = paginate(session, stmt, params, sortable, Server.id)
    return page_of(rows, total, params, ServerOut)


@router.post("/servers", response_model=ServerCreated, status_code=201)
def create_server(body: ServerIn, principal: Manager, session: DbSession) -> ServerCreated:
    tenant_id = tenant_for_create(session, principal, body.tenant_id)
    service.check_node_limit(session, tenant_id)
    token, digest = service.new_node_token()
    server = Server(
        tenant_id=tenant_id, token_hash=digest, **body.model_dump(exclude={"tenant_id"})
    )
    session.add(server)
    audited(session, principal, "create", "server", server)
    return ServerCreated(**ServerOut.model_validate(server).model_dump(), token=token)


@router.get("/servers/{server_id}", response_model=ServerOut)
def get_server(server_id: PathId, principal: Staff, session: DbSession) -> Server:
    return get_scoped(session, principal, Server, server_id, label="Server")


@router.patch("/servers/{server_id}", response_model=ServerOut)
def update_server(
    server_id: PathId, body: ServerPatch, principal: Manager, session: DbSession
) -> Server:
    server = get_scoped(session, principal, Server, server_id, label="Server")
    before = snapshot(server)
    apply_changes(server, patch_changes(body))
    audited(session, principal, "update", "server", server, before=before)
    return server


@router.delete("/servers/{server_id}", status_code=204)
def delete_server(server_id: PathId, principal: Manager, session: DbSession) -> None:
    server = get_scoped(session, principal, Server, server_id, label="Server")
    audited(session, principal, "delete", "server", server)
    session.delete(server)


@router.post("/servers/{server_id}/token", response_model=ServerCreated)
def rotate_token(
    server_id: PathId, principal: Manager, session: DbSession, ctx: Context
) -> ServerCreated:
    """A new enrolment token, shown once; the old one stops working at once (the node is
    refused at its next heartbeat until it is given the new one)."""
    server = get_scoped(session, principal, Server, server_id, label="Server")
    token = service.rotate_token(server)
    audited(session, principal, "rotate_token", "server", server)
    _tell_leases(ctx, server.id, draining=server.draining)  # lifts a revocation's drain
    return ServerCreated(**ServerOut.model_validate(server).model_dump(), token=token)


@router.delete("/servers/{server_id}/token", response_model=ServerOut)
def revoke_token(server_id: PathId, principal: Manager, session: DbSession, ctx: Context) -> Server:
    """Revoke the node's token: it is refused from its next heartbeat and gets no new
    viewer from now on; its viewers' slots are freed when its lease lapses and its channels
    move to the tenant's other nodes."""
    server = get_scoped(session, principal, Server, server_id, label="Server")
    service.revoke_token(server)
    audited(session, principal, "revoke_token", "server", server)
    _tell_leases(ctx, server.id, draining=True)
    return server


def _tell_leases(ctx: Any, node_id: int, *, draining: bool) -> None:
    """Apply a drain (or a revocation, as a drain until the lease lapses) to the shared
    node leases at once, rather than at the node's next heartbeat. Called from the
    worker thread FastAPI runs these handlers in."""
    control = ctx.services.get("nodes")
    if control is not None:
        try:
            anyio.from_thread.run(control.set_draining, node_id, draining)
        except RuntimeError:  # the store is away: the next heartbeat tells it
            pass


@router.post("/servers/{server_id}/drain", response_model=ServerOut)
def drain(
    server_id: PathId, body: DrainIn, principal: Manager, session: DbSession, ctx: Context
) -> Server:
    """Draining: the node keeps what it serves and gets no new viewers or channels (the
    node hears it at its next heartbeat)."""
    server = get_scoped(session, principal, Server, server_id, label="Server")
    before = snapshot(server)
    server.draining = body.draining
    audited(session, principal, "update", "server", server, before=before)
    _tell_leases(ctx, server.id, draining=body.draining)
    return server


@router.get("/nodes/status", response_model=NodeLiveList)
async def servers_live(principal: Staff, ctx: Context, tenant_id: QueryId = None) -> NodeLiveList:
    """Every visible node's state from its heartbeats (the Servers page polls this)."""

    def visible_ids() -> list[int]:
        stmt = scoped_select(principal, Server, tenant_id).with_only_columns(Server.id)
        with ctx.db.session() as session:
            return list(session.scalars(stmt.order_by(Server.id)))

    ids = await asyncio.to_thread(visible_ids)
    control = ctx.services.get("nodes")
    tenant = None if principal.is_platform else principal.tenant_id
    try:
        known = await control.node_status(tenant) if control is not None else {}
    except RuntimeError:  # the shared store is out of reach
        raise Unavailable("The node store (Redis) cannot be reached.") from None
    items = [
        NodeLive(id=i, **known[i]) if i in known else NodeLive(id=i, state="never") for i in ids
    ]
    return NodeLiveList(items=items)


@router.post("/play-keys/rotate", response_model=KeyRotated)
async def rotate_play_keys(principal: PlatformAdmin, ctx: Context) -> KeyRotated:
    """Rotate the key play tokens are signed with (platform admins). Tokens signed with
    the old key keep verifying for an hour; every replica and node picks the new one up."""
    control = ctx.services.get("nodes")
    if control is None:
        raise Unavailable("Node control is not running on this server.")
    return KeyRotated(key_id=await asyncio.to_thread(control.keys.rotate))

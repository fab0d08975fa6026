"""Streaming servers (nodes): what the panel may place channels on."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, field_validator

from palinsesto.cluster import servers as service
from palinsesto.cluster.models import Server, ServerRole, ServerStatus
from palinsesto.panel.admin.api.changes import audited
from palinsesto.panel.admin.api.deps import DbSession, Manager, Staff
from palinsesto.panel.admin.api.identifiers import Label
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


class ServerIn(BaseModel):
    name: Label = Field(min_length=1, max_length=100)
    public_url: str = Field(max_length=500, description="where viewers reach this node")
    role: ServerRole = ServerRole.edge
    capacity: int = Field(default=1000, ge=0, le=10_000_000, description="max viewers")
    tenant_id: ObjectId | None = Field(default=None, description="platform admins only")

    _url = field_validator("public_url")(_http_url)


class ServerPatch(BaseModel):
    name: Label | None = Field(default=None, min_length=1, max_length=100)
    public_url: str | None = Field(default=None, max_length=500)
    role: ServerRole | None = None
    status: ServerStatus | None = Field(default=None, description="set disabled to drain it")
    capacity: int | None = Field(default=None, ge=0, le=10_000_000)

    _url = field_validator("public_url")(_http_url)


class ServerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    tenant_id: int
    name: str
    public_url: str
    role: ServerRole
    status: ServerStatus
    capacity: int
    last_heartbeat_at: datetime | None
    created_at: datetime


class ServerCreated(ServerOut):
    token: str = Field(description="the node's enrolment token: shown once, only its hash is kept")


@router.get("/servers", response_model=Page[ServerOut])
def list_servers(
    principal: Staff,
    session: DbSession,
    params: Annotated[ListParams, Depends()],
    status: ServerStatus | None = None,
    role: ServerRole | None = None,
    tenant_id: QueryId = None,
) -> Page[ServerOut]:
    stmt = scoped_select(principal, Server, tenant_id)
    if status:
        stmt = stmt.where(Server.status == status)
    if role:
        stmt = stmt.where(Server.role == role)
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

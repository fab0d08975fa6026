"""Tenants (panels): platform admins manage all; a tenant's own users read their own."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from palinsesto.accounts.models import ConnectionPolicy, Tenant, TenantStatus
from palinsesto.accounts.plans import PLANS
from palinsesto.accounts.trials import trial_over
from palinsesto.catalog.syndication import close_for_tenant
from palinsesto.names import SLUG_PATTERN
from palinsesto.panel.admin.api.changes import audited, mark_changed
from palinsesto.panel.admin.api.deps import (
    Context,
    CurrentPrincipal,
    DbSession,
    PlatformAdmin,
    Principal,
)
from palinsesto.panel.admin.api.errors import Conflict, NotFound
from palinsesto.panel.admin.api.identifiers import Label
from palinsesto.panel.admin.api.inputs import InputModel
from palinsesto.panel.admin.api.pagination import ListParams, Page, page_of, paginate
from palinsesto.panel.admin.api.patching import apply_changes, patch_changes
from palinsesto.panel.admin.api.types import PathId, TimeZone
from palinsesto.panel.admin.syndication_log import PLATFORM_ACTOR, record_both, record_owner_status
from palinsesto.trust.audit import snapshot

router = APIRouter(tags=["tenants"])


class TenantIn(InputModel):
    name: Label = Field(min_length=1, max_length=200)
    slug: str = Field(pattern=SLUG_PATTERN, description="lower-case letters, digits and '-'")
    status: TenantStatus = TenantStatus.active
    max_channels: int | None = Field(default=None, ge=0, le=10_000_000)
    max_lines: int | None = Field(default=None, ge=0, le=100_000_000)
    max_nodes: int | None = Field(default=None, ge=0, le=100_000)
    max_viewers: int | None = Field(default=None, ge=0, le=100_000_000)
    max_storage_gb: int | None = Field(default=None, ge=0, le=100_000_000)
    trial_ends_at: datetime | None = None
    connection_policy: ConnectionPolicy = ConnectionPolicy.kick_oldest
    playback_slates: bool = Field(
        default=False, description="expired/banned/offline TS plays get a placeholder clip"
    )
    timezone: TimeZone = "UTC"
    message: str = Field(default="", max_length=2000)
    rights_required: bool | None = Field(
        default=None,
        description="content plays and is listed only with a current rights record; "
        "unset: on when the panel has a public PALINSESTO_PUBLIC_URL",
    )


class TenantPatch(InputModel):
    name: Label | None = Field(default=None, min_length=1, max_length=200)
    status: TenantStatus | None = None
    max_channels: int | None = Field(default=None, ge=0, le=10_000_000)
    max_lines: int | None = Field(default=None, ge=0, le=100_000_000)
    max_nodes: int | None = Field(default=None, ge=0, le=100_000)
    max_viewers: int | None = Field(default=None, ge=0, le=100_000_000)
    max_storage_gb: int | None = Field(default=None, ge=0, le=100_000_000)
    trial_ends_at: datetime | None = None
    connection_policy: ConnectionPolicy | None = None
    playback_slates: bool | None = None
    rights_required: bool | None = None
    timezone: TimeZone | None = None
    message: str | None = Field(default=None, max_length=2000)


# The plan limits a null clears (no limit); any other field keeps its value on a null.
LIMITS = frozenset(
    {"max_channels", "max_lines", "max_nodes", "max_viewers", "max_storage_gb", "trial_ends_at"}
)


class TenantOut(TenantIn):
    model_config = ConfigDict(from_attributes=True)
    id: int
    plan: str | None
    created_at: datetime
    rights_required: bool | None = None  # always set on a stored tenant


class PlanOut(BaseModel):
    name: str
    max_channels: int | None
    max_lines: int | None
    max_nodes: int | None
    max_storage_gb: int | None
    max_viewers: int | None
    trial_days: int


def _get(session: DbSession, principal: Principal, tenant_id: int) -> Tenant:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None or not (principal.is_platform or principal.tenant_id == tenant_id):
        raise NotFound(f"Tenant {tenant_id} not found.")
    return tenant


@router.get("/tenants", response_model=Page[TenantOut])
def list_tenants(
    principal: CurrentPrincipal,
    session: DbSession,
    params: Annotated[ListParams, Depends()],
    q: Annotated[str | None, Query(max_length=100, description="name or slug contains")] = None,
    status: TenantStatus | None = None,
) -> Page[TenantOut]:
    stmt = select(Tenant)
    if not principal.is_platform:
        stmt = stmt.where(Tenant.id == principal.tenant_id)
    if q:
        stmt = stmt.where(Tenant.name.contains(q) | Tenant.slug.contains(q))
    if status:
        stmt = stmt.where(Tenant.status == status)
    sortable = {"id": Tenant.id, "name": Tenant.name, "slug": Tenant.slug}
    rows, total = paginate(session, stmt, params, sortable, Tenant.id)
    return page_of(rows, total, params, TenantOut)


@router.post("/tenants", response_model=TenantOut, status_code=201)
def create_tenant(
    body: TenantIn, principal: PlatformAdmin, session: DbSession, ctx: Context
) -> Tenant:
    if session.scalar(select(Tenant.id).where(Tenant.slug == body.slug)) is not None:
        raise Conflict("A tenant with this slug exists.", fields={"slug": "Already taken."})
    values = body.model_dump()
    if values["rights_required"] is None:  # a public panel distributes only what it may
        values["rights_required"] = ctx.settings.public_panel
    tenant = Tenant(**values)
    session.add(tenant)
    audited(session, principal, "create", "tenant", tenant)
    return tenant


@router.get("/tenants/{tenant_id}", response_model=TenantOut)
def get_tenant(tenant_id: PathId, principal: CurrentPrincipal, session: DbSession) -> Tenant:
    return _get(session, principal, tenant_id)


@router.patch("/tenants/{tenant_id}", response_model=TenantOut)
def update_tenant(
    tenant_id: PathId, body: TenantPatch, principal: PlatformAdmin, session: DbSession
) -> Tenant:
    tenant = _get(session, principal, tenant_id)
    before = snapshot(tenant)
    was_active = tenant.status is TenantStatus.active
    apply_changes(tenant, patch_changes(body, nullable=LIMITS))
    audited(session, principal, "update", "tenant", tenant, before=before)
    _status_changed(session, tenant, was_active)
    return tenant


def _status_changed(session: Session, tenant: Tenant, was_active: bool) -> None:
    """The partners of a panel that stops (or starts again) being active hear it in their
    logs: its channels play to no partner meanwhile (panel/playback/access.py)."""
    if was_active != (tenant.status is TenantStatus.active):
        record_owner_status(session, tenant.id, "suspend" if was_active else "resume")


@router.delete("/tenants/{tenant_id}", status_code=204)
def delete_tenant(tenant_id: PathId, principal: PlatformAdmin, session: DbSession) -> None:
    tenant = _get(session, principal, tenant_id)
    _end_syndications(session, tenant)
    audited(session, principal, "delete", "tenant", tenant)
    session.delete(tenant)


def _end_syndications(session: Session, tenant: Tenant) -> None:
    """Every syndication the deleted panel is a side of ends first: its channels leave
    partners' catalogues (their viewers are cut), partners it carried from lose it as a
    partner, and both logs say so (the deleted panel's entries keep its id)."""
    for row, action in close_for_tenant(session, tenant.id, datetime.now(UTC)):
        record_both(session, row, action, actor_id=None, actor=PLATFORM_ACTOR)
        mark_changed(session, row.partner_tenant_id, "catalog.live")
        mark_changed(session, row.partner_tenant_id, "channels")


@router.get("/plans", response_model=list[PlanOut])
def list_plans(principal: CurrentPrincipal) -> list[PlanOut]:
    """The plan catalogue (palinsesto.accounts.plans): limits a new panel starts with."""
    return [PlanOut(**asdict(plan)) for plan in PLANS.values()]


# The status moves the platform admin makes: which statuses each starts from, where it ends.
MOVES: dict[str, tuple[frozenset[TenantStatus], TenantStatus]] = {
    "approve": (frozenset({TenantStatus.pending}), TenantStatus.active),
    "suspend": (frozenset({TenantStatus.active, TenantStatus.pending}), TenantStatus.suspended),
    "resume": (frozenset({TenantStatus.suspended}), TenantStatus.active),
}


def _move(session: DbSession, principal: Principal, tenant_id: int, move: str) -> Tenant:
    return move_tenant(session, principal, _get(session, principal, tenant_id), move)


def move_tenant(session: Session, principal: Principal, tenant: Tenant, move: str) -> Tenant:
    """Apply one of :data:`MOVES` (Conflict when the tenant's status does not allow it);
    also used by notice decisions that suspend a service and by their lifting."""
    sources, target = MOVES[move]
    if tenant.status not in sources:
        raise Conflict(f"A {tenant.status.value} tenant cannot be {move}d.")
    if target is TenantStatus.active and trial_over(tenant, datetime.now(UTC)):
        raise Conflict(
            "The trial is over: extend trial_ends_at or clear it (a paid plan) first.",
            fields={"trial_ends_at": "In the past."},
        )
    before = snapshot(tenant)
    was_active = tenant.status is TenantStatus.active
    tenant.status = target
    # Publishes the tenant's "lines" topic: the live engine cuts (or lets back) its viewers,
    # and partners' viewers of its syndicated channels (panel/local_node/engine.py).
    audited(session, principal, move, "tenant", tenant, before=before)
    _status_changed(session, tenant, was_active)
    return tenant


@router.post("/tenants/{tenant_id}/approve", response_model=TenantOut)
def approve_tenant(tenant_id: PathId, principal: PlatformAdmin, session: DbSession) -> Tenant:
    """A signed-up panel waiting for approval becomes active; its owner may sign in."""
    return _move(session, principal, tenant_id, "approve")


@router.post("/tenants/{tenant_id}/suspend", response_model=TenantOut)
def suspend_tenant(tenant_id: PathId, principal: PlatformAdmin, session: DbSession) -> Tenant:
    """Viewers are cut and refused (or shown the suspended slate), staff become read-only;
    nothing is deleted."""
    return _move(session, principal, tenant_id, "suspend")


@router.post("/tenants/{tenant_id}/resume", response_model=TenantOut)
def resume_tenant(tenant_id: PathId, principal: PlatformAdmin, session: DbSession) -> Tenant:
    return _move(session, principal, tenant_id, "resume")

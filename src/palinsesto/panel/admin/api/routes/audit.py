"""The audit log: every change made through the API, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict
from sqlalchemy import select

from palinsesto.panel.admin.api.deps import DbSession, Staff
from palinsesto.panel.admin.api.pagination import ListParams, Page, page_of, paginate
from palinsesto.panel.admin.api.types import QueryId
from palinsesto.trust.models import AuditEntry

router = APIRouter(tags=["audit"])


class AuditEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    tenant_id: int | None
    actor_id: int | None
    actor: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    ip: str
    created_at: datetime


@router.get("/audit", response_model=Page[AuditEntryOut])
def list_audit(
    principal: Staff,
    session: DbSession,
    params: Annotated[ListParams, Depends()],
    entity: Annotated[str | None, Query(max_length=32)] = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[str | None, Query(max_length=64, description="username")] = None,
    action: Annotated[str | None, Query(max_length=32)] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    tenant_id: QueryId = None,
) -> Page[AuditEntryOut]:
    """Managers and support see their tenant's entries; platform admins see all."""
    stmt = select(AuditEntry)
    if not principal.is_platform:
        stmt = stmt.where(AuditEntry.tenant_id == principal.tenant_id)
    elif tenant_id is not None:
        stmt = stmt.where(AuditEntry.tenant_id == tenant_id)
    for column, value in (
        (AuditEntry.entity, entity),
        (AuditEntry.entity_id, entity_id),
        (AuditEntry.actor, actor),
        (AuditEntry.action, action),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if since is not None:
        stmt = stmt.where(AuditEntry.created_at >= since)
    if until is not None:
        stmt = stmt.where(AuditEntry.created_at < until)
    sortable = {"id": AuditEntry.id, "created_at": AuditEntry.created_at}
    rows, total = paginate(session, stmt, params, sortable, AuditEntry.id.desc())
    return page_of(rows, total, params, AuditEntryOut)

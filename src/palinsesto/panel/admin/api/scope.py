"""Tenant and reseller scoping: every query the admin API runs passes through here."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, select, true
from sqlalchemy.orm import Session

from palinsesto.accounts.models import Tenant
from palinsesto.panel.admin.api.deps import Principal
from palinsesto.panel.admin.api.errors import NotFound, ValidationFailed
from palinsesto.panel.admin.api.types import MAX_ID

M = TypeVar("M")


def tenant_clause(
    principal: Principal, model: Any, tenant_id: int | None = None
) -> ColumnElement[bool]:
    """Rows of ``model`` the caller may see; a platform admin may narrow to one tenant."""
    if principal.is_platform:
        return model.tenant_id == tenant_id if tenant_id is not None else true()
    return model.tenant_id == principal.tenant_id


def scoped_select(
    principal: Principal, model: type[M], tenant_id: int | None = None
) -> Select[Any]:
    return select(model).where(tenant_clause(principal, model, tenant_id))


def get_scoped(
    session: Session, principal: Principal, model: type[M], object_id: int, *, label: str
) -> M:
    """The object if it exists *and* the caller may see it; otherwise 404 in both cases,
    so that another tenant's ids reveal nothing."""
    # An id no column can hold names nothing (and must not reach the driver as an overflow).
    obj = session.get(model, object_id) if 0 < object_id <= MAX_ID else None
    if obj is None or not (principal.is_platform or obj.tenant_id == principal.tenant_id):  # type: ignore[attr-defined]
        raise NotFound(f"{label} {object_id} not found.")
    return obj


def tenant_for_create(session: Session, principal: Principal, requested: int | None) -> int:
    """The tenant a new row belongs to: the caller's own, or the one a platform admin names."""
    if principal.is_platform:
        if requested is None:
            raise ValidationFailed(
                "Platform admins must say which tenant the object belongs to.",
                fields={"tenant_id": "Field required for platform admins."},
            )
        if session.get(Tenant, requested) is None:
            raise ValidationFailed(
                f"Tenant {requested} does not exist.", fields={"tenant_id": "No such tenant."}
            )
        return requested
    return principal.tenant_id  # type: ignore[return-value]

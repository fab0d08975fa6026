"""A service's operator details and its IP retention: what its public pages say about who
runs it, and how long stored client addresses are kept.

The owner (or a platform admin) edits them; they appear on ``/t/<slug>/operator`` and in
``/t/<slug>/.well-known/security.txt`` (palinsesto.panel.admin.legal_pages), and the legal
jobs apply the retention (palinsesto.panel.admin.legal_jobs).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import ConfigDict, Field

from palinsesto.accounts.models import Tenant
from palinsesto.panel.admin.api.deps import Context, DbSession, Manager, Principal
from palinsesto.panel.admin.api.errors import NotFound, ValidationFailed
from palinsesto.panel.admin.api.inputs import InputModel
from palinsesto.panel.admin.api.types import PathId
from palinsesto.trust.audit import record, snapshot

router = APIRouter(tags=["tenants"])

_CONTACT = r"^(mailto:[^@\s]+@[^@\s]+|https://\S+)$"
Days = Annotated[int | None, Field(default=None, ge=1, le=36500)]


class OperatorIn(InputModel):
    operator_name: str = Field(default="", max_length=200, description="the legal entity")
    operator_address: str = Field(default="", max_length=500)
    operator_email: str = Field(default="", max_length=254, pattern=r"^$|^[^@\s]+@[^@\s]+$")
    security_contact: str = Field(
        default="",
        max_length=254,
        pattern=f"^$|{_CONTACT}",
        description="mailto: or https: address for security reports (security.txt's Contact)",
    )
    ip_truncate_days: Days = Field(
        default=None, description="client addresses cut to /24 or /48 after; none: platform's"
    )
    ip_remove_days: Days = Field(
        default=None, description="client addresses removed after; none: platform's"
    )


class OperatorOut(OperatorIn):
    model_config = ConfigDict(from_attributes=True)
    effective_ip_truncate_days: int
    effective_ip_remove_days: int
    page: str = Field(description="the public operator page")


def _tenant(session: DbSession, principal: Principal, tenant_id: int) -> Tenant:
    tenant = session.get(Tenant, tenant_id)
    if tenant is None or not (principal.is_platform or principal.tenant_id == tenant_id):
        raise NotFound(f"Tenant {tenant_id} not found.")
    return tenant


def _out(tenant: Tenant, ctx: Context) -> OperatorOut:
    settings = ctx.settings
    return OperatorOut(
        operator_name=tenant.operator_name,
        operator_address=tenant.operator_address,
        operator_email=tenant.operator_email,
        security_contact=tenant.security_contact,
        ip_truncate_days=tenant.ip_truncate_days,
        ip_remove_days=tenant.ip_remove_days,
        effective_ip_truncate_days=tenant.ip_truncate_days or settings.ip_truncate_days,
        effective_ip_remove_days=tenant.ip_remove_days or settings.ip_remove_days,
        page=f"{settings.effective_public_url}/t/{tenant.slug}/operator",
    )


@router.get("/tenants/{tenant_id}/operator", response_model=OperatorOut)
def get_operator(
    tenant_id: PathId, principal: Manager, session: DbSession, ctx: Context
) -> OperatorOut:
    return _out(_tenant(session, principal, tenant_id), ctx)


@router.put("/tenants/{tenant_id}/operator", response_model=OperatorOut)
def set_operator(
    tenant_id: PathId, body: OperatorIn, principal: Manager, session: DbSession, ctx: Context
) -> OperatorOut:
    """Set who operates the service and how long it keeps client addresses."""
    tenant = _tenant(session, principal, tenant_id)
    truncate = body.ip_truncate_days or ctx.settings.ip_truncate_days
    remove = body.ip_remove_days or ctx.settings.ip_remove_days
    if truncate > remove:
        raise ValidationFailed(
            "Addresses would be removed before they are truncated.",
            fields={"ip_remove_days": f"Must be at least {truncate} (the truncation delay)."},
        )
    before = snapshot(tenant)
    for name, value in body.model_dump().items():
        setattr(tenant, name, value.strip() if isinstance(value, str) else value)
    # Recorded, not published as a tenant change: no cache holds these details.
    record(
        session,
        actor_id=principal.user_id,
        actor=principal.username,
        tenant_id=tenant.id,
        action="update",
        entity="tenant",
        entity_id=tenant.id,
        before=before,
        after=snapshot(tenant),
        ip=principal.ip,
    )
    return _out(tenant, ctx)

"""The end of a trial: a panel whose ``trial_ends_at`` has passed is suspended.

Suspension keeps everything (see admin/api/routes/tenants.py); the platform admin moves the
panel to a paid plan or extends the trial (``PATCH /tenants/{id}``) and then resumes it.
Resuming while the trial is still over is refused, or the next sweep would suspend it again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from palinsesto.accounts.models import Tenant, TenantStatus
from palinsesto.trust.audit import record


def trial_over(tenant: Tenant, now: datetime) -> bool:
    return tenant.trial_ends_at is not None and tenant.trial_ends_at <= now


def end_trials(session: Session, now: datetime) -> list[int]:
    """Suspend every active panel whose trial is over; their ids (to publish changes)."""
    ended = session.scalars(
        select(Tenant)
        .where(
            Tenant.status == TenantStatus.active,
            Tenant.trial_ends_at.is_not(None),
            Tenant.trial_ends_at <= now,
        )
        .with_for_update()
    ).all()
    for tenant in ended:
        tenant.status = TenantStatus.suspended
        record(
            session,
            actor_id=None,
            actor="system",
            tenant_id=tenant.id,
            action="trial_ended",
            entity="tenant",
            entity_id=tenant.id,
            before={"status": TenantStatus.active.value},
            after={"status": TenantStatus.suspended.value, "plan": tenant.plan},
        )
    return [t.id for t in ended]

"""Ending a restriction: what a notice action did is undone, audited, with a statement.

Used by the legal jobs (an action past its expiry; a counter-notice whose notifier did not
go to court in time). Ending sessions leaves nothing to undo; a suspended line is enabled
again, a disabled channel or movie too, the line blocks the action created are deleted, a
service it suspended is resumed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from palinsesto.accounts.models import Line, Role, Tenant, TenantStatus
from palinsesto.accounts.trials import trial_over
from palinsesto.catalog.models import Channel, Movie
from palinsesto.panel.admin.api.changes import audited
from palinsesto.panel.admin.api.deps import Principal
from palinsesto.panel.admin.api.routes.tenants import move_tenant
from palinsesto.panel.admin.api.types import MAX_ID
from palinsesto.trust.audit import record, snapshot
from palinsesto.trust.counter_notices import LiftReason, lift_statement
from palinsesto.trust.models import LineBlock, Notice, NoticeAction
from palinsesto.trust.notices import ActionKind

# The actor the audit log names for what the legal jobs do (no admin user acted).
LEGAL_JOBS = Principal(
    user_id=0, username="system:legal-jobs", role=Role.platform_admin, tenant_id=None
)


def lift(
    session: Session,
    action: NoticeAction,
    reason: LiftReason,
    now: datetime,
    counter_notice_id: int | None = None,
    *,
    actor: Principal = LEGAL_JOBS,
    facts: str = "",
) -> None:
    """Undo ``action`` in its tenant and record why (it must not be lifted already).

    ``actor`` is who the audit log names: the legal jobs, or the staff member who lifted it
    after a review (``facts``: their reasons, in the lift statement).
    """
    notice = session.get(Notice, action.notice_id)
    tenant_id = notice.tenant_id if notice is not None else None
    kind = ActionKind(action.kind)
    if kind is ActionKind.block_item:
        for block in session.scalars(select(LineBlock).where(LineBlock.action_id == action.id)):
            audited(session, actor, "delete", "line_block", block)
            session.delete(block)
    for target in action.targets:
        if kind is ActionKind.suspend_line and target["kind"] == "line":
            line = session.scalar(
                select(Line).where(Line.username == target["ref"], Line.tenant_id == tenant_id)
            )
            if line is not None and not line.enabled:
                before = snapshot(line)
                line.enabled = True
                audited(session, actor, "update", "line", line, before=before)
        elif kind is ActionKind.disable_item and target["ref"].isdigit():
            item_id = int(target["ref"])
            row: Channel | Movie | None = None
            if item_id <= MAX_ID and target["kind"] == "channel":
                row = session.get(Channel, item_id)
            elif item_id <= MAX_ID and target["kind"] == "movie":
                row = session.get(Movie, item_id)
            if row is not None and row.tenant_id == tenant_id and not row.enabled:
                before = snapshot(row)
                row.enabled = True
                audited(session, actor, "update", target["kind"], row, before=before)
        elif kind is ActionKind.suspend_tenant and target["kind"] == "tenant":
            tenant = session.get(Tenant, int(target["ref"]))
            # Resumed unless someone resumed it already, or its trial ended meanwhile (then
            # it stays suspended for that reason, which is not this decision's).
            if (
                tenant is not None
                and tenant.status is TenantStatus.suspended
                and not trial_over(tenant, now)
            ):
                move_tenant(session, actor, tenant, "resume")
    action.lifted_at = now
    action.lift_reason = reason.value
    action.lift_statement = lift_statement(
        action.id, kind, reason, now, list(action.targets), counter_notice_id, facts
    )
    record(
        session,
        actor_id=actor.user_id or None,
        actor=actor.username,
        tenant_id=tenant_id,
        action="lift",
        entity="notice_action",
        entity_id=action.id,
        after={"reason": reason.value, "counter_notice_id": counter_notice_id},
        ip=actor.ip,
    )

"""The transparency report (DSA Art. 15): counts and median times per period, as JSON.

Staff read their service's report (platform admins: the whole platform, or one tenant);
anyone reads the published one (``/public/transparency-report``, and as a page at
``/transparency`` and ``/t/<slug>/transparency``, see palinsesto.panel.admin.legal_pages).
The figures are computed by :func:`palinsesto.trust.notices.transparency_report`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime
from sqlalchemy import select
from sqlalchemy.orm import Session

from palinsesto.accounts.models import Tenant
from palinsesto.panel.admin.api.deps import DbSession, Staff
from palinsesto.panel.admin.api.errors import NotFound, ValidationFailed
from palinsesto.panel.admin.api.types import QueryId
from palinsesto.trust.models import CounterNotice, Notice, NoticeAction
from palinsesto.trust.notices import (
    ActionKind,
    CounterFacts,
    LiftFacts,
    NoticeFacts,
    NoticeRegime,
    NoticeStatus,
    transparency_report,
)

router = APIRouter(tags=["notices"])

DEFAULT_PERIOD = timedelta(days=30)


def period(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    """The period asked for (default: the 30 days up to now); an empty one is refused."""
    end = until or datetime.now(UTC)
    start = since or end - DEFAULT_PERIOD
    if start >= end:
        raise ValidationFailed("The period is empty.", fields={"since": "Must be before until."})
    return start, end


def build_report(
    session: Session, tenant_id: int | None, start: datetime, end: datetime
) -> dict[str, Any]:
    """The report for one tenant, or (``tenant_id`` None) for the whole platform."""
    notice_stmt = select(Notice).where(Notice.received_at >= start, Notice.received_at < end)
    counter_stmt = select(CounterNotice).where(
        CounterNotice.received_at >= start, CounterNotice.received_at < end
    )
    lift_stmt = (
        select(NoticeAction.lifted_at, NoticeAction.lift_reason)
        .join(Notice, Notice.id == NoticeAction.notice_id)
        .where(NoticeAction.lifted_at >= start, NoticeAction.lifted_at < end)
    )
    if tenant_id is not None:
        notice_stmt = notice_stmt.where(Notice.tenant_id == tenant_id)
        counter_stmt = counter_stmt.where(CounterNotice.tenant_id == tenant_id)
        lift_stmt = lift_stmt.where(Notice.tenant_id == tenant_id)
    notices = list(session.scalars(notice_stmt))
    kinds: dict[int, list[ActionKind]] = {}
    first_action: dict[int, datetime] = {}
    if notices:
        for notice_id, kind, created in session.execute(
            select(NoticeAction.notice_id, NoticeAction.kind, NoticeAction.created_at)
            .where(NoticeAction.notice_id.in_([n.id for n in notices]))
            .order_by(NoticeAction.created_at)
        ):
            kinds.setdefault(notice_id, []).append(ActionKind(kind))
            if kind != ActionKind.reject.value:
                first_action.setdefault(notice_id, created)
    facts = [
        NoticeFacts(
            regime=NoticeRegime(n.regime),
            status=NoticeStatus(n.status),
            trusted=n.trusted,
            received_at=n.received_at,
            decided_at=n.decided_at,
            actions=kinds.get(n.id, []),
            first_action_at=first_action.get(n.id),
        )
        for n in notices
    ]
    counters = [
        CounterFacts(c.received_at, c.status, c.restored_at) for c in session.scalars(counter_stmt)
    ]
    lifts = [LiftFacts(at, reason) for at, reason in session.execute(lift_stmt) if at is not None]
    report = transparency_report(facts, start, end, counters, lifts)
    report["scope"] = "platform" if tenant_id is None else "tenant"
    return report


def tenant_by_slug(session: Session, slug: str) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        raise NotFound("No service has this name on the platform.")
    return tenant


@router.get("/transparency-report")
def transparency(
    principal: Staff,
    session: DbSession,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    tenant_id: QueryId = None,
) -> dict[str, Any]:
    """Counts and median handling times in a period (default: 30 days): the caller's
    service, or for platform admins the whole platform (or ``tenant_id``)."""
    start, end = period(since, until)
    scope = tenant_id if principal.is_platform else principal.tenant_id
    return build_report(session, scope, start, end)


@router.get("/public/transparency-report")
def public_transparency(
    session: DbSession,
    tenant: str | None = Query(default=None, max_length=64, description="a service's slug"),
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> dict[str, Any]:
    """The published report: the platform's, or one service's (no account needed)."""
    start, end = period(since, until)
    tenant_id = tenant_by_slug(session, tenant).id if tenant else None
    report = build_report(session, tenant_id, start, end)
    if tenant:
        report["service"] = tenant
    return report

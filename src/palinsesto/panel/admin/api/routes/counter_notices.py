"""Counter-notices: the restricted party objects, the notifier is told and may go to court.

``POST /public/counter-notices`` takes an objection to a decision, named by the reference
in its statement of reasons (so only who received the statement can object). The notifier
is told through its own receipt (``GET /public/notices/{receipt}`` lists the objections and
their deadlines) and may record legal action there, or staff record it for them; unless
that happens within ``PALINSESTO_COUNTER_NOTICE_BUSINESS_DAYS`` business days, the legal
jobs lift the restriction (palinsesto.panel.admin.legal_jobs).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from palinsesto.db.base import utcnow
from palinsesto.panel.admin.api.deps import Context, DbSession, Manager, Principal
from palinsesto.panel.admin.api.errors import Conflict, NotFound, ValidationFailed
from palinsesto.panel.admin.api.inputs import InputModel
from palinsesto.panel.admin.api.pagination import ListParams, Page, page_of, paginate
from palinsesto.panel.admin.api.types import PathId
from palinsesto.trust.audit import record
from palinsesto.trust.counter_notices import (
    CounterStatus,
    CounterSubmission,
    business_days_after,
    problems,
)
from palinsesto.trust.models import CounterNotice, Notice, NoticeAction
from palinsesto.trust.notices import ActionKind, FieldProblem

router = APIRouter(tags=["notices"])

_TEXT = 20_000


class CounterIn(InputModel):
    reference: str = Field(default="", max_length=32, description="from the statement of reasons")
    name: str = Field(default="", max_length=200)
    email: str = Field(default="", max_length=254)
    address: str = Field(default="", max_length=500)
    phone: str = Field(default="", max_length=40)
    explanation: str = Field(default="", max_length=_TEXT)
    good_faith: bool = Field(
        default=False, description="under penalty of perjury: restricted by mistake"
    )
    consent_jurisdiction: bool = False
    signature: str = Field(default="", max_length=200)


class CounterReceipt(BaseModel):
    receipt: str
    received_at: datetime
    status: CounterStatus
    restore_due_at: datetime = Field(description="lifted then unless the notifier goes to court")


class CounterOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    tenant_id: int | None
    action_id: int
    notice_id: int
    receipt: str
    status: str
    name: str
    email: str
    address: str
    phone: str
    explanation: str
    signature: str
    received_at: datetime
    notifier_told_at: datetime | None
    restore_due_at: datetime
    legal_action_at: datetime | None
    legal_action_note: str
    restored_at: datetime | None


class LegalActionIn(InputModel):
    note: str = Field(
        min_length=10, max_length=_TEXT, description="the court, the case number, the date filed"
    )


@router.post("/public/counter-notices", response_model=CounterReceipt, status_code=201)
def file_counter_notice(
    body: CounterIn, session: DbSession, request: Request, ctx: Context
) -> CounterReceipt:
    """Object to a decision (no account needed: the decision's reference is the proof).

    Every element US DMCA 512(g)(3) requires is checked, per field (422). The notifier is
    told at once (its receipt shows the objection and its deadline).
    """
    submission = CounterSubmission(**body.model_dump())
    missing = problems(submission)
    action = None
    if body.reference.strip():
        action = session.scalar(
            select(NoticeAction).where(NoticeAction.reference == body.reference.strip())
        )
        if action is None or action.kind == ActionKind.reject.value:
            missing.append(_no_reference())
    if missing:
        raise ValidationFailed(
            "The counter-notice lacks elements the law requires.",
            fields={p.field: p.message for p in missing},
        )
    assert action is not None  # a reference was given and found
    if action.lifted_at is not None:
        raise Conflict("This restriction has ended already.")
    if session.scalar(
        select(CounterNotice.id).where(
            CounterNotice.action_id == action.id,
            CounterNotice.status == CounterStatus.pending.value,
        )
    ):
        raise Conflict("An objection to this decision is already waiting for its deadline.")
    notice = session.get(Notice, action.notice_id)
    assert notice is not None  # an action's notice is deleted with it
    now = utcnow()
    counter = CounterNotice(
        tenant_id=notice.tenant_id,
        action_id=action.id,
        notice_id=notice.id,
        receipt=secrets.token_urlsafe(12),
        status=CounterStatus.pending.value,
        name=body.name.strip(),
        email=body.email.strip(),
        address=body.address.strip(),
        phone=body.phone.strip(),
        explanation=body.explanation.strip(),
        good_faith=body.good_faith,
        consent_jurisdiction=body.consent_jurisdiction,
        signature=body.signature.strip(),
        ip=request.client.host if request.client else "",
        received_at=now,
        notifier_told_at=now,
        restore_due_at=business_days_after(now, ctx.settings.counter_notice_business_days),
        legal_action_note="",
    )
    session.add(counter)
    session.flush()
    record(
        session,
        actor_id=None,
        actor="affected-party",
        tenant_id=notice.tenant_id,
        action="create",
        entity="counter_notice",
        entity_id=counter.id,
        after={"action_id": action.id, "restore_due_at": counter.restore_due_at.isoformat()},
        ip=counter.ip,
    )
    # Telling the notifier: its receipt now lists this objection and its deadline.
    record(
        session,
        actor_id=None,
        actor="system",
        tenant_id=notice.tenant_id,
        action="notify",
        entity="notice",
        entity_id=notice.id,
        after={"counter_notice_id": counter.id, "told": "notifier", "via": "notice receipt"},
    )
    return _receipt(counter)


def _no_reference() -> FieldProblem:
    return FieldProblem("reference", "No decision that can be objected to has this reference.")


def _receipt(counter: CounterNotice) -> CounterReceipt:
    return CounterReceipt(
        receipt=counter.receipt,
        received_at=counter.received_at,
        status=CounterStatus(counter.status),
        restore_due_at=counter.restore_due_at,
    )


@router.get("/public/counter-notices/{receipt}", response_model=CounterReceipt)
def counter_notice_status(
    receipt: Annotated[str, Field(max_length=32)], session: DbSession
) -> CounterReceipt:
    counter = session.scalar(select(CounterNotice).where(CounterNotice.receipt == receipt))
    if counter is None:
        raise NotFound("No counter-notice has this receipt.")
    return _receipt(counter)


@router.post("/public/notices/{receipt}/legal-action", response_model=list[CounterReceipt])
def notifier_legal_action(
    receipt: Annotated[str, Field(max_length=32)], body: LegalActionIn, session: DbSession
) -> list[CounterReceipt]:
    """The notifier (by its notice's receipt) reports it has gone to court: the objections
    waiting on its notice no longer lift the restriction."""
    notice = session.scalar(select(Notice).where(Notice.receipt == receipt))
    if notice is None:
        raise NotFound("No notice has this receipt.")
    pending = _pending(session, select(CounterNotice).where(CounterNotice.notice_id == notice.id))
    if not pending:
        raise Conflict("No objection to this notice's decisions is waiting.")
    for counter in pending:
        _record_legal_action(session, counter, body.note, "notifier")
    return [_receipt(c) for c in pending]


def _pending(session: Session, stmt: Select[Any]) -> list[CounterNotice]:
    return list(session.scalars(stmt.where(CounterNotice.status == CounterStatus.pending.value)))


def _record_legal_action(
    session: Session, counter: CounterNotice, note: str, actor: str, actor_id: int | None = None
) -> None:
    counter.status = CounterStatus.upheld.value
    counter.legal_action_at = utcnow()
    counter.legal_action_note = note.strip()
    record(
        session,
        actor_id=actor_id,
        actor=actor,
        tenant_id=counter.tenant_id,
        action="legal_action",
        entity="counter_notice",
        entity_id=counter.id,
        after={"note": counter.legal_action_note},
    )


def _scoped(principal: Principal) -> Select[Any]:
    if principal.is_platform:
        return select(CounterNotice)
    return select(CounterNotice).where(CounterNotice.tenant_id == principal.tenant_id)


@router.get("/counter-notices", response_model=Page[CounterOut])
def list_counter_notices(
    principal: Manager,
    session: DbSession,
    params: Annotated[ListParams, Depends()],
    status: CounterStatus | None = None,
) -> Page[CounterOut]:
    """Objections to the caller's service's decisions, newest first."""
    stmt = _scoped(principal)
    if status is not None:
        stmt = stmt.where(CounterNotice.status == status.value)
    rows, total = paginate(
        session,
        stmt,
        params,
        {"received_at": CounterNotice.received_at, "id": CounterNotice.id},
        CounterNotice.received_at.desc(),
    )
    return page_of(rows, total, params, CounterOut)


@router.post("/counter-notices/{counter_id}/legal-action", response_model=CounterOut)
def staff_legal_action(
    counter_id: PathId, body: LegalActionIn, principal: Manager, session: DbSession
) -> CounterNotice:
    """Record the notifier's legal action on its behalf (it told the operator directly)."""
    counter = session.scalar(_scoped(principal).where(CounterNotice.id == counter_id))
    if counter is None:
        raise NotFound(f"Counter-notice {counter_id} not found.")
    if counter.status != CounterStatus.pending.value:
        raise Conflict(f"This counter-notice is {counter.status} already.")
    _record_legal_action(session, counter, body.note, principal.username, principal.user_id)
    return counter

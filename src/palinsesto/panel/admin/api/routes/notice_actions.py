"""The decisions taken on notices, across notices: the list staff review, lift and re-date.

A decision is taken on one notice (``POST /notices/{id}/actions`` in ``notices.py``); this
module is where staff find the restrictions in force, end one after a review (the line or
item comes back, with a lift statement; pending counter-notices on it become moot) or set
when it is to be reviewed next. Everything is written to the audit log.
"""

from __future__ import annotations

import enum
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import Field
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from palinsesto.db.base import utcnow
from palinsesto.panel.admin.api.deps import DbSession, Manager, Principal
from palinsesto.panel.admin.api.errors import Conflict, Forbidden, NotFound
from palinsesto.panel.admin.api.inputs import InputModel
from palinsesto.panel.admin.api.lifting import lift
from palinsesto.panel.admin.api.pagination import ListParams, Page, page_of, paginate
from palinsesto.panel.admin.api.routes.notices import ActionOut
from palinsesto.panel.admin.api.types import PathId, QueryId
from palinsesto.trust.audit import record
from palinsesto.trust.counter_notices import CounterStatus, LiftReason, restrictable
from palinsesto.trust.models import CounterNotice, Notice, NoticeAction
from palinsesto.trust.notices import ActionKind

router = APIRouter(tags=["notices"])


class ActionState(enum.StrEnum):
    in_force = "in_force"  # a restriction not lifted yet
    lifted = "lifted"
    due_for_review = "due_for_review"  # in force, and its review date has come


class LiftIn(InputModel):
    facts: str = Field(
        min_length=10, max_length=20_000, description="why the restriction ends, in words"
    )


class ReviewIn(InputModel):
    note: str = Field(min_length=3, max_length=2000, description="what the review found")
    review_days: int | None = Field(
        default=None, ge=1, le=3650, description="review again after; none: no further review"
    )


def _scoped(principal: Principal) -> Select[Any]:
    stmt = select(NoticeAction).join(Notice, Notice.id == NoticeAction.notice_id)
    if principal.is_platform:
        return stmt
    return stmt.where(Notice.tenant_id == principal.tenant_id)


def _get(session: Session, principal: Principal, action_id: int) -> NoticeAction:
    action = session.scalar(_scoped(principal).where(NoticeAction.id == action_id))
    if action is None:
        raise NotFound(f"Action {action_id} not found.")
    return action


@router.get("/notice-actions", response_model=Page[ActionOut])
def list_actions(
    principal: Manager,
    session: DbSession,
    params: Annotated[ListParams, Depends()],
    state: ActionState | None = None,
    notice_id: QueryId = None,
) -> Page[ActionOut]:
    """Decisions on the caller's service's notices, newest first (rejections included)."""
    stmt = _scoped(principal)
    kinds = [k.value for k in ActionKind if restrictable(k)]
    if state is ActionState.lifted:
        stmt = stmt.where(NoticeAction.lifted_at.is_not(None))
    elif state is not None:
        stmt = stmt.where(NoticeAction.lifted_at.is_(None), NoticeAction.kind.in_(kinds))
        if state is ActionState.due_for_review:
            stmt = stmt.where(NoticeAction.review_at <= utcnow())
    if notice_id is not None:
        stmt = stmt.where(NoticeAction.notice_id == notice_id)
    rows, total = paginate(
        session,
        stmt,
        params,
        {"created_at": NoticeAction.created_at, "id": NoticeAction.id},
        NoticeAction.id.desc(),
    )
    return page_of(rows, total, params, ActionOut)


@router.post("/notice-actions/{action_id}/lift", response_model=ActionOut)
def lift_action(
    action_id: PathId, body: LiftIn, principal: Manager, session: DbSession
) -> NoticeAction:
    """End a restriction after a review: the line or item is back, with a lift statement."""
    action = _get(session, principal, action_id)
    if not restrictable(ActionKind(action.kind)):
        raise Conflict("This decision left no restriction to lift.")
    if action.kind == ActionKind.suspend_tenant.value and not principal.is_platform:
        raise Forbidden("Only platform staff may lift the suspension of a service.")
    if action.lifted_at is not None:
        raise Conflict("This restriction was lifted already.")
    lift(session, action, LiftReason.staff, utcnow(), actor=principal, facts=body.facts.strip())
    for counter in session.scalars(
        select(CounterNotice).where(
            CounterNotice.action_id == action.id,
            CounterNotice.status == CounterStatus.pending.value,
        )
    ):
        counter.status = CounterStatus.moot.value
    session.flush()
    return action


@router.post("/notice-actions/{action_id}/review", response_model=ActionOut)
def review_action(
    action_id: PathId, body: ReviewIn, principal: Manager, session: DbSession
) -> NoticeAction:
    """Record a review that keeps the restriction, and when to review it next."""
    action = _get(session, principal, action_id)
    if action.lifted_at is not None or not restrictable(ActionKind(action.kind)):
        raise Conflict("Only a restriction in force is reviewed.")
    before = action.review_at
    now = utcnow()
    action.review_at = now + timedelta(days=body.review_days) if body.review_days else None
    notice = session.get(Notice, action.notice_id)
    record(
        session,
        actor_id=principal.user_id,
        actor=principal.username,
        tenant_id=notice.tenant_id if notice is not None else None,
        action="review",
        entity="notice_action",
        entity_id=action.id,
        before={"review_at": before.isoformat() if before else None},
        after={
            "review_at": action.review_at.isoformat() if action.review_at else None,
            "note": body.note.strip(),
        },
        ip=principal.ip,
    )
    session.flush()
    return action

"""Notice-and-action: the public notice API, the staff's decisions, the transparency report.

Anyone may file a notice (``POST /public/notices``), to one tenant (``tenant``: its slug)
or to the platform; the answer is a receipt whose code also reads the notice's status.
Managers of the tenant list the notices, act on them (end the line's plays, block the item
for the line, suspend the line, disable the item, or reject; platform staff may also suspend
the whole service), and each decision is stored with its statement of
reasons (DSA Art. 17) and written to the audit log. Objections to decisions are in
``counter_notices.py``, the published figures in ``transparency.py``. The rules of what a
notice must hold and what a decision states live in :mod:`palinsesto.trust.notices`.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from palinsesto.accounts.models import Line, Role, Tenant, TenantStatus
from palinsesto.accounts.security import generate_password, hash_api_key
from palinsesto.catalog.models import Channel, Episode, Movie
from palinsesto.db.base import utcnow
from palinsesto.panel.admin.api.changes import audited
from palinsesto.panel.admin.api.deps import Context, DbSession, Manager, Principal
from palinsesto.panel.admin.api.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    ValidationFailed,
)
from palinsesto.panel.admin.api.identifiers import Label
from palinsesto.panel.admin.api.inputs import InputModel
from palinsesto.panel.admin.api.pagination import ListParams, Page, page_of, paginate
from palinsesto.panel.admin.api.routes.tenants import move_tenant
from palinsesto.panel.admin.api.types import MAX_ID, PathId, QueryId
from palinsesto.trust.audit import record, snapshot
from palinsesto.trust.models import (
    CounterNotice,
    LineBlock,
    Notice,
    NoticeAction,
    TrustedNotifier,
)
from palinsesto.trust.notices import (
    ActionKind,
    Decision,
    FieldProblem,
    NoticeRegime,
    NoticeStatus,
    NoticeSubmission,
    Target,
    TargetKind,
    locate_all,
    problems,
    statement_of_reasons,
)

router = APIRouter(tags=["notices"])

_TEXT = 20_000


class NoticeIn(InputModel):
    regime: NoticeRegime = Field(
        description="dsa: EU Digital Services Act Art. 16; dmca: 17 U.S.C. 512(c)(3)"
    )
    tenant: str | None = Field(
        default=None, max_length=64, description="the service's slug; none: the platform"
    )
    notifier_name: str = Field(default="", max_length=200)
    notifier_email: str = Field(default="", max_length=254)
    notifier_address: str = Field(default="", max_length=500)
    notifier_phone: str = Field(default="", max_length=40)
    explanation: str = Field(default="", max_length=_TEXT)
    work: str = Field(default="", max_length=_TEXT, description="DMCA: the copyrighted work")
    locations: list[Annotated[str, Field(max_length=2000)]] = Field(default=[], max_length=100)
    good_faith: bool = False
    accurate: bool = False
    authorised: bool = Field(default=False, description="DMCA: under penalty of perjury")
    signature: str = Field(default="", max_length=200)


class ObjectionOut(BaseModel):
    """A counter-notice as the notifier is told of it (no details of who objected)."""

    received_at: datetime
    status: str
    restore_due_at: datetime = Field(
        description="the restriction is lifted then unless you record legal action"
    )


class ReceiptOut(BaseModel):
    receipt: str
    received_at: datetime
    status: NoticeStatus
    regime: NoticeRegime
    targets_found: int = Field(description="how many things on this service the locations name")
    counter_notices: list[ObjectionOut] = Field(
        default=[], description="objections of the affected party to the decisions taken"
    )


class TargetOut(BaseModel):
    kind: TargetKind
    ref: str


class NoticeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    tenant_id: int | None
    receipt: str
    regime: str
    status: str
    trusted: bool
    notifier_name: str
    notifier_email: str
    notifier_address: str
    notifier_phone: str
    explanation: str
    work: str
    locations: list[str]
    targets: list[TargetOut]
    signature: str
    received_at: datetime
    decided_at: datetime | None


class ActionIn(InputModel):
    kind: ActionKind
    facts: str = Field(
        min_length=10, max_length=_TEXT, description="what the decision relies on, in words"
    )
    legal_ground: str = Field(default="", max_length=2000)
    contractual_ground: str = Field(default="", max_length=2000)
    days: int | None = Field(
        default=None,
        ge=1,
        le=3650,
        description="how long the restriction lasts (lifted by the legal jobs after); "
        "none: until reviewed",
    )
    review_days: int | None = Field(
        default=None, ge=1, le=3650, description="when staff should review the restriction"
    )
    tenant_id: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        description="suspend_tenant on a platform-wide notice: the service to suspend "
        "(default: the one whose line the notice names)",
    )


class ActionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    notice_id: int
    kind: str
    targets: list[TargetOut]
    actor: str
    expires_at: datetime | None
    statement: dict[str, Any]
    created_at: datetime
    reference: str | None = Field(description="what the affected party quotes to object")
    review_at: datetime | None
    lifted_at: datetime | None
    lift_reason: str
    lift_statement: dict[str, Any] | None


# ---- public ----


@router.post("/public/notices", response_model=ReceiptOut, status_code=201)
def file_notice(
    body: NoticeIn,
    session: DbSession,
    request: Request,
    ctx: Context,
    notifier_key: Annotated[str | None, Header(alias="X-Notifier-Key", max_length=200)] = None,
) -> ReceiptOut:
    """File a notice about content on a service of this platform (no account needed).

    Every element the chosen regime requires is checked; what is missing comes back per
    field (422) and nothing is stored. A trusted notifier sends its key in
    ``X-Notifier-Key``; when its notice names both a line and what that line plays on the
    service (the stream URL a pirate restream uses), the line is suspended at once as the
    automatic first action, pending review (the fast path for live events).
    """
    notifier = _trusted_notifier(session, notifier_key) if notifier_key is not None else None
    submission = NoticeSubmission(
        regime=body.regime,
        notifier_name=body.notifier_name,
        notifier_email=body.notifier_email,
        notifier_address=body.notifier_address,
        notifier_phone=body.notifier_phone,
        explanation=body.explanation,
        work=body.work,
        locations=tuple(body.locations),
        good_faith=body.good_faith,
        accurate=body.accurate,
        authorised=body.authorised,
        signature=body.signature,
    )
    missing = problems(submission)
    tenant_id: int | None = None
    if body.tenant:
        tenant_id = session.scalar(select(Tenant.id).where(Tenant.slug == body.tenant))
        if tenant_id is None:
            missing.append(FieldProblem("tenant", "No service has this name on the platform."))
    if notifier is not None and notifier.tenant_id not in (None, tenant_id):
        raise Forbidden("This notifier's key is for another service.")
    if missing:
        raise ValidationFailed(
            "The notice lacks elements the law requires.",
            fields={p.field: p.message for p in missing},
        )
    targets = locate_all(body.locations)
    notice = Notice(
        tenant_id=tenant_id,
        receipt=secrets.token_urlsafe(12),
        regime=body.regime.value,
        trusted=notifier is not None,
        notifier_id=notifier.id if notifier is not None else None,
        status=NoticeStatus.received.value,
        notifier_name=body.notifier_name.strip(),
        notifier_email=body.notifier_email.strip(),
        notifier_address=body.notifier_address.strip(),
        notifier_phone=body.notifier_phone.strip(),
        explanation=body.explanation.strip(),
        work=body.work.strip(),
        locations=[loc.strip() for loc in body.locations if loc.strip()],
        targets=[{"kind": t.kind.value, "ref": t.ref} for t in targets],
        good_faith=body.good_faith,
        accurate=body.accurate,
        authorised=body.authorised,
        signature=body.signature.strip(),
        ip=request.client.host if request.client else "",
        received_at=utcnow(),
    )
    session.add(notice)
    session.flush()
    record(
        session,
        actor_id=None,
        actor="notifier",
        tenant_id=tenant_id,
        action="create",
        entity="notice",
        entity_id=notice.id,
        after={"regime": notice.regime, "targets": notice.targets, "trusted": notice.trusted},
        ip=notice.ip,
    )
    if notifier is not None and _fast_path_applies(session, notice, targets):
        _decide(
            session,
            _notifier_principal(notifier, notice),
            ctx,
            notice,
            ActionKind.suspend_line,
            facts=(
                f"Trusted notifier '{notifier.name}' named this line's own stream address "
                "for content on this service; the line is suspended pending review."
            ),
            automated=True,
        )
    return ReceiptOut(
        receipt=notice.receipt,
        received_at=notice.received_at,
        status=NoticeStatus(notice.status),
        regime=body.regime,
        targets_found=len(targets),
    )


@router.get("/public/notices/{receipt}", response_model=ReceiptOut)
def notice_status(receipt: Annotated[str, Field(max_length=32)], session: DbSession) -> ReceiptOut:
    """Where a notice stands, by the code of its receipt."""
    notice = session.scalar(select(Notice).where(Notice.receipt == receipt))
    if notice is None:
        raise NotFound("No notice has this receipt.")
    return ReceiptOut(
        receipt=notice.receipt,
        received_at=notice.received_at,
        status=NoticeStatus(notice.status),
        regime=NoticeRegime(notice.regime),
        targets_found=len(notice.targets),
        counter_notices=[
            ObjectionOut(
                received_at=c.received_at, status=c.status, restore_due_at=c.restore_due_at
            )
            for c in session.scalars(
                select(CounterNotice)
                .where(CounterNotice.notice_id == notice.id)
                .order_by(CounterNotice.id)
            )
        ],
    )


# ---- staff ----


def _scoped(principal: Principal) -> Select[Any]:
    if principal.is_platform:
        return select(Notice)
    return select(Notice).where(Notice.tenant_id == principal.tenant_id)


def _get(session: Session, principal: Principal, notice_id: int) -> Notice:
    notice = session.scalar(_scoped(principal).where(Notice.id == notice_id))
    if notice is None:
        raise NotFound(f"Notice {notice_id} not found.")
    return notice


@router.get("/notices", response_model=Page[NoticeOut])
def list_notices(
    principal: Manager,
    session: DbSession,
    params: Annotated[ListParams, Depends()],
    status: NoticeStatus | None = None,
    tenant_id: QueryId = None,
) -> Page[NoticeOut]:
    """Notices to the caller's service, newest first (platform admins: all, or one tenant)."""
    stmt = _scoped(principal)
    if status is not None:
        stmt = stmt.where(Notice.status == status.value)
    if principal.is_platform and tenant_id is not None:
        stmt = stmt.where(Notice.tenant_id == tenant_id)
    rows, total = paginate(
        session,
        stmt,
        params,
        {"received_at": Notice.received_at, "status": Notice.status, "id": Notice.id},
        Notice.received_at.desc(),
    )
    return page_of(rows, total, params, NoticeOut)


@router.get("/notices/{notice_id}", response_model=NoticeOut)
def get_notice(notice_id: PathId, principal: Manager, session: DbSession) -> Notice:
    return _get(session, principal, notice_id)


@router.get("/notices/{notice_id}/actions", response_model=list[ActionOut])
def notice_actions(notice_id: PathId, principal: Manager, session: DbSession) -> list[NoticeAction]:
    _get(session, principal, notice_id)
    return list(
        session.scalars(
            select(NoticeAction)
            .where(NoticeAction.notice_id == notice_id)
            .order_by(NoticeAction.id)
        )
    )


@router.get("/notice-actions/due-for-review", response_model=list[ActionOut])
def actions_due_for_review(principal: Manager, session: DbSession) -> list[NoticeAction]:
    """Restrictions still in force whose review date has come, oldest first."""
    stmt = (
        select(NoticeAction)
        .join(Notice, Notice.id == NoticeAction.notice_id)
        .where(NoticeAction.review_at <= utcnow(), NoticeAction.lifted_at.is_(None))
        .order_by(NoticeAction.review_at)
        .limit(500)
    )
    if not principal.is_platform:
        stmt = stmt.where(Notice.tenant_id == principal.tenant_id)
    return list(session.scalars(stmt))


@router.post("/notices/{notice_id}/actions", response_model=ActionOut, status_code=201)
def act_on_notice(
    notice_id: PathId, body: ActionIn, principal: Manager, session: DbSession, ctx: Context
) -> NoticeAction:
    """Decide on a notice: the action is carried out at once, with its statement of reasons."""
    notice = _get(session, principal, notice_id)
    if body.kind is ActionKind.suspend_tenant and not principal.is_platform:
        raise Forbidden("Only platform staff may suspend a service.")
    if body.tenant_id is not None and body.kind is not ActionKind.suspend_tenant:
        raise ValidationFailed(
            "tenant_id names the service to suspend: only suspend_tenant takes it.",
            fields={"tenant_id": "Only with kind suspend_tenant."},
        )
    if notice.tenant_id is None and body.kind not in (
        ActionKind.reject,
        ActionKind.suspend_tenant,
    ):
        raise BadRequest(
            "A platform-wide notice names no service: reject it, suspend the service "
            "it concerns, or file it anew."
        )
    return _decide(
        session,
        principal,
        ctx,
        notice,
        body.kind,
        facts=body.facts,
        legal_ground=body.legal_ground,
        contractual_ground=body.contractual_ground,
        days=body.days,
        review_days=body.review_days,
        tenant_id=body.tenant_id,
    )


def _decide(
    session: Session,
    principal: Principal,
    ctx: Any,
    notice: Notice,
    kind: ActionKind,
    *,
    facts: str,
    legal_ground: str = "",
    contractual_ground: str = "",
    days: int | None = None,
    review_days: int | None = None,
    automated: bool = False,
    tenant_id: int | None = None,
) -> NoticeAction:
    now = utcnow()
    # Stored first: what the action restricts (line blocks) refers to it, and lifting it
    # undoes exactly that. A refusal below rolls the whole request back.
    action = NoticeAction(
        notice_id=notice.id, kind=kind.value, actor=principal.username, created_at=now
    )
    session.add(action)
    session.flush()
    targets = [Target(TargetKind(t["kind"]), t["ref"]) for t in notice.targets]
    acted = _carry_out(session, principal, ctx, notice, kind, targets, action, tenant_id)
    expires = now + timedelta(days=days) if days else None
    decision = Decision(
        action=kind,
        targets=acted,
        facts=facts,
        legal_ground=legal_ground,
        contractual_ground=contractual_ground,
        automated=automated,
        expires_at=expires,
        decided_at=now,
    )
    reference = secrets.token_urlsafe(12) if kind is not ActionKind.reject else None
    statement = statement_of_reasons(notice.id, NoticeRegime(notice.regime), decision)
    if reference is not None:  # what the affected party quotes in a counter-notice
        statement["reference"] = reference
        statement["counter_notice"] = f"{ctx.settings.effective_public_url}/counter-notice"
    action.targets = [{"kind": t.kind.value, "ref": t.ref} for t in acted]
    action.expires_at = expires
    action.statement = statement
    action.reference = reference
    action.review_at = now + timedelta(days=review_days) if review_days else None
    action.lift_reason = ""
    notice.status = (
        NoticeStatus.rejected if kind is ActionKind.reject else NoticeStatus.actioned
    ).value
    notice.decided_at = notice.decided_at or now
    session.flush()
    audited(session, principal, kind.value, "notice", notice, after=snapshot(action))
    return action


def _trusted_notifier(session: Session, key: str) -> TrustedNotifier:
    notifier = session.scalar(
        select(TrustedNotifier).where(TrustedNotifier.key_hash == hash_api_key(key))
    )
    if notifier is None or not notifier.enabled:
        raise Unauthorized("This notifier key is not valid.")
    return notifier


def _fast_path_applies(session: Session, notice: Notice, targets: list[Target]) -> bool:
    """An exact match: the notice names a line of its service and an item that line plays."""
    if notice.tenant_id is None:
        return False
    names = [t.ref for t in targets if t.kind is TargetKind.line]
    items = [t for t in targets if t.kind is not TargetKind.line]
    if not names or not items:
        return False
    found = session.scalar(
        select(Line.id).where(Line.tenant_id == notice.tenant_id, Line.username.in_(names))
    )
    return found is not None


def _notifier_principal(notifier: TrustedNotifier, notice: Notice) -> Principal:
    # Audit entries of the fast path name the notifier as the actor (no admin user acted).
    return Principal(
        user_id=0,
        username=f"notifier:{notifier.name}"[:64],
        role=Role.owner,
        tenant_id=notice.tenant_id,
    )


def _carry_out(
    session: Session,
    principal: Principal,
    ctx: Any,
    notice: Notice,
    kind: ActionKind,
    targets: list[Target],
    action: NoticeAction,
    service: int | None = None,
) -> list[Target]:
    """Apply ``kind`` to what the notice names in its tenant; what it was applied to.

    ``service``: the tenant a platform admin suspends on a platform-wide notice."""
    if kind is ActionKind.reject:
        return []
    if kind is ActionKind.suspend_tenant:
        return _suspend_tenant(session, principal, notice, targets, service)
    tenant_id = notice.tenant_id
    lines = [t for t in targets if t.kind is TargetKind.line]
    items = [t for t in targets if t.kind is not TargetKind.line]
    acted: list[Target] = []
    if kind is ActionKind.disable_item:
        for target in items:
            row: Channel | Movie | None = None
            if int(target.ref) > MAX_ID:
                continue
            if target.kind is TargetKind.channel:
                row = session.get(Channel, int(target.ref))
            elif target.kind is TargetKind.movie:
                row = session.get(Movie, int(target.ref))
            if row is None or row.tenant_id != tenant_id:
                continue
            before = snapshot(row)
            row.enabled = False
            audited(session, principal, "update", target.kind.value, row, before=before)
            acted.append(target)
    elif kind is ActionKind.suspend_line:
        for target in lines:
            line = session.scalar(
                select(Line).where(Line.username == target.ref, Line.tenant_id == tenant_id)
            )
            if line is None:
                continue
            before = snapshot(line)
            line.enabled = False
            audited(session, principal, "update", "line", line, before=before)
            acted.append(target)
    elif kind is ActionKind.block_item:
        acted = _block_items(session, principal, ctx, notice, lines, items, action)
    elif kind is ActionKind.end_sessions:
        names = {t.ref for t in lines}
        channels = {int(t.ref) for t in items if t.kind is TargetKind.channel}
        ended = _end_plays(ctx, tenant_id, names, channels, "ended after a notice")
        acted.extend(Target(TargetKind.line, name) for name in ended)
    if not acted:
        raise BadRequest(
            f"Nothing this notice names could be {kind.value.replace('_', ' ')}: "
            "check its targets, or reject it."
        )
    return list(dict.fromkeys(acted))


def _end_plays(
    ctx: Any, tenant_id: int | None, names: set[str], channels: set[int], reason: str
) -> list[str]:
    """End the running live plays of lines ``names`` (of ``channels`` only, when given);
    the usernames whose plays were ended."""
    engine = ctx.services.get("live")
    ended: list[str] = []
    for viewing in list(engine.sessions.all()) if engine is not None else []:
        if viewing.tenant_id != tenant_id or viewing.username not in names:
            continue
        if channels and (viewing.entry_id or viewing.channel_id) not in channels:
            continue
        engine.sessions.end(viewing, reason)
        ended.append(viewing.username)
    return ended


def _blockable(session: Session, tenant_id: int, target: Target) -> Target | None:
    """What a line block of ``target`` applies to in the tenant (an episode: its series)."""
    if not target.ref.isdigit() or int(target.ref) > MAX_ID:
        return None
    item_id = int(target.ref)
    if target.kind is TargetKind.channel:
        found = session.scalar(
            select(Channel.id).where(Channel.id == item_id, Channel.tenant_id == tenant_id)
        )
    elif target.kind is TargetKind.movie:
        found = session.scalar(
            select(Movie.id).where(Movie.id == item_id, Movie.tenant_id == tenant_id)
        )
    elif target.kind is TargetKind.episode:
        found = session.scalar(
            select(Episode.series_id).where(Episode.id == item_id, Episode.tenant_id == tenant_id)
        )
        return Target(TargetKind.series, str(found)) if found is not None else None
    else:
        return None
    return target if found is not None else None


def _block_items(
    session: Session,
    principal: Principal,
    ctx: Any,
    notice: Notice,
    lines: list[Target],
    items: list[Target],
    action: NoticeAction,
) -> list[Target]:
    """Each named line can no longer play or list each named item; its running plays of
    them are cut. Other lines are not affected."""
    tenant_id = notice.tenant_id
    assert tenant_id is not None  # platform-wide notices are refused before
    blocked = [b for b in (_blockable(session, tenant_id, t) for t in items) if b is not None]
    acted: list[Target] = []
    for target in lines:
        line = session.scalar(
            select(Line).where(Line.username == target.ref, Line.tenant_id == tenant_id)
        )
        if line is None or not blocked:
            continue
        for item in blocked:
            block = LineBlock(
                tenant_id=tenant_id,
                line_id=line.id,
                item_type=item.kind.value,
                item_id=int(item.ref),
                action_id=action.id,
            )
            session.add(block)
            audited(session, principal, "create", "line_block", block)
        acted.append(target)
    if not acted:
        return []
    channels = {int(t.ref) for t in blocked if t.kind is TargetKind.channel}
    if channels:
        names = {t.ref for t in acted}
        _end_plays(ctx, tenant_id, names, channels, "item blocked for the line after a notice")
    return [*acted, *blocked]


def _suspend_tenant(
    session: Session,
    principal: Principal,
    notice: Notice,
    targets: list[Target],
    service: int | None,
) -> list[Target]:
    """Suspend the service the notice concerns (tenants' own suspend: viewers get the
    suspended slate or refusal, staff become read-only)."""
    tenant_id = notice.tenant_id
    if tenant_id is None:
        tenant_id = service
    elif service is not None and service != tenant_id:
        raise BadRequest("This notice is to another service: it can suspend only that one.")
    if tenant_id is None:  # a platform-wide notice: the service of the line it names
        names = [t.ref for t in targets if t.kind is TargetKind.line]
        owners = set(session.scalars(select(Line.tenant_id).where(Line.username.in_(names))))
        if len(owners) != 1:
            raise BadRequest(
                "Name the service to suspend (tenant_id): the notice names no line of "
                "exactly one service.",
                fields={"tenant_id": "Required for this notice."},
            )
        tenant_id = owners.pop()
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise BadRequest(f"Tenant {tenant_id} not found.", fields={"tenant_id": "Not found."})
    if tenant.status is not TenantStatus.active:
        # Lifting resumes the service: one suspended (or not approved yet) for another
        # reason must not come back with it.
        raise Conflict(f"Only an active service can be suspended; this one is {tenant.status}.")
    move_tenant(session, principal, tenant, "suspend")
    return [Target(TargetKind.tenant, str(tenant.id))]


# ---- trusted notifiers ----


class NotifierIn(InputModel):
    name: Label = Field(min_length=1, max_length=200, description="who the key belongs to")
    tenant_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="platform admins: a tenant, or none for all"
    )


class NotifierOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    tenant_id: int | None
    name: str
    enabled: bool
    created_at: datetime


class NotifierCreated(NotifierOut):
    key: str = Field(description="shown once: send it as X-Notifier-Key")


def _notifiers(principal: Principal) -> Select[Any]:
    if principal.is_platform:
        return select(TrustedNotifier)
    return select(TrustedNotifier).where(TrustedNotifier.tenant_id == principal.tenant_id)


@router.post("/trusted-notifiers", response_model=NotifierCreated, status_code=201)
def create_notifier(body: NotifierIn, principal: Manager, session: DbSession) -> NotifierCreated:
    """A key for a rights holder whose notices take the fast path; shown only in this answer."""
    tenant_id = body.tenant_id if principal.is_platform else principal.tenant_id
    key = "ntf_" + generate_password(32)
    notifier = TrustedNotifier(tenant_id=tenant_id, name=body.name, key_hash=hash_api_key(key))
    session.add(notifier)
    session.flush()
    record(
        session,
        actor_id=principal.user_id,
        actor=principal.username,
        tenant_id=tenant_id,
        action="create",
        entity="trusted_notifier",
        entity_id=notifier.id,
        after={"name": notifier.name},
        ip=principal.ip,
    )
    return NotifierCreated(
        id=notifier.id,
        tenant_id=notifier.tenant_id,
        name=notifier.name,
        enabled=notifier.enabled,
        created_at=notifier.created_at,
        key=key,
    )


@router.get("/trusted-notifiers", response_model=list[NotifierOut])
def list_notifiers(principal: Manager, session: DbSession) -> list[TrustedNotifier]:
    return list(session.scalars(_notifiers(principal).order_by(TrustedNotifier.id)))


@router.delete("/trusted-notifiers/{notifier_id}", status_code=204)
def revoke_notifier(notifier_id: PathId, principal: Manager, session: DbSession) -> None:
    """Revoke a notifier's key (its past notices stay, marked as trusted)."""
    notifier = session.scalar(_notifiers(principal).where(TrustedNotifier.id == notifier_id))
    if notifier is None:
        raise NotFound(f"Trusted notifier {notifier_id} not found.")
    notifier.enabled = False
    record(
        session,
        actor_id=principal.user_id,
        actor=principal.username,
        tenant_id=notifier.tenant_id,
        action="revoke",
        entity="trusted_notifier",
        entity_id=notifier.id,
        ip=principal.ip,
    )

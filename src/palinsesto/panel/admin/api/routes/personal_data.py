"""GDPR access and erasure for a line (subscriber) or an admin user, tenant-scoped.

``GET …/personal-data`` returns everything stored about the person as JSON (Art. 15, 20);
``POST …/erase`` removes or pseudonymises it (Art. 17) while keeping the audit chain
verifiable: audit entries about the person have their personal fields replaced through
their salted commitments (palinsesto.trust.audit_chain), so ``palinsesto audit verify``
still passes, while any other edit still fails it. What is kept: that the line or user
existed (a pseudonym), the decisions about it and the audit trail, without identifiers.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from fastapi import APIRouter
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from palinsesto.accounts.models import AdminUser, ApiKey, Line
from palinsesto.accounts.security import hash_password
from palinsesto.db.base import utcnow
from palinsesto.panel.admin.api.changes import audited, mark_changed
from palinsesto.panel.admin.api.deps import Context, DbSession, Manager
from palinsesto.panel.admin.api.errors import Forbidden
from palinsesto.panel.admin.api.routes import lines as line_routes
from palinsesto.panel.admin.api.routes import users as user_routes
from palinsesto.panel.admin.api.types import PathId
from palinsesto.trust.audit import Redactions, record, snapshot
from palinsesto.trust.models import AuditEntry, CounterNotice, Notice, NoticeAction
from palinsesto.trust.personal_data import ERASED, mentions, scrub_line

router = APIRouter(tags=["personal data"])


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _audit_view(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "created_at": _iso(entry.created_at),
        "actor": entry.actor,
        "action": entry.action,
        "entity": entry.entity,
        "entity_id": entry.entity_id,
        "before": entry.before,
        "after": entry.after,
        "ip": entry.ip,
    }


def _line_notices(session: Session, line: Line) -> list[Notice]:
    """Notices of the line's tenant whose targets name the line."""
    notices = session.scalars(select(Notice).where(Notice.tenant_id == line.tenant_id))
    return [
        n for n in notices if any(t == {"kind": "line", "ref": line.username} for t in n.targets)
    ]


def _line_audit(session: Session, line: Line, notice_ids: list[int]) -> list[AuditEntry]:
    about_notices = [str(i) for i in notice_ids]
    return list(
        session.scalars(
            select(AuditEntry)
            .where(
                or_(
                    (AuditEntry.entity == "line") & (AuditEntry.entity_id == str(line.id)),
                    (AuditEntry.entity == "notice") & AuditEntry.entity_id.in_(about_notices),
                )
            )
            .order_by(AuditEntry.seq)
        )
    )


def _actions_and_counters(
    session: Session, notice_ids: list[int]
) -> tuple[list[NoticeAction], list[CounterNotice]]:
    if not notice_ids:
        return [], []
    actions = list(
        session.scalars(select(NoticeAction).where(NoticeAction.notice_id.in_(notice_ids)))
    )
    counters = list(
        session.scalars(select(CounterNotice).where(CounterNotice.notice_id.in_(notice_ids)))
    )
    return actions, counters


@router.get("/lines/{line_id}/personal-data")
def export_line(line_id: PathId, principal: Manager, session: DbSession, ctx: Context) -> Any:
    """Everything stored about a line: the account, what it plays now and from where, the
    notices naming it and the decisions on them, objections, and its audit trail."""
    line = line_routes.get_visible(session, principal, line_id)
    notices = _line_notices(session, line)
    actions, counters = _actions_and_counters(session, [n.id for n in notices])
    engine = ctx.services.get("live")
    playing = [
        {"channel_id": s.channel_id, "ip": s.ip, "user_agent": s.user_agent}
        for s in (engine.sessions.all() if engine is not None else [])
        if s.line_id == line.id
    ]
    return {
        "kind": "line",
        "exported_at": utcnow().isoformat(),
        "line": {**snapshot(line), "password": line.password, "bouquet_ids": line.bouquet_ids},
        "playing_now": playing,
        "notices": [
            {
                "id": n.id,
                "received_at": _iso(n.received_at),
                "status": n.status,
                "locations": n.locations,
                "targets": n.targets,
            }
            for n in notices
        ],
        "decisions": [
            {"id": a.id, "notice_id": a.notice_id, "kind": a.kind, "statement": a.statement}
            for a in actions
        ],
        "counter_notices": [
            {k: v for k, v in snapshot(c).items() if k not in ("id",)} for c in counters
        ],
        "audit": [_audit_view(e) for e in _line_audit(session, line, [n.id for n in notices])],
    }


@router.post("/lines/{line_id}/erase")
def erase_line(
    line_id: PathId, principal: Manager, session: DbSession, ctx: Context
) -> dict[str, Any]:
    """Erase the line's personal data: its plays end, its username becomes a pseudonym, its
    password, notes and restrictions go, and every stored mention is rewritten."""
    line = line_routes.get_visible(session, principal, line_id)
    username, pseudonym = line.username, f"erased-{line.id}-{secrets.token_hex(4)}"
    notices = _line_notices(session, line)
    notice_ids = [n.id for n in notices]
    actions, counters = _actions_and_counters(session, notice_ids)
    entries = _line_audit(session, line, notice_ids)

    def clean(value: Any) -> Any:
        return scrub_line(value, username, pseudonym)

    for notice in notices:
        notice.locations = clean(notice.locations)
        notice.targets = clean(notice.targets)
    for action in actions:
        action.targets = clean(action.targets)
        action.statement = clean(action.statement)
        if action.lift_statement is not None:
            action.lift_statement = clean(action.lift_statement)
    for counter in counters:  # filed by the line's holder
        counter.name = counter.signature = ERASED
        counter.email = counter.address = counter.phone = counter.explanation = ""
        counter.ip = ""
    redactions = Redactions()
    for entry in entries:
        if entry.entity == "line":
            erased = {"id": line.id, "erased": True}
            changed = {
                "before": erased if entry.before is not None else None,
                "after": erased if entry.after is not None else None,
            }
        else:
            changed = {"before": clean(entry.before), "after": clean(entry.after)}
        if changed["before"] != entry.before or changed["after"] != entry.after:
            redactions.replace(entry, **changed)
    kept, old = len(redactions.fingerprints), redactions.skipped
    redactions.seal(
        session,
        actor=principal.username,
        actor_id=principal.user_id,
        tenant_id=line.tenant_id,
        reason=f"erasure of line {line.id}",
        ip=principal.ip,
    )
    line.username = pseudonym
    line.password = secrets.token_hex(16)
    line.notes = ""
    line.allowed_ips, line.allowed_user_agents = [], []
    line.enabled = False
    engine = ctx.services.get("live")
    if engine is not None:
        for viewing in list(engine.sessions.all()):
            if viewing.line_id == line.id:
                engine.sessions.end(viewing, "line erased")
    session.flush()
    mark_changed(session, line.tenant_id, "lines")
    record(
        session,
        actor_id=principal.user_id,
        actor=principal.username,
        tenant_id=line.tenant_id,
        action="erase",
        entity="line",
        entity_id=line.id,
        after={"pseudonym": pseudonym, "audit_entries_rewritten": kept},
        ip=principal.ip,
    )
    return {
        "pseudonym": pseudonym,
        "notices_rewritten": len(notices),
        "counter_notices_erased": len(counters),
        "audit_entries_rewritten": kept,
        "audit_entries_kept_as_written": old,
    }


def _user_audit(session: Session, user: AdminUser) -> list[AuditEntry]:
    return list(
        session.scalars(
            select(AuditEntry)
            .where(
                or_(
                    AuditEntry.actor_id == user.id,
                    (AuditEntry.entity == "user") & (AuditEntry.entity_id == str(user.id)),
                    (AuditEntry.entity == "session") & (AuditEntry.actor == user.username),
                )
            )
            .order_by(AuditEntry.seq)
        )
    )


@router.get("/users/{user_id}/personal-data")
def export_user(user_id: PathId, principal: Manager, session: DbSession) -> Any:
    """Everything stored about an admin user: the account (no secrets), its API keys, what
    it did and from where (the audit trail), and the changes made to it."""
    user = user_routes.get_visible(session, principal, user_id)
    account = snapshot(user)
    for secret in ("totp_secret", "totp_pending_secret", "recovery_codes"):
        account[secret] = "********" if account.get(secret) else account.get(secret)
    keys = session.scalars(select(ApiKey).where(ApiKey.user_id == user.id))
    return {
        "kind": "user",
        "exported_at": utcnow().isoformat(),
        "user": account,
        "api_keys": [{"id": k.id, "name": k.name, "created_at": _iso(k.created_at)} for k in keys],
        "audit": [_audit_view(e) for e in _user_audit(session, user)],
    }


@router.post("/users/{user_id}/erase")
def erase_user(user_id: PathId, principal: Manager, session: DbSession) -> dict[str, Any]:
    """Erase an admin user's personal data: the account is disabled under a pseudonym, its
    e-mail, notes, second factor and API keys go, and the audit trail keeps what it did
    under the pseudonym, without its addresses."""
    user = user_routes.get_visible(session, principal, user_id)
    if user.id == principal.user_id:
        raise Forbidden("Ask another manager to erase your own account.")
    username, pseudonym = user.username, f"erased-user-{user.id}"
    redactions = Redactions()
    for entry in _user_audit(session, user):
        changed: dict[str, Any] = {}
        if entry.actor == username:
            changed["actor"] = pseudonym
        if (entry.actor_id == user.id or entry.entity == "session") and entry.ip:
            changed["ip"] = ""  # where it signed in from, or tried to
        if entry.entity == "user" and entry.entity_id == str(user.id):
            erased = {"id": user.id, "erased": True}
            changed["before"] = erased if entry.before is not None else None
            changed["after"] = erased if entry.after is not None else None
        elif mentions(entry.before, username) or mentions(entry.after, username):
            changed["before"] = scrub_line(entry.before, username, pseudonym)
            changed["after"] = scrub_line(entry.after, username, pseudonym)
        if changed:
            redactions.replace(entry, **changed)
    kept, old = len(redactions.fingerprints), redactions.skipped
    redactions.seal(
        session,
        actor=principal.username,
        actor_id=principal.user_id,
        tenant_id=user.tenant_id,
        reason=f"erasure of user {user.id}",
        ip=principal.ip,
    )
    for action in session.scalars(select(NoticeAction).where(NoticeAction.actor == username)):
        action.actor = pseudonym
    for key in session.scalars(select(ApiKey).where(ApiKey.user_id == user.id)):
        session.delete(key)
    before = {"id": user.id, "erased": True}
    user.username = pseudonym
    user.email = user.notes = ""
    user.password_hash = hash_password(secrets.token_urlsafe(32))
    user.enabled = False
    user.totp_secret = user.totp_pending_secret = None
    user.totp_last_step = None
    user.recovery_codes = []
    audited(
        session,
        principal,
        "erase",
        "user",
        user,
        before=before,
        after={"pseudonym": pseudonym, "audit_entries_rewritten": kept},
    )
    return {
        "pseudonym": pseudonym,
        "audit_entries_rewritten": kept,
        "audit_entries_kept_as_written": old,
    }

"""Creators of a tenant: the owner invites them by e-mail; the link makes the account.

The invitation is mailed through ``PALINSESTO_SMTP_URL`` (panel/admin/mail.py) in a worker
thread, after the invitation is committed, so no database lock is held while the mail
server answers. Without SMTP, or when the server refuses, the answer carries the link for
the owner to hand over, and says why. The link opens ``/invite`` (web/invite.html), which
reads the token from the URL's fragment (never sent to servers or kept in their logs).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from palinsesto.accounts.invites import InviteInvalid, accept_invite, find_invite, issue_invite
from palinsesto.accounts.models import AdminUser, CreatorInvite, Role, Tenant
from palinsesto.accounts.security import hash_password
from palinsesto.catalog.models import Channel
from palinsesto.panel.admin.api.deps import Context, DbSession, Manager
from palinsesto.panel.admin.api.errors import NotFound
from palinsesto.panel.admin.api.inputs import InputModel
from palinsesto.panel.admin.api.routes.users import Password, Username
from palinsesto.panel.admin.api.scope import scoped_select, tenant_for_create
from palinsesto.panel.admin.api.types import EmailAddress, ObjectId
from palinsesto.panel.admin.mail import MailNotSent, mail_configured, send_mail
from palinsesto.trust.audit import record

router = APIRouter(tags=["creators"])

INVITE_INVALID = "This invitation link is not valid: it was used, it expired, or it was mistyped."


class InviteIn(InputModel):
    email: Annotated[EmailAddress, Field(min_length=3)]
    tenant_id: ObjectId | None = Field(default=None, description="platform admins only")


class InviteSent(BaseModel):
    id: int
    email: str
    expires_at: datetime
    sent: bool = Field(description="true: mailed; false: give the link yourself")
    link: str | None = Field(description="set when the mail was not sent")
    message: str


class InviteOut(BaseModel):
    id: int
    tenant_id: int
    email: str
    expires_at: datetime
    used_at: datetime | None
    user_id: int | None


class CreatorOut(BaseModel):
    id: int
    tenant_id: int
    username: str
    email: str
    enabled: bool
    channel_ids: list[int]


class InviteView(BaseModel):
    panel_name: str
    email: str
    expires_at: datetime


class AcceptIn(InputModel):
    username: Username
    password: Password


class Accepted(BaseModel):
    username: str
    role: Role
    message: str


def invite_mail(panel_name: str, link: str) -> tuple[str, str]:
    subject = f"You are invited to {panel_name} as a creator"
    body = (
        f"You have been invited to broadcast your own channels on {panel_name}.\n\n"
        f"Open this link to choose your username and password (valid for 72 hours, once):\n"
        f"{link}\n\nIf you did not expect this, ignore this message.\n"
    )
    return subject, body


@router.post("/creators/invites", response_model=InviteSent, status_code=201)
async def invite_creator(body: InviteIn, principal: Manager, ctx: Context) -> InviteSent:
    """Invite ``email`` to become a creator; the link is mailed, or returned to copy."""
    now = datetime.now(UTC)

    def store() -> tuple[int, str, datetime, str, str]:
        with ctx.db.transaction() as session:
            tenant_id = tenant_for_create(session, principal, body.tenant_id)
            issued = issue_invite(
                session, ctx.settings.secret_key, tenant_id, body.email, principal.user_id, now
            )
            tenant = session.get(Tenant, tenant_id)
            record(
                session,
                actor_id=principal.user_id,
                actor=principal.username,
                tenant_id=tenant_id,
                action="invite",
                entity="creator_invite",
                entity_id=issued.invite.id,
                after={"email": body.email, "expires_at": issued.invite.expires_at.isoformat()},
                ip=principal.ip,
            )
            name = (tenant.brand_name or tenant.name) if tenant is not None else ""
            return issued.invite.id, issued.token, issued.invite.expires_at, name, body.email

    invite_id, token, expires_at, panel_name, email = await run_in_threadpool(store)
    link = f"{ctx.settings.effective_public_url}/invite#{token}"
    if not mail_configured(ctx.settings):
        return InviteSent(
            id=invite_id,
            email=email,
            expires_at=expires_at,
            sent=False,
            link=link,
            message="No mail server is configured (PALINSESTO_SMTP_URL): copy this link to "
            "the creator yourself.",
        )
    subject, text = invite_mail(panel_name, link)
    try:
        await run_in_threadpool(send_mail, ctx.settings, email, subject, text)
    except MailNotSent as exc:
        return InviteSent(
            id=invite_id,
            email=email,
            expires_at=expires_at,
            sent=False,
            link=link,
            message=f"The invitation was not mailed ({exc}): copy this link to the creator.",
        )
    return InviteSent(
        id=invite_id,
        email=email,
        expires_at=expires_at,
        sent=True,
        link=None,
        message=f"The invitation was mailed to {email}.",
    )


@router.get("/creators/invites", response_model=list[InviteOut])
def list_invites(principal: Manager, session: DbSession) -> list[InviteOut]:
    rows = session.scalars(
        scoped_select(principal, CreatorInvite).order_by(CreatorInvite.id.desc()).limit(500)
    ).all()
    return [
        InviteOut(
            id=r.id,
            tenant_id=r.tenant_id,
            email=r.email,
            expires_at=r.expires_at,
            used_at=r.used_at,
            user_id=r.user_id,
        )
        for r in rows
    ]


@router.get("/creators", response_model=list[CreatorOut])
def list_creators(principal: Manager, session: DbSession) -> list[CreatorOut]:
    users = session.scalars(
        scoped_select(principal, AdminUser)
        .where(AdminUser.role == Role.creator)
        .order_by(AdminUser.id)
    ).all()
    owned: dict[int, list[int]] = {}
    if users:
        for channel_id, owner in session.execute(
            select(Channel.id, Channel.owner_user_id)
            .where(Channel.owner_user_id.in_([u.id for u in users]))
            .order_by(Channel.id)
        ):
            if owner is not None:
                owned.setdefault(owner, []).append(channel_id)
    return [
        CreatorOut(
            id=u.id,
            tenant_id=u.tenant_id or 0,
            username=u.username,
            email=u.email,
            enabled=u.enabled,
            channel_ids=owned.get(u.id, []),
        )
        for u in users
    ]


@router.get("/public/invites/{token}", response_model=InviteView)
def view_invite(token: str, session: DbSession, ctx: Context) -> InviteView:
    """Public: what the invitation page shows before the creator chooses a password."""
    try:
        invite = find_invite(session, ctx.settings.secret_key, token, datetime.now(UTC))
    except InviteInvalid:
        raise NotFound(INVITE_INVALID, code="invite_invalid") from None
    tenant = session.get(Tenant, invite.tenant_id)
    name = (tenant.brand_name or tenant.name) if tenant is not None else ""
    return InviteView(panel_name=name, email=invite.email, expires_at=invite.expires_at)


@router.post("/public/invites/{token}/accept", response_model=Accepted, status_code=201)
async def accept(token: str, body: AcceptIn, request: Request, ctx: Context) -> Accepted:
    """Public: the invited creator chooses a username and password (argon2id, like every
    admin user's); the link is spent."""
    now = datetime.now(UTC)

    def still_open() -> None:
        with ctx.db.session() as session:
            try:
                find_invite(session, ctx.settings.secret_key, token, now)
            except InviteInvalid:
                raise NotFound(INVITE_INVALID, code="invite_invalid") from None

    # A dead link costs a lookup, never an argon2 hash (checked again when storing).
    await run_in_threadpool(still_open)
    password_hash = await run_in_threadpool(hash_password, body.password)
    ip = request.client.host if request.client else ""

    def store() -> Accepted:
        with ctx.db.transaction() as session:
            try:
                user = accept_invite(
                    session,
                    ctx.settings.secret_key,
                    token,
                    body.username,
                    password_hash,
                    datetime.now(UTC),
                )
            except InviteInvalid:
                raise NotFound(INVITE_INVALID, code="invite_invalid") from None
            record(
                session,
                actor_id=user.id,
                actor=user.username,
                tenant_id=user.tenant_id,
                action="accept_invite",
                entity="user",
                entity_id=user.id,
                after={"username": user.username, "role": user.role.value},
                ip=ip,
            )
            return Accepted(
                username=user.username,
                role=user.role,
                message="Your creator account is ready: sign in with your username and password.",
            )

    return await run_in_threadpool(store)

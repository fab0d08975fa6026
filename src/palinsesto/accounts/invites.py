"""Creator invitations: the owner invites an e-mail address, the link makes a creator.

A link's token is ``<invite id>.<secret>.<signature>``: the signature (HMAC of the id and
secret under the server's secret key) turns away forged or mangled tokens before the
database is asked; the database keeps only a SHA-256 of the secret, with the expiry and
whether it was used. Accepting creates the creator with the password they choose and marks
the invitation used, in one transaction, so a link works once.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from palinsesto.accounts.models import AdminUser, CreatorInvite, Role, Tenant, TenantStatus
from palinsesto.accounts.signup import EMAIL_PATTERN
from palinsesto.accounts.users import check_credential, username_taken
from palinsesto.errors import AlreadyExists, InvalidValue

INVITE_TTL = timedelta(hours=72)


class InviteInvalid(Exception):
    """The link is forged, unknown, used or expired (the caller says so, without detail)."""


@dataclass(frozen=True, slots=True)
class IssuedInvite:
    invite: CreatorInvite
    token: str


def _signature(secret_key: str, invite_id: int, secret: str) -> str:
    message = f"creator-invite:{invite_id}:{secret}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()[:32]


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_email(email: str) -> str:
    if len(email) > 255 or not EMAIL_PATTERN.match(email):
        raise InvalidValue("Enter a valid e-mail address.", "email")
    return email


def issue_invite(
    session: Session, secret_key: str, tenant_id: int, email: str, invited_by: int, now: datetime
) -> IssuedInvite:
    """A new invitation of ``email`` to the tenant, valid :data:`INVITE_TTL`."""
    check_email(email)
    secret = secrets.token_urlsafe(24)
    invite = CreatorInvite(
        tenant_id=tenant_id,
        email=email,
        secret_hash=_digest(secret),
        invited_by=invited_by,
        expires_at=now + INVITE_TTL,
    )
    session.add(invite)
    session.flush()
    token = f"{invite.id}.{secret}.{_signature(secret_key, invite.id, secret)}"
    return IssuedInvite(invite, token)


def find_invite(session: Session, secret_key: str, token: str, now: datetime) -> CreatorInvite:
    """The open invitation ``token`` names, or :class:`InviteInvalid`."""
    head, _, rest = token.partition(".")
    secret, _, signature = rest.partition(".")
    if not (head.isascii() and head.isdigit()) or len(head) > 10 or not secret or not signature:
        raise InviteInvalid("malformed")
    invite_id = int(head)
    expected = _signature(secret_key, invite_id, secret)
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise InviteInvalid("bad signature")
    invite = session.get(CreatorInvite, invite_id) if invite_id < 2**31 else None
    if invite is None or not hmac.compare_digest(invite.secret_hash, _digest(secret)):
        raise InviteInvalid("unknown")
    if invite.used_at is not None or invite.expires_at <= now:
        raise InviteInvalid("used or expired")
    tenant = session.get(Tenant, invite.tenant_id)
    if tenant is None or tenant.status is not TenantStatus.active:
        raise InviteInvalid("panel not active")
    return invite


def accept_invite(
    session: Session,
    secret_key: str,
    token: str,
    username: str,
    password_hash: str,
    now: datetime,
) -> AdminUser:
    """Create the creator the invitation names and spend the invitation."""
    invite = find_invite(session, secret_key, token, now)
    check_credential(username, "username")
    if username_taken(session, username):
        raise AlreadyExists("This username is taken.", "username")
    # Spent first, conditionally: of two acceptances racing, one updates the row.
    spent = session.execute(
        update(CreatorInvite)
        .where(CreatorInvite.id == invite.id, CreatorInvite.used_at.is_(None))
        .values(used_at=now)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise InviteInvalid("used")
    user = AdminUser(
        tenant_id=invite.tenant_id,
        username=username,
        password_hash=password_hash,
        role=Role.creator,
        credits=0,
        email=invite.email,
    )
    session.add(user)
    session.flush()
    session.execute(
        update(CreatorInvite).where(CreatorInvite.id == invite.id).values(user_id=user.id)
    )
    return user


def creator_ids(session: Session, tenant_id: int) -> set[int]:
    return set(
        session.scalars(
            select(AdminUser.id).where(
                AdminUser.tenant_id == tenant_id, AdminUser.role == Role.creator
            )
        ).all()
    )

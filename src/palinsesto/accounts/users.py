"""Admin users of a tenant: who may create whom, reseller trees, passwords."""

from __future__ import annotations

import re

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from palinsesto.accounts.models import AdminUser, CreditEntry, Line, Role
from palinsesto.accounts.security import hash_password, verify_password
from palinsesto.errors import AlreadyExists, InvalidValue, NotPermitted, StillReferenced

# Reference §13.20: these characters survive path-style URLs; admin names follow suit.
CREDENTIAL_PATTERN = r"^[A-Za-z0-9._@-]+$"
_CREDENTIAL_RE = re.compile(CREDENTIAL_PATTERN)

# The roles each role may hand out (resellers: only sub-resellers below themselves).
ASSIGNABLE: dict[Role, frozenset[Role]] = {
    Role.platform_admin: frozenset(
        {Role.owner, Role.admin, Role.reseller, Role.support, Role.creator}
    ),
    Role.owner: frozenset({Role.owner, Role.admin, Role.reseller, Role.support, Role.creator}),
    Role.admin: frozenset({Role.admin, Role.reseller, Role.support, Role.creator}),
    Role.reseller: frozenset({Role.reseller}),
    Role.support: frozenset(),
    Role.creator: frozenset(),
}


def check_credential(value: str, field: str) -> str:
    """Letters, digits and ``. _ @ -`` only (reference §13.20)."""
    if not value or not _CREDENTIAL_RE.fullmatch(value):
        raise InvalidValue("Use only letters, digits and . _ @ -", field)
    return value


def subtree(session: Session, root_id: int) -> set[int]:
    """The reseller ``root_id`` and every sub-reseller below it."""
    found = {root_id}
    frontier = [root_id]
    while frontier:
        children = session.scalars(
            select(AdminUser.id).where(AdminUser.parent_id.in_(frontier))
        ).all()
        frontier = [c for c in children if c not in found]
        found.update(frontier)
    return found


def check_role(actor_role: Role, role: Role) -> None:
    if role not in ASSIGNABLE[actor_role]:
        raise NotPermitted(f"A {actor_role.value} may not manage {role.value} accounts.", "role")


def _check_parent(session: Session, tenant_id: int, role: Role, parent_id: int | None) -> None:
    if parent_id is None:
        return
    if role is not Role.reseller:
        raise InvalidValue("Only resellers have a parent reseller.", "parent_id")
    parent = session.get(AdminUser, parent_id)
    if parent is None or parent.tenant_id != tenant_id or parent.role is not Role.reseller:
        raise InvalidValue(f"No reseller {parent_id} in this tenant.", "parent_id")


def username_taken(session: Session, username: str) -> bool:
    return session.scalar(select(AdminUser.id).where(AdminUser.username == username)) is not None


def create_user(
    session: Session,
    *,
    tenant_id: int,
    actor_role: Role,
    username: str,
    password_hash: str,
    role: Role,
    parent_id: int | None = None,
    email: str = "",
    notes: str = "",
    enabled: bool = True,
) -> AdminUser:
    """A new admin user of ``tenant_id`` with ``password_hash`` (from
    :func:`~palinsesto.accounts.security.hash_password`).

    The caller hashes before opening its transaction: argon2 takes tens of milliseconds,
    and on SQLite a write transaction holds the one write lock the whole time.
    """
    check_role(actor_role, role)
    check_credential(username, "username")
    _check_parent(session, tenant_id, role, parent_id)
    if username_taken(session, username):
        raise AlreadyExists("This username is taken.", "username")
    user = AdminUser(
        tenant_id=tenant_id,
        username=username,
        password_hash=password_hash,
        role=role,
        parent_id=parent_id,
        credits=0,
        email=email,
        notes=notes,
        enabled=enabled,
    )
    session.add(user)
    session.flush()
    return user


def move_parent(
    session: Session, user: AdminUser, parent_id: int | None, allowed: set[int] | None
) -> None:
    """Hang ``user`` below ``parent_id`` (never below itself or its own subtree)."""
    if parent_id is not None:
        if allowed is not None and parent_id not in allowed:
            raise InvalidValue(f"No reseller {parent_id} below you.", "parent_id")
        if parent_id in subtree(session, user.id):
            raise InvalidValue("A reseller cannot sit below itself.", "parent_id")
    _check_parent(session, user.tenant_id or 0, user.role, parent_id)
    user.parent_id = parent_id


def set_password(user: AdminUser, password: str) -> None:
    user.password_hash = hash_password(password)


def change_own_password(user: AdminUser, current: str, new: str) -> None:
    if not verify_password(user.password_hash, current):
        raise InvalidValue("The current password is wrong.", "current_password")
    set_password(user, new)


def ledger_entries(session: Session, user_id: int) -> int:
    """How many credit movements name ``user_id``, as the holder or as the one who made it."""
    stmt = select(func.count()).where(
        or_(CreditEntry.user_id == user_id, CreditEntry.actor_id == user_id)
    )
    return session.scalar(stmt) or 0


def delete_user(session: Session, user: AdminUser) -> None:
    """Remove ``user``; its sub-resellers and lines move up to its own parent.

    The credit ledger is append-only, so a user it names is never deleted: that raises
    :class:`StillReferenced` (before anything changes) and the account is disabled instead.
    """
    entries = ledger_entries(session, user.id)
    if entries:
        raise StillReferenced(
            f"User {user.username!r} appears in {entries} credit ledger "
            f"entr{'y' if entries == 1 else 'ies'}, which are kept for good, so the account "
            "cannot be deleted. Disable it instead (PATCH enabled=false): it can no longer "
            "sign in, and its history stays readable."
        )
    session.execute(
        update(AdminUser)
        .where(AdminUser.parent_id == user.id)
        .values(parent_id=user.parent_id)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Line)
        .where(Line.reseller_id == user.id)
        .values(reseller_id=user.parent_id)
        .execution_options(synchronize_session=False)
    )
    session.delete(user)

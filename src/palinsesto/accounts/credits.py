"""Reseller credits: every movement is one conditional UPDATE plus one ledger row.

A balance is never read, checked and written back: the check lives in the UPDATE's
``WHERE credits >= :amount``, so two concurrent purchases cannot both spend the last
credits whatever the isolation level (PostgreSQL re-evaluates the condition on the row
it waited for; SQLite holds the write lock from BEGIN IMMEDIATE). The ledger row is added
in the caller's transaction, so it commits or rolls back together with the change.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from palinsesto.accounts.models import AdminUser, CreditEntry, Role
from palinsesto.errors import InsufficientCredits, InvalidValue, OutOfScope


def _apply(session: Session, user_id: int, delta: int) -> int | None:
    """Add ``delta`` to the balance unless it would go negative; the new balance or None."""
    stmt = (
        update(AdminUser)
        .where(AdminUser.id == user_id, AdminUser.role == Role.reseller)
        .values(credits=AdminUser.credits + delta)
        .returning(AdminUser.credits)
        .execution_options(synchronize_session=False)
    )
    if delta < 0:
        stmt = stmt.where(AdminUser.credits >= -delta)
    return session.execute(stmt).scalar_one_or_none()


def _entry(
    session: Session,
    *,
    tenant_id: int,
    user_id: int,
    actor_id: int | None,
    amount: int,
    balance_after: int,
    reason: str,
    line_id: int | None = None,
) -> CreditEntry:
    entry = CreditEntry(
        tenant_id=tenant_id,
        user_id=user_id,
        actor_id=actor_id,
        amount=amount,
        balance_after=balance_after,
        reason=reason[:200],
        line_id=line_id,
    )
    session.add(entry)
    return entry


def _reseller(session: Session, tenant_id: int, user_id: int, field: str) -> AdminUser:
    user = session.get(AdminUser, user_id)
    if user is None or user.tenant_id != tenant_id:
        raise OutOfScope(f"User {user_id} not found.", field)
    if user.role is not Role.reseller:
        raise InvalidValue("Only resellers hold credits.", field)
    return user


def spend(
    session: Session,
    *,
    tenant_id: int,
    reseller_id: int,
    amount: int,
    reason: str,
    actor_id: int | None = None,
    line_id: int | None = None,
) -> CreditEntry:
    """Take ``amount`` (>= 0) credits from a reseller, or raise :class:`InsufficientCredits`."""
    if amount < 0:
        raise InvalidValue("A price cannot be negative.", "amount")
    balance = _apply(session, reseller_id, -amount)
    if balance is None:
        raise InsufficientCredits(
            f"Not enough credits: this costs {amount}.", fields={"credits": "Balance too low."}
        )
    return _entry(
        session,
        tenant_id=tenant_id,
        user_id=reseller_id,
        actor_id=actor_id or reseller_id,
        amount=-amount,
        balance_after=balance,
        reason=reason,
        line_id=line_id,
    )


def adjust(
    session: Session,
    *,
    tenant_id: int,
    reseller_id: int,
    amount: int,
    reason: str,
    actor_id: int,
) -> CreditEntry:
    """A manager grants (``amount`` > 0) or removes (< 0) credits of a reseller."""
    if amount == 0:
        raise InvalidValue("The amount cannot be zero.", "amount")
    _reseller(session, tenant_id, reseller_id, "user_id")
    balance = _apply(session, reseller_id, amount)
    if balance is None:
        raise InsufficientCredits(
            f"Cannot remove {-amount} credits: the balance is lower.",
            fields={"amount": "More than the balance."},
        )
    return _entry(
        session,
        tenant_id=tenant_id,
        user_id=reseller_id,
        actor_id=actor_id,
        amount=amount,
        balance_after=balance,
        reason=reason or ("grant" if amount > 0 else "removal"),
    )


def transfer(
    session: Session,
    *,
    tenant_id: int,
    from_id: int,
    to_id: int,
    amount: int,
    reason: str,
    allowed_recipients: set[int],
) -> tuple[CreditEntry, CreditEntry]:
    """Move credits from a reseller to one of ``allowed_recipients`` (its sub-resellers)."""
    if amount <= 0:
        raise InvalidValue("The amount must be positive.", "amount")
    if to_id == from_id or to_id not in allowed_recipients:
        raise OutOfScope(f"Reseller {to_id} not found below you.", "to_user_id")
    _reseller(session, tenant_id, to_id, "to_user_id")
    # Debit first: a failed debit leaves the recipient untouched.
    debit = spend(
        session,
        tenant_id=tenant_id,
        reseller_id=from_id,
        amount=amount,
        reason=reason or f"transfer to user {to_id}",
    )
    balance = _apply(session, to_id, amount)
    if balance is None:  # the recipient vanished between check and update
        raise OutOfScope(f"Reseller {to_id} not found below you.", "to_user_id")
    credit = _entry(
        session,
        tenant_id=tenant_id,
        user_id=to_id,
        actor_id=from_id,
        amount=amount,
        balance_after=balance,
        reason=reason or f"transfer from user {from_id}",
    )
    return debit, credit

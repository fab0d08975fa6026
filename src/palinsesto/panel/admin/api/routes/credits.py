"""Credits: managers grant or remove them, resellers pass them down, everyone reads the ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from palinsesto.accounts import credits as service
from palinsesto.accounts.models import AdminUser, CreditEntry
from palinsesto.accounts.users import subtree
from palinsesto.panel.admin.api.changes import audited
from palinsesto.panel.admin.api.deps import CurrentPrincipal, DbSession, Manager, Writer
from palinsesto.panel.admin.api.errors import Forbidden, NotFound
from palinsesto.panel.admin.api.inputs import InputModel
from palinsesto.panel.admin.api.pagination import ListParams, Page, page_of, paginate
from palinsesto.panel.admin.api.scope import tenant_clause
from palinsesto.panel.admin.api.types import ObjectId, QueryId

router = APIRouter(tags=["credits"])

# Money is strict: JSON true, "5" or 5.0 is refused, never read as a number of credits.
Amount = Annotated[int, Field(strict=True, ge=-1_000_000_000, le=1_000_000_000)]


class Grant(InputModel):
    user_id: ObjectId
    amount: Amount = Field(description="positive grants, negative removes; not zero")
    reason: str = Field(default="", max_length=200)


class Transfer(InputModel):
    to_user_id: ObjectId
    amount: int = Field(strict=True, ge=1, le=1_000_000_000)
    reason: str = Field(default="", max_length=200)


class LedgerEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    tenant_id: int
    user_id: int
    actor_id: int | None
    amount: int
    balance_after: int
    reason: str
    line_id: int | None
    created_at: datetime


class TransferOut(BaseModel):
    debit: LedgerEntryOut
    credit: LedgerEntryOut


@router.post("/credits/grants", response_model=LedgerEntryOut, status_code=201)
def grant_credits(body: Grant, principal: Manager, session: DbSession) -> CreditEntry:
    user = session.get(AdminUser, body.user_id)
    if (
        user is None
        or user.tenant_id is None
        or not (principal.is_platform or user.tenant_id == principal.tenant_id)
    ):
        raise NotFound(f"User {body.user_id} not found.", fields={"user_id": "Not found."})
    entry = service.adjust(
        session,
        tenant_id=user.tenant_id,
        reseller_id=user.id,
        amount=body.amount,
        reason=body.reason,
        actor_id=principal.user_id,
    )
    audited(session, principal, "grant" if body.amount > 0 else "remove", "credit", entry)
    return entry


@router.post("/credits/transfers", response_model=TransferOut, status_code=201)
def transfer_credits(body: Transfer, principal: Writer, session: DbSession) -> TransferOut:
    if not principal.is_reseller or principal.tenant_id is None:
        raise Forbidden("Only resellers transfer credits; managers use /credits/grants.")
    debit, credit = service.transfer(
        session,
        tenant_id=principal.tenant_id,
        from_id=principal.user_id,
        to_id=body.to_user_id,
        amount=body.amount,
        reason=body.reason,
        allowed_recipients=subtree(session, principal.user_id),
    )
    audited(session, principal, "transfer", "credit", debit)
    audited(session, principal, "transfer", "credit", credit)
    return TransferOut(
        debit=LedgerEntryOut.model_validate(debit), credit=LedgerEntryOut.model_validate(credit)
    )


@router.get("/credits/ledger", response_model=Page[LedgerEntryOut])
def credit_ledger(
    principal: CurrentPrincipal,
    session: DbSession,
    params: Annotated[ListParams, Depends()],
    user_id: QueryId = None,
    tenant_id: QueryId = None,
) -> Page[LedgerEntryOut]:
    """Movements, newest first; a reseller sees those of itself and its sub-resellers."""
    stmt = select(CreditEntry).where(tenant_clause(principal, CreditEntry, tenant_id))
    if principal.is_reseller:
        stmt = stmt.where(CreditEntry.user_id.in_(subtree(session, principal.user_id)))
    if user_id is not None:
        stmt = stmt.where(CreditEntry.user_id == user_id)
    sortable = {"id": CreditEntry.id, "amount": CreditEntry.amount}
    rows, total = paginate(session, stmt, params, sortable, CreditEntry.id.desc())
    return page_of(rows, total, params, LedgerEntryOut)

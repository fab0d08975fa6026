"""Lines (subscribers): CRUD for managers, purchases and extensions for resellers, bulk actions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, Field, field_validator
from sqlalchemy import ColumnElement, and_, select

from palinsesto.accounts import lines as service
from palinsesto.accounts.lines import LineOutput
from palinsesto.accounts.models import Line, LineBouquet
from palinsesto.accounts.users import CREDENTIAL_PATTERN, subtree
from palinsesto.panel.admin.api.changes import audited
from palinsesto.panel.admin.api.deps import CurrentPrincipal, DbSession, Manager, Principal, Writer
from palinsesto.panel.admin.api.errors import Forbidden, NotFound, ValidationFailed
from palinsesto.panel.admin.api.inputs import InputModel
from palinsesto.panel.admin.api.pagination import ListParams, Page, paginate, rendered_page
from palinsesto.panel.admin.api.patching import patch_changes
from palinsesto.panel.admin.api.routes.credits import LedgerEntryOut
from palinsesto.panel.admin.api.scope import tenant_clause, tenant_for_create
from palinsesto.panel.admin.api.types import ObjectId, PathId, QueryId
from palinsesto.trust.audit import snapshot

router = APIRouter(tags=["lines"])

# Reference §13.20: credentials travel in URL paths, so only these characters.
Credential = Annotated[str, Field(min_length=1, max_length=64, pattern=CREDENTIAL_PATTERN)]
# Defaults are written out (not default_factory) so the OpenAPI schema, and every client
# generated from it (the web panel's forms too), shows them.
DEFAULT_OUTPUTS = [LineOutput.m3u8, LineOutput.ts]
OUTPUTS_HELP = "what the line may play; at least one (an empty list is refused)"
IpAddress = Annotated[str, Field(max_length=45)]
UserAgent = Annotated[str, Field(max_length=500)]


class LineFields(InputModel):
    exp_date: AwareDatetime | None = Field(default=None, description="none = never expires")
    max_connections: int = Field(default=1, ge=0, le=10_000, description="0 = unlimited")
    is_trial: bool = False
    enabled: bool = True
    banned: bool = False
    allowed_outputs: list[LineOutput] = Field(
        default=DEFAULT_OUTPUTS, min_length=1, max_length=3, description=OUTPUTS_HELP
    )
    allowed_ips: list[IpAddress] = Field(default=[], max_length=100)
    allowed_user_agents: list[UserAgent] = Field(default=[], max_length=100)
    notes: str = Field(default="", max_length=10_000)
    bouquet_ids: list[ObjectId] = Field(default=[], max_length=1000)


class LineIn(LineFields):
    username: Credential
    password: Credential
    reseller_id: ObjectId | None = None
    tenant_id: ObjectId | None = Field(default=None, description="platform admins only")

    @field_validator("exp_date")
    @classmethod
    def _not_already_expired(cls, value: datetime | None) -> datetime | None:
        # A new line that is expired from birth cannot play: almost always a typo'd year.
        if value is not None and value <= datetime.now(UTC):
            raise ValueError(
                "The expiry is in the past: pick a later date, or none for a line that "
                "never expires."
            )
        return value


class LinePatch(InputModel):
    username: Credential | None = None
    password: Credential | None = None
    exp_date: AwareDatetime | None = None
    max_connections: int | None = Field(default=None, ge=0, le=10_000)
    is_trial: bool | None = None
    enabled: bool | None = None
    banned: bool | None = None
    allowed_outputs: list[LineOutput] | None = Field(
        default=None, min_length=1, max_length=3, description=OUTPUTS_HELP
    )
    allowed_ips: list[IpAddress] | None = Field(default=None, max_length=100)
    allowed_user_agents: list[UserAgent] | None = Field(default=None, max_length=100)
    notes: str | None = Field(default=None, max_length=10_000)
    reseller_id: ObjectId | None = None
    bouquet_ids: list[ObjectId] | None = Field(default=None, max_length=1000)


# What a reseller may change on its own lines: not what it pays for (term, limits, bouquets).
RESELLER_EDITABLE = frozenset(
    {"password", "enabled", "allowed_outputs", "allowed_ips", "allowed_user_agents", "notes"}
)
NULLABLE = frozenset({"exp_date", "reseller_id"})


class LineOut(BaseModel):
    id: int
    tenant_id: int
    username: str
    password: str
    status: service.LineStatus
    exp_date: datetime | None
    max_connections: int
    is_trial: bool
    enabled: bool
    banned: bool
    allowed_outputs: list[str]
    allowed_ips: list[str]
    allowed_user_agents: list[str]
    notes: str
    reseller_id: int | None
    bouquet_ids: list[int]
    created_at: datetime
    updated_at: datetime


class Purchase(InputModel):
    package_id: ObjectId
    username: Credential
    password: Credential | None = Field(default=None, description="generated when absent")
    notes: str = Field(default="", max_length=10_000)
    allowed_outputs: list[LineOutput] = Field(
        default=DEFAULT_OUTPUTS, min_length=1, max_length=3, description=OUTPUTS_HELP
    )
    allowed_ips: list[IpAddress] = Field(default=[], max_length=100)
    allowed_user_agents: list[UserAgent] = Field(default=[], max_length=100)


class Extension(InputModel):
    package_id: ObjectId


class Purchased(BaseModel):
    line: LineOut
    charge: LedgerEntryOut


class BulkRequest(InputModel):
    action: service.BulkAction
    ids: list[ObjectId] = Field(min_length=1, max_length=10_000)
    days: int | None = Field(default=None, ge=1, le=36_500, description="for extend")


class BulkResult(BaseModel):
    action: service.BulkAction
    count: int


def render(line: Line, now: datetime) -> LineOut:
    data = {name: getattr(line, name) for name in LineOut.model_fields if name != "status"}
    return LineOut(status=service.status_of(line, now), **data)


def _now() -> datetime:
    return datetime.now(UTC)


def scope_clause(session: DbSession, principal: Principal) -> ColumnElement[bool]:
    """Lines the caller may see: its tenant's, or for a reseller those of its subtree."""
    clause = tenant_clause(principal, Line)
    if principal.is_reseller:
        clause = and_(clause, Line.reseller_id.in_(subtree(session, principal.user_id)))
    return clause


def get_visible(session: DbSession, principal: Principal, line_id: int) -> Line:
    line = session.scalar(select(Line).where(Line.id == line_id, scope_clause(session, principal)))
    if line is None:
        raise NotFound(f"Line {line_id} not found.")
    return line


@router.get("/lines", response_model=Page[LineOut])
def list_lines(
    principal: CurrentPrincipal,
    session: DbSession,
    params: Annotated[ListParams, Depends()],
    q: Annotated[str | None, Query(max_length=100, description="username or notes contain")] = None,
    status: service.LineStatus | None = None,
    reseller_id: QueryId = None,
    expiring_before: AwareDatetime | None = None,
    bouquet_id: QueryId = None,
    tenant_id: QueryId = None,
) -> Page[LineOut]:
    now = _now()
    stmt = select(Line).where(scope_clause(session, principal))
    if principal.is_platform and tenant_id is not None:
        stmt = stmt.where(Line.tenant_id == tenant_id)
    if q:
        stmt = stmt.where(Line.username.contains(q) | Line.notes.contains(q))
    if status:
        stmt = stmt.where(service.status_clause(status, now))
    if reseller_id is not None:
        stmt = stmt.where(Line.reseller_id == reseller_id)
    if expiring_before is not None:
        stmt = stmt.where(Line.exp_date.is_not(None), Line.exp_date < expiring_before)
    if bouquet_id is not None:
        stmt = stmt.where(
            Line.id.in_(select(LineBouquet.line_id).where(LineBouquet.bouquet_id == bouquet_id))
        )
    sortable = {
        "id": Line.id,
        "username": Line.username,
        "exp_date": Line.exp_date,
        "created_at": Line.created_at,
        "max_connections": Line.max_connections,
    }
    rows, total = paginate(session, stmt, params, sortable, Line.id)
    return rendered_page([render(r, now) for r in rows], total, params)


@router.post("/lines", response_model=LineOut, status_code=201)
def create_line(body: LineIn, principal: Manager, session: DbSession) -> LineOut:
    """Managers create lines directly; resellers buy them (``POST /lines/purchase``)."""
    tenant_id = tenant_for_create(session, principal, body.tenant_id)
    line = service.create_line(session, tenant_id, body.model_dump(exclude={"tenant_id"}))
    audited(session, principal, "create", "line", line)
    return render(line, _now())


@router.post("/lines/purchase", response_model=Purchased, status_code=201)
def purchase_line(body: Purchase, principal: Writer, session: DbSession) -> Purchased:
    """A reseller buys a line from a package; its price in credits is spent atomically."""
    if not principal.is_reseller or principal.tenant_id is None:
        raise Forbidden("Only resellers buy lines; managers create them with POST /lines.")
    fields = body.model_dump(exclude={"package_id"}, exclude_none=True)
    line, charge = service.purchase_line(
        session,
        tenant_id=principal.tenant_id,
        reseller_id=principal.user_id,
        package_id=body.package_id,
        fields=fields,
        now=_now(),
    )
    audited(session, principal, "purchase", "line", line)
    audited(session, principal, "spend", "credit", charge)
    return Purchased(line=render(line, _now()), charge=LedgerEntryOut.model_validate(charge))


@router.post("/lines/bulk", response_model=BulkResult)
def bulk_lines(body: BulkRequest, principal: Writer, session: DbSession) -> BulkResult:
    """One action on many lines, all or nothing: an id outside your scope changes nothing."""
    if principal.is_reseller and body.action in {
        service.BulkAction.extend,
        service.BulkAction.ban,
        service.BulkAction.unban,
    }:
        raise Forbidden("Resellers extend lines by package: POST /lines/{id}/extend.")
    if body.action is service.BulkAction.extend and not body.days:
        raise ValidationFailed("Say how many days to extend by.", fields={"days": "Required."})
    lines = service.lines_by_ids(session, body.ids, scope_clause(session, principal))
    befores = {line.id: snapshot(line) for line in lines}
    if body.action is service.BulkAction.delete:
        for line in lines:
            audited(session, principal, "delete", "line", line)
    service.apply_bulk(session, lines, body.action, body.days, _now())
    if body.action is not service.BulkAction.delete:
        for line in lines:
            audited(session, principal, body.action.value, "line", line, before=befores[line.id])
    return BulkResult(action=body.action, count=len(lines))


@router.get("/lines/{line_id}", response_model=LineOut)
def get_line(line_id: PathId, principal: CurrentPrincipal, session: DbSession) -> LineOut:
    return render(get_visible(session, principal, line_id), _now())


@router.patch("/lines/{line_id}", response_model=LineOut)
def update_line(line_id: PathId, body: LinePatch, principal: Writer, session: DbSession) -> LineOut:
    line = get_visible(session, principal, line_id)
    changes = patch_changes(body, NULLABLE)
    if principal.is_reseller:
        refused = sorted(set(changes) - RESELLER_EDITABLE)
        if refused:
            raise Forbidden(
                "Resellers change term, limits and bouquets by buying a package.",
                fields={k: "Not editable by resellers." for k in refused},
            )
    before = snapshot(line)
    service.apply_fields(session, line, changes)
    audited(session, principal, "update", "line", line, before=before)
    return render(line, _now())


@router.post("/lines/{line_id}/extend", response_model=Purchased)
def extend_line(
    line_id: PathId, body: Extension, principal: Writer, session: DbSession
) -> Purchased:
    """A reseller adds a package's term to one of its lines, paying its price in credits."""
    if not principal.is_reseller:
        raise Forbidden("Only resellers extend by package; managers edit exp_date.")
    line = get_visible(session, principal, line_id)
    before = snapshot(line)
    charge = service.extend_line(
        session, line=line, reseller_id=principal.user_id, package_id=body.package_id, now=_now()
    )
    audited(session, principal, "extend", "line", line, before=before)
    audited(session, principal, "spend", "credit", charge)
    return Purchased(line=render(line, _now()), charge=LedgerEntryOut.model_validate(charge))


@router.delete("/lines/{line_id}", status_code=204)
def delete_line(line_id: PathId, principal: Writer, session: DbSession) -> None:
    line = get_visible(session, principal, line_id)
    audited(session, principal, "delete", "line", line)
    session.delete(line)

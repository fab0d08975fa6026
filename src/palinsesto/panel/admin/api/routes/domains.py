"""A tenant's own host names: add, list (with the DNS record to create), check, remove.

Adding or removing one publishes the platform-wide ``domains`` topic, so every process's
host map (panel/playback/domains.py) reloads before the next viewer request. The check
resolves the name in a worker thread with ``ctx.services["dns_resolver"]`` when set (tests
give a resolver that needs no network), else the system's resolver.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from palinsesto.accounts.domains import (
    Resolver,
    check_dns,
    normalise_host,
    platform_host,
    records_to_create,
    system_resolver,
)
from palinsesto.accounts.models import TenantDomain
from palinsesto.panel.admin.api.changes import audited, mark_changed
from palinsesto.panel.admin.api.deps import Context, DbSession, Manager
from palinsesto.panel.admin.api.errors import Conflict, ValidationFailed
from palinsesto.panel.admin.api.inputs import InputModel
from palinsesto.panel.admin.api.scope import get_scoped, scoped_select, tenant_for_create
from palinsesto.panel.admin.api.types import ObjectId, PathId, QueryId
from palinsesto.panel.playback.domains import DOMAINS_TOPIC, PLATFORM_WIDE

router = APIRouter(tags=["domains"])


class DomainIn(InputModel):
    host: str = Field(min_length=1, max_length=253, examples=["tv.example.com"])
    tenant_id: ObjectId | None = Field(default=None, description="platform admins only")


class DnsRecordOut(BaseModel):
    type: str
    name: str
    value: str


class DomainOut(BaseModel):
    id: int
    tenant_id: int
    host: str
    dns_ok: bool
    checked_at: datetime | None
    dns_detail: str
    records: list[DnsRecordOut] = Field(description="what to create at the DNS provider")


def _out(domain: TenantDomain, public_url: str) -> DomainOut:
    return DomainOut(
        id=domain.id,
        tenant_id=domain.tenant_id,
        host=domain.host,
        dns_ok=domain.dns_ok,
        checked_at=domain.checked_at,
        dns_detail=domain.dns_detail,
        records=[
            DnsRecordOut(type=r.type, name=r.name, value=r.value)
            for r in records_to_create(domain.host, public_url)
        ],
    )


def _mark(session: DbSession) -> None:
    mark_changed(session, PLATFORM_WIDE, DOMAINS_TOPIC)


@router.get("/domains", response_model=list[DomainOut])
def list_domains(
    principal: Manager,
    session: DbSession,
    ctx: Context,
    tenant_id: QueryId = None,
) -> list[DomainOut]:
    rows = session.scalars(
        scoped_select(principal, TenantDomain, tenant_id).order_by(TenantDomain.id)
    ).all()
    return [_out(r, ctx.settings.effective_public_url) for r in rows]


@router.post("/domains", response_model=DomainOut, status_code=201)
def add_domain(body: DomainIn, principal: Manager, session: DbSession, ctx: Context) -> DomainOut:
    tenant_id = tenant_for_create(session, principal, body.tenant_id)
    host = normalise_host(body.host)
    if host == platform_host(ctx.settings.effective_public_url):
        raise ValidationFailed(
            "This is the platform's own address.", fields={"host": "The platform's address."}
        )
    if session.scalar(select(TenantDomain.id).where(TenantDomain.host == host)) is not None:
        raise Conflict(f"{host} is already taken.", fields={"host": "Already taken."})
    domain = TenantDomain(tenant_id=tenant_id, host=host)
    session.add(domain)
    audited(session, principal, "create", "domain", domain)
    _mark(session)
    return _out(domain, ctx.settings.effective_public_url)


@router.delete("/domains/{domain_id}", status_code=204)
def remove_domain(domain_id: PathId, principal: Manager, session: DbSession) -> None:
    domain = get_scoped(session, principal, TenantDomain, domain_id, label="Domain")
    audited(session, principal, "delete", "domain", domain)
    _mark(session)
    session.delete(domain)


def _resolver(ctx: Context) -> Resolver:
    found = ctx.services.get("dns_resolver")
    return found if callable(found) else system_resolver


@router.post("/domains/{domain_id}/check", response_model=DomainOut)
async def check_domain(domain_id: PathId, principal: Manager, ctx: Context) -> DomainOut:
    """Resolve the name now: does it point at this platform? The answer is kept."""
    public_url = ctx.settings.effective_public_url

    def host_of() -> str:
        with ctx.db.session() as session:
            return get_scoped(session, principal, TenantDomain, domain_id, label="Domain").host

    host = await run_in_threadpool(host_of)
    result = await run_in_threadpool(check_dns, host, public_url, _resolver(ctx))

    def store() -> DomainOut:
        with ctx.db.transaction() as session:
            domain = get_scoped(session, principal, TenantDomain, domain_id, label="Domain")
            domain.dns_ok = result.ok
            domain.dns_detail = result.detail[:500]
            domain.checked_at = datetime.now(UTC)
            session.flush()
            return _out(domain, public_url)

    return await run_in_threadpool(store)

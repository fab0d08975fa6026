"""Packages: the tenant's price list that resellers buy lines from."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from palinsesto.accounts.models import Package
from palinsesto.catalog.bouquets import check_bouquet_ids
from palinsesto.catalog.syndication import check_package_bouquets
from palinsesto.panel.admin.api.changes import audited
from palinsesto.panel.admin.api.deps import CurrentPrincipal, DbSession, Manager
from palinsesto.panel.admin.api.errors import Conflict
from palinsesto.panel.admin.api.identifiers import Label
from palinsesto.panel.admin.api.inputs import InputModel
from palinsesto.panel.admin.api.pagination import ListParams, Page, page_of, paginate
from palinsesto.panel.admin.api.patching import apply_changes, patch_changes
from palinsesto.panel.admin.api.scope import get_scoped, scoped_select, tenant_for_create
from palinsesto.panel.admin.api.types import ObjectId, PathId, QueryId
from palinsesto.trust.audit import snapshot

router = APIRouter(tags=["packages"])


class PackageIn(InputModel):
    name: Label = Field(min_length=1, max_length=100)
    duration_days: int = Field(ge=1, le=36_500)
    credits: int = Field(strict=True, ge=0, le=1_000_000_000)
    max_connections: int = Field(default=1, ge=0, le=10_000, description="0 = unlimited")
    is_trial: bool = False
    bouquet_ids: list[ObjectId] = Field(default=[], max_length=1000)
    enabled: bool = True
    tenant_id: ObjectId | None = Field(default=None, description="platform admins only")


class PackagePatch(InputModel):
    name: Label | None = Field(default=None, min_length=1, max_length=100)
    duration_days: int | None = Field(default=None, ge=1, le=36_500)
    credits: int | None = Field(default=None, strict=True, ge=0, le=1_000_000_000)
    max_connections: int | None = Field(default=None, ge=0, le=10_000)
    is_trial: bool | None = None
    bouquet_ids: list[ObjectId] | None = Field(default=None, max_length=1000)
    enabled: bool | None = None


class PackageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    tenant_id: int
    name: str
    duration_days: int
    credits: int
    max_connections: int
    is_trial: bool
    bouquet_ids: list[int]
    enabled: bool


def _check_name(session: DbSession, tenant_id: int, name: str, except_id: int | None) -> None:
    stmt = select(Package.id).where(Package.tenant_id == tenant_id, Package.name == name)
    if except_id is not None:
        stmt = stmt.where(Package.id != except_id)
    if session.scalar(stmt) is not None:
        raise Conflict("A package with this name exists.", fields={"name": "Already taken."})


@router.get("/packages", response_model=Page[PackageOut])
def list_packages(
    principal: CurrentPrincipal,
    session: DbSession,
    params: Annotated[ListParams, Depends()],
    q: Annotated[str | None, Query(max_length=100)] = None,
    is_trial: bool | None = None,
    tenant_id: QueryId = None,
) -> Page[PackageOut]:
    stmt = scoped_select(principal, Package, tenant_id)
    if q:
        stmt = stmt.where(Package.name.contains(q))
    if is_trial is not None:
        stmt = stmt.where(Package.is_trial.is_(is_trial))
    sortable = {"id": Package.id, "name": Package.name, "credits": Package.credits}
    rows, total = paginate(session, stmt, params, sortable, Package.id)
    return page_of(rows, total, params, PackageOut)


@router.post("/packages", response_model=PackageOut, status_code=201)
def create_package(body: PackageIn, principal: Manager, session: DbSession) -> Package:
    tenant_id = tenant_for_create(session, principal, body.tenant_id)
    _check_name(session, tenant_id, body.name, None)
    check_bouquet_ids(session, tenant_id, body.bouquet_ids, "bouquet_ids")
    if body.credits > 0 and not body.is_trial:
        check_package_bouquets(session, tenant_id, body.bouquet_ids)
    package = Package(tenant_id=tenant_id, **body.model_dump(exclude={"tenant_id"}))
    session.add(package)
    audited(session, principal, "create", "package", package)
    return package


@router.get("/packages/{package_id}", response_model=PackageOut)
def get_package(package_id: PathId, principal: CurrentPrincipal, session: DbSession) -> Package:
    return get_scoped(session, principal, Package, package_id, label="Package")


@router.patch("/packages/{package_id}", response_model=PackageOut)
def update_package(
    package_id: PathId, body: PackagePatch, principal: Manager, session: DbSession
) -> Package:
    package = get_scoped(session, principal, Package, package_id, label="Package")
    before = snapshot(package)
    changes = patch_changes(body)
    if "name" in changes:
        _check_name(session, package.tenant_id, changes["name"], package.id)
    if "bouquet_ids" in changes:
        check_bouquet_ids(session, package.tenant_id, changes["bouquet_ids"], "bouquet_ids")
    apply_changes(package, changes)
    if package.credits > 0 and not package.is_trial:  # sold: no carried channel forbids it
        check_package_bouquets(session, package.tenant_id, package.bouquet_ids or [])
    audited(session, principal, "update", "package", package, before=before)
    return package


@router.delete("/packages/{package_id}", status_code=204)
def delete_package(package_id: PathId, principal: Manager, session: DbSession) -> None:
    package = get_scoped(session, principal, Package, package_id, label="Package")
    audited(session, principal, "delete", "package", package)
    session.delete(package)

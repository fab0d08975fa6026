"""Categories of live channels, movies and series, in their sort order."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from palinsesto.catalog.models import Category, CategoryKind
from palinsesto.errors import AlreadyExists
from palinsesto.panel.admin.api.changes import audited
from palinsesto.panel.admin.api.deps import DbSession, Manager, Staff
from palinsesto.panel.admin.api.identifiers import Label
from palinsesto.panel.admin.api.inputs import InputModel
from palinsesto.panel.admin.api.pagination import ListParams, Page, page_of, paginate
from palinsesto.panel.admin.api.patching import apply_changes, patch_changes
from palinsesto.panel.admin.api.scope import get_scoped, scoped_select, tenant_for_create
from palinsesto.panel.admin.api.types import ObjectId, PathId, QueryId
from palinsesto.trust.audit import snapshot

router = APIRouter(tags=["categories"])


class CategoryIn(InputModel):
    kind: CategoryKind
    name: Label = Field(min_length=1, max_length=200)
    sort_order: int = Field(default=0, ge=-1_000_000, le=1_000_000)
    tenant_id: ObjectId | None = Field(default=None, description="platform admins only")


class CategoryPatch(InputModel):
    name: Label | None = Field(default=None, min_length=1, max_length=200)
    sort_order: int | None = Field(default=None, ge=-1_000_000, le=1_000_000)


class CategoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    tenant_id: int
    kind: CategoryKind
    name: str
    sort_order: int


@router.get("/categories", response_model=Page[CategoryOut])
def list_categories(
    principal: Staff,
    session: DbSession,
    params: Annotated[ListParams, Depends()],
    kind: CategoryKind | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    tenant_id: QueryId = None,
) -> Page[CategoryOut]:
    stmt = scoped_select(principal, Category, tenant_id)
    if kind:
        stmt = stmt.where(Category.kind == kind)
    if q:
        stmt = stmt.where(Category.name.contains(q))
    sortable = {"id": Category.id, "name": Category.name, "sort_order": Category.sort_order}
    rows, total = paginate(session, stmt, params, sortable, Category.sort_order)
    return page_of(rows, total, params, CategoryOut)


def _check_name_free(
    session: Session, tenant_id: int, kind: CategoryKind, name: str, except_id: int | None = None
) -> None:
    """Two categories of one kind with the same name (whatever the case) would be two
    identical entries in every app's list: refused."""
    stmt = select(Category.id).where(
        Category.tenant_id == tenant_id,
        Category.kind == kind,
        func.lower(Category.name) == name.lower(),
    )
    if except_id is not None:
        stmt = stmt.where(Category.id != except_id)
    if session.scalar(stmt.limit(1)) is not None:
        raise AlreadyExists(f"There is already a {kind.value} category named “{name}”.", "name")


@router.post("/categories", response_model=CategoryOut, status_code=201)
def create_category(body: CategoryIn, principal: Manager, session: DbSession) -> Category:
    tenant_id = tenant_for_create(session, principal, body.tenant_id)
    _check_name_free(session, tenant_id, body.kind, body.name)
    category = Category(tenant_id=tenant_id, **body.model_dump(exclude={"tenant_id"}))
    session.add(category)
    audited(session, principal, "create", "category", category)
    return category


@router.get("/categories/{category_id}", response_model=CategoryOut)
def get_category(category_id: PathId, principal: Staff, session: DbSession) -> Category:
    return get_scoped(session, principal, Category, category_id, label="Category")


@router.patch("/categories/{category_id}", response_model=CategoryOut)
def update_category(
    category_id: PathId, body: CategoryPatch, principal: Manager, session: DbSession
) -> Category:
    category = get_scoped(session, principal, Category, category_id, label="Category")
    if body.name is not None:
        _check_name_free(session, category.tenant_id, category.kind, body.name, category.id)
    before = snapshot(category)
    apply_changes(category, patch_changes(body))
    audited(session, principal, "update", "category", category, before=before)
    return category


@router.delete("/categories/{category_id}", status_code=204)
def delete_category(category_id: PathId, principal: Manager, session: DbSession) -> None:
    category = get_scoped(session, principal, Category, category_id, label="Category")
    audited(session, principal, "delete", "category", category)
    session.delete(category)

"""Bouquets and their ordered contents (channels, movies, series)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from palinsesto.catalog import bouquets as service
from palinsesto.catalog.m3u_sources import append_items
from palinsesto.catalog.models import (
    Bouquet,
    BouquetItem,
    Category,
    CategoryKind,
    Channel,
    ChannelCategory,
    ItemType,
    Movie,
    Series,
)
from palinsesto.catalog.syndication import check_paid_placement
from palinsesto.panel.admin.api.changes import audited
from palinsesto.panel.admin.api.deps import CurrentPrincipal, DbSession, Manager, Staff
from palinsesto.panel.admin.api.errors import ValidationFailed
from palinsesto.panel.admin.api.identifiers import Label
from palinsesto.panel.admin.api.inputs import InputModel
from palinsesto.panel.admin.api.pagination import MAX_PER_PAGE, ListParams, Page, page_of, paginate
from palinsesto.panel.admin.api.patching import apply_changes, patch_changes
from palinsesto.panel.admin.api.scope import get_scoped, scoped_select, tenant_for_create
from palinsesto.panel.admin.api.types import ObjectId, PathId, QueryId
from palinsesto.trust.audit import snapshot

router = APIRouter(tags=["bouquets"])


class BouquetIn(InputModel):
    name: Label = Field(min_length=1, max_length=200)
    sort_order: int = Field(default=0, ge=-1_000_000, le=1_000_000)
    tenant_id: ObjectId | None = Field(default=None, description="platform admins only")


class BouquetPatch(InputModel):
    name: Label | None = Field(default=None, min_length=1, max_length=200)
    sort_order: int | None = Field(default=None, ge=-1_000_000, le=1_000_000)


class BouquetOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    tenant_id: int
    name: str
    sort_order: int
    created_at: datetime


class Item(InputModel):
    model_config = ConfigDict(from_attributes=True)
    item_type: ItemType
    item_id: ObjectId


class ItemsIn(InputModel):
    items: list[Item] = Field(max_length=100_000)


class ItemsOut(BaseModel):
    bouquet_id: int
    items: list[Item]
    total: int = Field(description="items in the bouquet (more than listed when paged)")


@router.get("/bouquets", response_model=Page[BouquetOut])
def list_bouquets(
    principal: CurrentPrincipal,
    session: DbSession,
    params: Annotated[ListParams, Depends()],
    q: Annotated[str | None, Query(max_length=100)] = None,
    tenant_id: QueryId = None,
) -> Page[BouquetOut]:
    """Every role may list bouquets (resellers pick them by name); contents are staff-only."""
    stmt = scoped_select(principal, Bouquet, tenant_id)
    if q:
        stmt = stmt.where(Bouquet.name.contains(q))
    sortable = {"id": Bouquet.id, "name": Bouquet.name, "sort_order": Bouquet.sort_order}
    rows, total = paginate(session, stmt, params, sortable, Bouquet.sort_order)
    return page_of(rows, total, params, BouquetOut)


@router.post("/bouquets", response_model=BouquetOut, status_code=201)
def create_bouquet(body: BouquetIn, principal: Manager, session: DbSession) -> Bouquet:
    tenant_id = tenant_for_create(session, principal, body.tenant_id)
    service.name_taken(session, tenant_id, body.name)
    bouquet = Bouquet(tenant_id=tenant_id, **body.model_dump(exclude={"tenant_id"}))
    session.add(bouquet)
    audited(session, principal, "create", "bouquet", bouquet)
    return bouquet


@router.get("/bouquets/{bouquet_id}", response_model=BouquetOut)
def get_bouquet(bouquet_id: PathId, principal: CurrentPrincipal, session: DbSession) -> Bouquet:
    return get_scoped(session, principal, Bouquet, bouquet_id, label="Bouquet")


@router.patch("/bouquets/{bouquet_id}", response_model=BouquetOut)
def update_bouquet(
    bouquet_id: PathId, body: BouquetPatch, principal: Manager, session: DbSession
) -> Bouquet:
    bouquet = get_scoped(session, principal, Bouquet, bouquet_id, label="Bouquet")
    before = snapshot(bouquet)
    changes = patch_changes(body)
    if "name" in changes:
        service.name_taken(session, bouquet.tenant_id, changes["name"], bouquet.id)
    apply_changes(bouquet, changes)
    audited(session, principal, "update", "bouquet", bouquet, before=before)
    return bouquet


@router.delete("/bouquets/{bouquet_id}", status_code=204)
def delete_bouquet(bouquet_id: PathId, principal: Manager, session: DbSession) -> None:
    bouquet = get_scoped(session, principal, Bouquet, bouquet_id, label="Bouquet")
    audited(session, principal, "delete", "bouquet", bouquet)
    service.delete_bouquet(session, bouquet)


def _items_out(bouquet_id: int, rows: list[BouquetItem], total: int | None = None) -> ItemsOut:
    return ItemsOut(
        bouquet_id=bouquet_id,
        items=[Item.model_validate(r) for r in rows],
        total=len(rows) if total is None else total,
    )


@router.get("/bouquets/{bouquet_id}/items", response_model=ItemsOut)
def get_bouquet_items(
    bouquet_id: PathId,
    principal: Staff,
    session: DbSession,
    page: Annotated[int, Query(ge=1, le=1_000_000, description="1-based page number")] = 1,
    per_page: Annotated[
        int | None, Query(ge=1, le=MAX_PER_PAGE, description="none = every item, in one list")
    ] = None,
) -> ItemsOut:
    """The bouquet's items in order: all of them, or one page with ``per_page``."""
    bouquet = get_scoped(session, principal, Bouquet, bouquet_id, label="Bouquet")
    if per_page is None:
        return _items_out(bouquet.id, service.items_of(session, bouquet.id))
    rows = service.items_of(session, bouquet.id, offset=(page - 1) * per_page, limit=per_page)
    return _items_out(bouquet.id, rows, service.count_items(session, bouquet.id))


@router.put("/bouquets/{bouquet_id}/items", response_model=ItemsOut)
def set_bouquet_items(
    bouquet_id: PathId, body: ItemsIn, principal: Manager, session: DbSession
) -> ItemsOut:
    """Replace the contents, in order; 422 naming ``items.<i>`` if one is not in the tenant."""
    bouquet = get_scoped(session, principal, Bouquet, bouquet_id, label="Bouquet")
    before = {
        "items": [[i.item_type.value, i.item_id] for i in service.items_of(session, bouquet.id)]
    }
    rows = service.set_items(session, bouquet, [(i.item_type, i.item_id) for i in body.items])
    channel_ids = [i.item_id for i in body.items if i.item_type is ItemType.channel]
    check_paid_placement(session, bouquet.tenant_id, [bouquet.id], channel_ids)
    after = {"items": [[r.item_type.value, r.item_id] for r in rows]}
    audited(session, principal, "set_items", "bouquet", bouquet, before=before, after=after)
    return _items_out(bouquet.id, rows)


class CategoryIn(InputModel):
    category_id: ObjectId


class CategoryAdded(BaseModel):
    bouquet_id: int
    added: int = Field(description="items the bouquet did not hold yet")
    total: int = Field(description="items in the bouquet now")


@router.post("/bouquets/{bouquet_id}/categories", response_model=CategoryAdded)
def add_category(
    bouquet_id: PathId, body: CategoryIn, principal: Manager, session: DbSession
) -> CategoryAdded:
    """Add every channel (or movie, or series) of a category to the end of the bouquet, in
    number order; items it holds already stay where they are."""
    bouquet = get_scoped(session, principal, Bouquet, bouquet_id, label="Bouquet")
    category = session.get(Category, body.category_id)
    if category is None or category.tenant_id != bouquet.tenant_id:
        raise ValidationFailed(
            f"No category {body.category_id} in this tenant.",
            fields={"category_id": "No such category in this tenant."},
        )
    ids: list[int]
    if category.kind is CategoryKind.live:
        item_type = ItemType.channel
        ids = list(
            session.scalars(
                select(Channel.id)
                .join(ChannelCategory, ChannelCategory.channel_id == Channel.id)
                .where(ChannelCategory.category_id == category.id)
                .order_by(Channel.number.is_(None), Channel.number, Channel.id)
            )
        )
    else:
        model = Movie if category.kind is CategoryKind.movie else Series
        item_type = ItemType.movie if category.kind is CategoryKind.movie else ItemType.series
        ids = list(
            session.scalars(
                select(model.id).where(model.category_id == category.id).order_by(model.id)
            )
        )
    if item_type is ItemType.channel:
        check_paid_placement(session, bouquet.tenant_id, [bouquet.id], ids)
    added = append_items(session, bouquet.id, item_type, ids)
    after = {"category_id": category.id, "added": added}
    audited(session, principal, "add_category", "bouquet", bouquet, after=after)
    return CategoryAdded(
        bouquet_id=bouquet.id, added=added, total=service.count_items(session, bouquet.id)
    )

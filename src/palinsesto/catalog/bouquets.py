"""Bouquets: ordered sets of channels, movies and series, always within one tenant."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from palinsesto.catalog.models import Bouquet, BouquetItem, Channel, ItemType, Movie, Series
from palinsesto.errors import AlreadyExists, InvalidValue

ITEM_MODELS: dict[ItemType, type[Channel] | type[Movie] | type[Series]] = {
    ItemType.channel: Channel,
    ItemType.movie: Movie,
    ItemType.series: Series,
}


def check_bouquet_ids(
    session: Session, tenant_id: int, ids: Sequence[int], field: str
) -> list[int]:
    """``ids`` in order, each a bouquet of ``tenant_id``; 422 naming the first bad index."""
    found = set(
        session.scalars(
            select(Bouquet.id).where(Bouquet.tenant_id == tenant_id, Bouquet.id.in_(set(ids)))
        )
    )
    seen: set[int] = set()
    for index, bouquet_id in enumerate(ids):
        if bouquet_id not in found:
            raise InvalidValue(f"No bouquet {bouquet_id} in this tenant.", f"{field}.{index}")
        if bouquet_id in seen:
            raise InvalidValue(f"Bouquet {bouquet_id} is listed twice.", f"{field}.{index}")
        seen.add(bouquet_id)
    return list(ids)


def name_taken(session: Session, tenant_id: int, name: str, except_id: int | None = None) -> None:
    stmt = select(Bouquet.id).where(Bouquet.tenant_id == tenant_id, Bouquet.name == name)
    if except_id is not None:
        stmt = stmt.where(Bouquet.id != except_id)
    if session.scalar(stmt) is not None:
        raise AlreadyExists("A bouquet with this name exists.", "name")


def set_items(
    session: Session, bouquet: Bouquet, items: Sequence[tuple[ItemType, int]]
) -> list[BouquetItem]:
    """Replace the bouquet's contents with ``items``, in this order.

    Every item must exist in the bouquet's tenant; the error names the index of the
    first that does not (``items.<i>``), and nothing is changed.
    """
    wanted: dict[ItemType, set[int]] = {}
    for item_type, item_id in items:
        wanted.setdefault(item_type, set()).add(item_id)
    existing: dict[ItemType, set[int]] = {}
    for item_type, ids in wanted.items():
        model = ITEM_MODELS[item_type]
        existing[item_type] = set(
            session.scalars(
                select(model.id).where(model.tenant_id == bouquet.tenant_id, model.id.in_(ids))
            )
        )
    seen: set[tuple[ItemType, int]] = set()
    for index, (item_type, item_id) in enumerate(items):
        if item_id not in existing[item_type]:
            raise InvalidValue(f"No {item_type.value} {item_id} in this tenant.", f"items.{index}")
        if (item_type, item_id) in seen:
            raise InvalidValue(f"{item_type.value} {item_id} is listed twice.", f"items.{index}")
        seen.add((item_type, item_id))
    session.execute(delete(BouquetItem).where(BouquetItem.bouquet_id == bouquet.id))
    rows = [
        BouquetItem(bouquet_id=bouquet.id, item_type=t, item_id=i, position=pos)
        for pos, (t, i) in enumerate(items)
    ]
    session.add_all(rows)
    session.flush()
    return rows


def items_of(
    session: Session, bouquet_id: int, offset: int = 0, limit: int | None = None
) -> list[BouquetItem]:
    """The bouquet's items in order (``limit`` of them from ``offset``; all by default).

    Position, then type and id: positions are unique when set through :func:`set_items`,
    and the tie-breakers keep pages stable when they are not. The order is the index
    ``ix_bouquet_items_bouquet_position``, so a page is read without sorting the bouquet.
    """
    stmt = (
        select(BouquetItem)
        .where(BouquetItem.bouquet_id == bouquet_id)
        .order_by(BouquetItem.position, BouquetItem.item_type, BouquetItem.item_id)
        .offset(offset)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def count_items(session: Session, bouquet_id: int) -> int:
    stmt = select(func.count()).select_from(BouquetItem).where(BouquetItem.bouquet_id == bouquet_id)
    return session.scalar(stmt) or 0


def forget_item(session: Session, item_type: ItemType, item_id: int) -> None:
    """Drop a deleted channel, movie or series from every bouquet (no FK can do it)."""
    session.execute(
        delete(BouquetItem).where(
            BouquetItem.item_type == item_type, BouquetItem.item_id == item_id
        )
    )


def delete_bouquet(session: Session, bouquet: Bouquet) -> None:
    """Delete a bouquet and take it off the tenant's packages (lines lose it by FK cascade)."""
    from palinsesto.accounts.models import Package  # accounts depends on catalog, not back

    for package in session.scalars(select(Package).where(Package.tenant_id == bouquet.tenant_id)):
        if bouquet.id in (package.bouquet_ids or []):
            package.bouquet_ids = [b for b in package.bouquet_ids if b != bouquet.id]
    session.delete(bouquet)

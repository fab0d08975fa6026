"""List parameters shared by every collection: page, per_page and sort."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from palinsesto.panel.admin.api.errors import ValidationFailed

T = TypeVar("T")
MAX_PER_PAGE = 500


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int


class ListParams:
    def __init__(
        self,
        page: Annotated[int, Query(ge=1, le=1_000_000, description="1-based page number")] = 1,
        per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 50,
        sort: Annotated[
            str | None, Query(max_length=64, description="field name, '-' prefix for descending")
        ] = None,
    ) -> None:
        self.page = page
        self.per_page = per_page
        self.sort = sort


def paginate(
    session: Session,
    stmt: Select[Any],
    params: ListParams,
    sortable: dict[str, Any],
    default_sort: Any,
) -> tuple[list[Any], int]:
    """Apply sort, count the total and fetch one page of ``stmt``."""
    order = [default_sort]
    if params.sort:
        name = params.sort.removeprefix("-")
        column = sortable.get(name)
        if column is None:
            raise ValidationFailed(
                f"Cannot sort by {name!r}.",
                fields={"sort": f"One of: {', '.join(sorted(sortable))}."},
            )
        order = [column.desc() if params.sort.startswith("-") else column.asc(), default_sort]
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = session.scalars(
        stmt.order_by(*order).offset((params.page - 1) * params.per_page).limit(params.per_page)
    ).all()
    return list(rows), total


def page_of(rows: list[Any], total: int, params: ListParams, out: type[BaseModel]) -> Page[Any]:
    """Wrap one page of rows in the ``Page`` envelope, each row rendered by ``out``."""
    return rendered_page([out.model_validate(r) for r in rows], total, params)


def rendered_page(items: list[Any], total: int, params: ListParams) -> Page[Any]:
    """Wrap one page of already rendered items in the ``Page`` envelope."""
    return Page(items=items, total=total, page=params.page, per_page=params.per_page)

"""Series and their seasons; fields follow reference §4.6–4.7."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from palinsesto.catalog.bouquets import forget_item
from palinsesto.catalog.models import CategoryKind, ItemType, Season, Series
from palinsesto.catalog.vod import DATE_PATTERN, check_category, check_season_free
from palinsesto.panel.admin.api.changes import audited
from palinsesto.panel.admin.api.deps import DbSession, Manager, Staff
from palinsesto.panel.admin.api.identifiers import Label
from palinsesto.panel.admin.api.inputs import InputModel
from palinsesto.panel.admin.api.pagination import ListParams, Page, page_of, paginate
from palinsesto.panel.admin.api.patching import apply_changes, patch_changes
from palinsesto.panel.admin.api.scope import get_scoped, scoped_select, tenant_for_create
from palinsesto.panel.admin.api.types import MAX_ID, ObjectId, PathId, QueryId
from palinsesto.trust.audit import snapshot

router = APIRouter(tags=["series"])

Backdrops = list[Annotated[str, Field(max_length=1000)]]


class SeriesIn(InputModel):
    name: Label = Field(min_length=1, max_length=300)
    year: int | None = Field(default=None, ge=1800, le=3000)
    category_id: ObjectId | None = None
    cover: str = Field(default="", max_length=1000)
    plot: str = Field(default="", max_length=20_000)
    cast: str = Field(default="", max_length=20_000)
    director: str = Field(default="", max_length=300)
    genre: str = Field(default="", max_length=300)
    release_date: str = Field(default="", pattern=DATE_PATTERN, description="YYYY-MM-DD")
    rating: float | None = Field(default=None, ge=0, le=10)
    backdrop_path: Backdrops = Field(default=[], max_length=50)
    youtube_trailer: str = Field(default="", max_length=100)
    episode_run_time: int = Field(default=0, ge=0, le=100_000)
    tmdb_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    enabled: bool = True
    tenant_id: ObjectId | None = Field(default=None, description="platform admins only")


class SeriesPatch(InputModel):
    name: Label | None = Field(default=None, min_length=1, max_length=300)
    year: int | None = Field(default=None, ge=1800, le=3000)
    category_id: ObjectId | None = None
    cover: str | None = Field(default=None, max_length=1000)
    plot: str | None = Field(default=None, max_length=20_000)
    cast: str | None = Field(default=None, max_length=20_000)
    director: str | None = Field(default=None, max_length=300)
    genre: str | None = Field(default=None, max_length=300)
    release_date: str | None = Field(default=None, pattern=DATE_PATTERN)
    rating: float | None = Field(default=None, ge=0, le=10)
    backdrop_path: Backdrops | None = Field(default=None, max_length=50)
    youtube_trailer: str | None = Field(default=None, max_length=100)
    episode_run_time: int | None = Field(default=None, ge=0, le=100_000)
    tmdb_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    enabled: bool | None = None


NULLABLE = frozenset({"year", "category_id", "rating", "tmdb_id"})


class SeriesOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    tenant_id: int
    name: str
    year: int | None
    category_id: int | None
    cover: str
    plot: str
    cast: str
    director: str
    genre: str
    release_date: str
    rating: float | None
    backdrop_path: list[str]
    youtube_trailer: str
    episode_run_time: int
    tmdb_id: int | None
    enabled: bool
    created_at: datetime
    updated_at: datetime


class SeasonIn(InputModel):
    season_number: int = Field(ge=0, le=10_000)
    name: Label = Field(default="", max_length=200)
    overview: str = Field(default="", max_length=20_000)
    air_date: str = Field(default="", pattern=DATE_PATTERN)
    cover: str = Field(default="", max_length=1000)


class SeasonPatch(InputModel):
    season_number: int | None = Field(default=None, ge=0, le=10_000)
    name: Label | None = Field(default=None, max_length=200)
    overview: str | None = Field(default=None, max_length=20_000)
    air_date: str | None = Field(default=None, pattern=DATE_PATTERN)
    cover: str | None = Field(default=None, max_length=1000)


class SeasonOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    tenant_id: int
    series_id: int
    season_number: int
    name: str
    overview: str
    air_date: str
    cover: str


@router.get("/series", response_model=Page[SeriesOut])
def list_series(
    principal: Staff,
    session: DbSession,
    params: Annotated[ListParams, Depends()],
    q: Annotated[str | None, Query(max_length=100, description="name contains")] = None,
    category_id: QueryId = None,
    tenant_id: QueryId = None,
) -> Page[SeriesOut]:
    stmt = scoped_select(principal, Series, tenant_id)
    if q:
        stmt = stmt.where(Series.name.contains(q))
    if category_id is not None:
        stmt = stmt.where(Series.category_id == category_id)
    sortable = {"id": Series.id, "name": Series.name, "year": Series.year}
    rows, total = paginate(session, stmt, params, sortable, Series.id)
    return page_of(rows, total, params, SeriesOut)


@router.post("/series", response_model=SeriesOut, status_code=201)
def create_series(body: SeriesIn, principal: Manager, session: DbSession) -> Series:
    tenant_id = tenant_for_create(session, principal, body.tenant_id)
    check_category(session, tenant_id, body.category_id, CategoryKind.series)
    series = Series(tenant_id=tenant_id, **body.model_dump(exclude={"tenant_id"}))
    session.add(series)
    audited(session, principal, "create", "series", series)
    return series


@router.get("/series/{series_id}", response_model=SeriesOut)
def get_series(series_id: PathId, principal: Staff, session: DbSession) -> Series:
    return get_scoped(session, principal, Series, series_id, label="Series")


@router.patch("/series/{series_id}", response_model=SeriesOut)
def update_series(
    series_id: PathId, body: SeriesPatch, principal: Manager, session: DbSession
) -> Series:
    series = get_scoped(session, principal, Series, series_id, label="Series")
    before = snapshot(series)
    changes = patch_changes(body, NULLABLE)
    if changes.get("category_id") is not None:
        check_category(session, series.tenant_id, changes["category_id"], CategoryKind.series)
    apply_changes(series, changes)
    audited(session, principal, "update", "series", series, before=before)
    return series


@router.delete("/series/{series_id}", status_code=204)
def delete_series(series_id: PathId, principal: Manager, session: DbSession) -> None:
    series = get_scoped(session, principal, Series, series_id, label="Series")
    audited(session, principal, "delete", "series", series)
    forget_item(session, ItemType.series, series.id)
    session.delete(series)


@router.get("/series/{series_id}/seasons", response_model=list[SeasonOut])
def list_seasons(series_id: PathId, principal: Staff, session: DbSession) -> list[Season]:
    series = get_scoped(session, principal, Series, series_id, label="Series")
    return list(
        session.scalars(
            select(Season).where(Season.series_id == series.id).order_by(Season.season_number)
        )
    )


@router.post("/series/{series_id}/seasons", response_model=SeasonOut, status_code=201)
def create_season(
    series_id: PathId, body: SeasonIn, principal: Manager, session: DbSession
) -> Season:
    series = get_scoped(session, principal, Series, series_id, label="Series")
    check_season_free(session, series.id, body.season_number)
    season = Season(tenant_id=series.tenant_id, series_id=series.id, **body.model_dump())
    session.add(season)
    audited(session, principal, "create", "season", season)
    return season


@router.get("/seasons/{season_id}", response_model=SeasonOut)
def get_season(season_id: PathId, principal: Staff, session: DbSession) -> Season:
    return get_scoped(session, principal, Season, season_id, label="Season")


@router.patch("/seasons/{season_id}", response_model=SeasonOut)
def update_season(
    season_id: PathId, body: SeasonPatch, principal: Manager, session: DbSession
) -> Season:
    season = get_scoped(session, principal, Season, season_id, label="Season")
    before = snapshot(season)
    changes = patch_changes(body)
    if "season_number" in changes:
        check_season_free(session, season.series_id, changes["season_number"], season.id)
    apply_changes(season, changes)
    audited(session, principal, "update", "season", season, before=before)
    return season


@router.delete("/seasons/{season_id}", status_code=204)
def delete_season(season_id: PathId, principal: Manager, session: DbSession) -> None:
    season = get_scoped(session, principal, Season, season_id, label="Season")
    audited(session, principal, "delete", "season", season)
    session.delete(season)

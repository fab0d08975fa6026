"""Episodes of a series; an episode's id is its stream id in ``/series/U/P/ID.ext`` (§4.7)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from palinsesto.catalog.models import Episode, RemoteDelivery, Series
from palinsesto.catalog.vod import CONTAINER_PATTERN, DATE_PATTERN, check_episode_free
from palinsesto.panel.admin.api.changes import audited
from palinsesto.panel.admin.api.deps import Context, DbSession, Manager, Staff
from palinsesto.panel.admin.api.identifiers import Label
from palinsesto.panel.admin.api.inputs import InputModel
from palinsesto.panel.admin.api.patching import apply_changes, patch_changes
from palinsesto.panel.admin.api.scope import get_scoped
from palinsesto.panel.admin.api.types import PathId
from palinsesto.panel.admin.api.vod_sources import apply_source
from palinsesto.trust.audit import snapshot

router = APIRouter(tags=["series"])


class EpisodeIn(InputModel):
    season_number: int = Field(ge=0, le=10_000)
    episode_num: int = Field(ge=0, le=100_000)
    title: Label = Field(min_length=1, max_length=300)
    plot: str = Field(default="", max_length=20_000)
    duration_secs: int = Field(default=0, ge=0, le=10_000_000)
    movie_image: str = Field(default="", max_length=1000)
    rating: float | None = Field(default=None, ge=0, le=10)
    release_date: str = Field(default="", pattern=DATE_PATTERN)
    container_extension: str = Field(default="mp4", pattern=CONTAINER_PATTERN)
    source_url: str = Field(default="", max_length=2000)
    delivery: RemoteDelivery = Field(
        default=RemoteDelivery.redirect,
        description="for an http(s) source: redirect players to it (302) or proxy it through"
        " this server (streamed, Range passed on, the outbound policy applies)",
    )


class EpisodePatch(InputModel):
    season_number: int | None = Field(default=None, ge=0, le=10_000)
    episode_num: int | None = Field(default=None, ge=0, le=100_000)
    title: Label | None = Field(default=None, min_length=1, max_length=300)
    plot: str | None = Field(default=None, max_length=20_000)
    duration_secs: int | None = Field(default=None, ge=0, le=10_000_000)
    movie_image: str | None = Field(default=None, max_length=1000)
    rating: float | None = Field(default=None, ge=0, le=10)
    release_date: str | None = Field(default=None, pattern=DATE_PATTERN)
    container_extension: str | None = Field(default=None, pattern=CONTAINER_PATTERN)
    source_url: str | None = Field(default=None, max_length=2000)
    delivery: RemoteDelivery | None = None


class EpisodeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    tenant_id: int
    series_id: int
    season_number: int
    episode_num: int
    title: str
    plot: str
    duration_secs: int
    movie_image: str
    rating: float | None
    release_date: str
    container_extension: str
    source_url: str
    delivery: RemoteDelivery
    media_info: dict[str, Any]
    probe_error: str
    created_at: datetime


@router.get("/series/{series_id}/episodes", response_model=list[EpisodeOut])
def list_episodes(
    series_id: PathId,
    principal: Staff,
    session: DbSession,
    season_number: Annotated[int | None, Query(ge=0, le=10_000)] = None,
) -> list[Episode]:
    series = get_scoped(session, principal, Series, series_id, label="Series")
    stmt = select(Episode).where(Episode.series_id == series.id)
    if season_number is not None:
        stmt = stmt.where(Episode.season_number == season_number)
    return list(
        session.scalars(stmt.order_by(Episode.season_number, Episode.episode_num, Episode.id))
    )


@router.post("/series/{series_id}/episodes", response_model=EpisodeOut, status_code=201)
def create_episode(
    series_id: PathId, body: EpisodeIn, principal: Manager, session: DbSession, ctx: Context
) -> Episode:
    series = get_scoped(session, principal, Series, series_id, label="Series")
    check_episode_free(session, series.id, body.season_number, body.episode_num)
    episode = Episode(tenant_id=series.tenant_id, series_id=series.id, **body.model_dump())
    asked = body.container_extension if "container_extension" in body.model_fields_set else None
    apply_source(ctx, episode, series.tenant_id, asked)
    session.add(episode)
    audited(session, principal, "create", "episode", episode)
    return episode


@router.get("/episodes/{episode_id}", response_model=EpisodeOut)
def get_episode(episode_id: PathId, principal: Staff, session: DbSession) -> Episode:
    return get_scoped(session, principal, Episode, episode_id, label="Episode")


@router.patch("/episodes/{episode_id}", response_model=EpisodeOut)
def update_episode(
    episode_id: PathId, body: EpisodePatch, principal: Manager, session: DbSession, ctx: Context
) -> Episode:
    episode = get_scoped(session, principal, Episode, episode_id, label="Episode")
    before = snapshot(episode)
    changes = patch_changes(body, nullable={"rating"})
    if "season_number" in changes or "episode_num" in changes:
        check_episode_free(
            session,
            episode.series_id,
            changes.get("season_number", episode.season_number),
            changes.get("episode_num", episode.episode_num),
            episode.id,
        )
    apply_changes(episode, changes)
    if "source_url" in changes or "container_extension" in changes:
        apply_source(ctx, episode, episode.tenant_id, changes.get("container_extension"))
    audited(session, principal, "update", "episode", episode, before=before)
    return episode


@router.delete("/episodes/{episode_id}", status_code=204)
def delete_episode(episode_id: PathId, principal: Manager, session: DbSession) -> None:
    episode = get_scoped(session, principal, Episode, episode_id, label="Episode")
    audited(session, principal, "delete", "episode", episode)
    session.delete(episode)

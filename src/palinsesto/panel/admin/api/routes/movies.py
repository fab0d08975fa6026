"""Movies (VOD titles); fields follow reference §4.4–4.5."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from palinsesto.catalog.bouquets import forget_item
from palinsesto.catalog.models import CategoryKind, ItemType, Movie, RemoteDelivery
from palinsesto.catalog.vod import CONTAINER_PATTERN, DATE_PATTERN, check_category
from palinsesto.panel.admin.api.changes import audited
from palinsesto.panel.admin.api.deps import Context, DbSession, Manager, Staff
from palinsesto.panel.admin.api.errors import Conflict
from palinsesto.panel.admin.api.identifiers import Label
from palinsesto.panel.admin.api.inputs import InputModel
from palinsesto.panel.admin.api.pagination import ListParams, Page, page_of, paginate
from palinsesto.panel.admin.api.patching import apply_changes, patch_changes
from palinsesto.panel.admin.api.scope import get_scoped, scoped_select, tenant_for_create
from palinsesto.panel.admin.api.types import MAX_ID, ObjectId, PathId, QueryId
from palinsesto.panel.admin.api.vod_sources import apply_source
from palinsesto.panel.playback.watch_tokens import WatchKind, issuing_watch_tokens, movie_watch_path
from palinsesto.trust.audit import snapshot

router = APIRouter(tags=["movies"])


class MovieFields(InputModel):
    year: int | None = Field(default=None, ge=1800, le=3000)
    category_id: ObjectId | None = None
    stream_icon: str = Field(default="", max_length=1000)
    rating: float | None = Field(default=None, ge=0, le=10)
    plot: str = Field(default="", max_length=20_000)
    cast: str = Field(default="", max_length=20_000)
    director: str = Field(default="", max_length=300)
    genre: str = Field(default="", max_length=300)
    release_date: str = Field(default="", pattern=DATE_PATTERN, description="YYYY-MM-DD")
    youtube_trailer: str = Field(default="", max_length=100)
    duration_secs: int = Field(default=0, ge=0, le=10_000_000)
    backdrop_path: list[Annotated[str, Field(max_length=1000)]] = Field(default=[], max_length=50)
    tmdb_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    container_extension: str = Field(default="mp4", pattern=CONTAINER_PATTERN)
    source_url: str = Field(default="", max_length=2000)
    delivery: RemoteDelivery = Field(
        default=RemoteDelivery.redirect,
        description="for an http(s) source: redirect players to it (302) or proxy it through"
        " this server (streamed, Range passed on, the outbound policy applies)",
    )
    enabled: bool = True


class MovieIn(MovieFields):
    name: Label = Field(min_length=1, max_length=300)
    tenant_id: ObjectId | None = Field(default=None, description="platform admins only")


class MoviePatch(InputModel):
    name: Label | None = Field(default=None, min_length=1, max_length=300)
    year: int | None = Field(default=None, ge=1800, le=3000)
    category_id: ObjectId | None = None
    stream_icon: str | None = Field(default=None, max_length=1000)
    rating: float | None = Field(default=None, ge=0, le=10)
    plot: str | None = Field(default=None, max_length=20_000)
    cast: str | None = Field(default=None, max_length=20_000)
    director: str | None = Field(default=None, max_length=300)
    genre: str | None = Field(default=None, max_length=300)
    release_date: str | None = Field(default=None, pattern=DATE_PATTERN)
    youtube_trailer: str | None = Field(default=None, max_length=100)
    duration_secs: int | None = Field(default=None, ge=0, le=10_000_000)
    backdrop_path: list[Annotated[str, Field(max_length=1000)]] | None = Field(
        default=None, max_length=50
    )
    tmdb_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    container_extension: str | None = Field(default=None, pattern=CONTAINER_PATTERN)
    source_url: str | None = Field(default=None, max_length=2000)
    delivery: RemoteDelivery | None = None
    enabled: bool | None = None


NULLABLE = frozenset({"year", "category_id", "rating", "tmdb_id"})


class MovieOut(BaseModel):
    """As stored: no input constraints, so imported rows always render."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    tenant_id: int
    name: str
    year: int | None
    category_id: int | None
    stream_icon: str
    rating: float | None
    plot: str
    cast: str
    director: str
    genre: str
    release_date: str
    youtube_trailer: str
    duration_secs: int
    backdrop_path: list[str]
    tmdb_id: int | None
    container_extension: str
    source_url: str
    delivery: RemoteDelivery
    media_info: dict[str, Any]
    probe_error: str
    enabled: bool
    created_at: datetime


@router.get("/movies", response_model=Page[MovieOut])
def list_movies(
    principal: Staff,
    session: DbSession,
    params: Annotated[ListParams, Depends()],
    q: Annotated[str | None, Query(max_length=100, description="name contains")] = None,
    category_id: QueryId = None,
    tenant_id: QueryId = None,
) -> Page[MovieOut]:
    stmt = scoped_select(principal, Movie, tenant_id)
    if q:
        stmt = stmt.where(Movie.name.contains(q))
    if category_id is not None:
        stmt = stmt.where(Movie.category_id == category_id)
    sortable = {"id": Movie.id, "name": Movie.name, "year": Movie.year, "rating": Movie.rating}
    rows, total = paginate(session, stmt, params, sortable, Movie.id)
    return page_of(rows, total, params, MovieOut)


@router.post("/movies", response_model=MovieOut, status_code=201)
def create_movie(body: MovieIn, principal: Manager, session: DbSession, ctx: Context) -> Movie:
    tenant_id = tenant_for_create(session, principal, body.tenant_id)
    check_category(session, tenant_id, body.category_id, CategoryKind.movie)
    movie = Movie(tenant_id=tenant_id, **body.model_dump(exclude={"tenant_id"}))
    asked = body.container_extension if "container_extension" in body.model_fields_set else None
    apply_source(ctx, movie, tenant_id, asked)
    session.add(movie)
    audited(session, principal, "create", "movie", movie)
    return movie


@router.get("/movies/{movie_id}", response_model=MovieOut)
def get_movie(movie_id: PathId, principal: Staff, session: DbSession) -> Movie:
    return get_scoped(session, principal, Movie, movie_id, label="Movie")


@router.patch("/movies/{movie_id}", response_model=MovieOut)
def update_movie(
    movie_id: PathId, body: MoviePatch, principal: Manager, session: DbSession, ctx: Context
) -> Movie:
    movie = get_scoped(session, principal, Movie, movie_id, label="Movie")
    before = snapshot(movie)
    changes = patch_changes(body, NULLABLE)
    if changes.get("category_id") is not None:
        check_category(session, movie.tenant_id, changes["category_id"], CategoryKind.movie)
    apply_changes(movie, changes)
    if "source_url" in changes or "container_extension" in changes:
        apply_source(ctx, movie, movie.tenant_id, changes.get("container_extension"))
    audited(session, principal, "update", "movie", movie, before=before)
    return movie


class MoviePreviewOut(BaseModel):
    url: str = Field(description="a signed path a <video> element plays (302 to the node)")
    expires_at: float
    browser_playable: bool = Field(description="MP4/WebM with codecs browsers decode")
    hls_url: str | None = Field(
        default=None,
        description="the movie as HLS (a signed path too), when the file is not playable as"
        " it is but its codecs are, cut into MPEG-TS segments (hls.js)",
    )
    note: str


# What a browser's <video> decodes without help (MSE/HLS aside).
BROWSER_CONTAINERS = frozenset({"mp4", "m4v", "webm"})
BROWSER_VIDEO = frozenset({"h264", "vp8", "vp9", "av1"})
BROWSER_AUDIO = frozenset({"aac", "mp3", "opus", "vorbis"})
# What hls.js plays from MPEG-TS segments in every browser with MSE.
HLS_VIDEO = frozenset({"h264"})
HLS_AUDIO = frozenset({"aac", "mp3"})


def hls_playable(movie: Movie) -> bool:
    """A probed local file whose codecs play as HLS in a browser (a remote URL is not
    cut into segments here)."""
    info = movie.media_info or {}
    video = (info.get("video") or {}).get("codec_name", "")
    audio = {a.get("codec_name", "") for a in info.get("audio") or []}
    return video in HLS_VIDEO and audio <= HLS_AUDIO


def browser_playable(movie: Movie) -> bool:
    info = movie.media_info or {}
    video = (info.get("video") or {}).get("codec_name", "")
    audio = {a.get("codec_name", "") for a in info.get("audio") or []}
    return (
        movie.container_extension in BROWSER_CONTAINERS
        and video in BROWSER_VIDEO
        and audio <= BROWSER_AUDIO
    )


@router.post("/movies/{movie_id}/preview", response_model=MoviePreviewOut)
def preview_movie(
    movie_id: PathId, principal: Staff, session: DbSession, ctx: Context
) -> MoviePreviewOut:
    """A short-lived signed URL to play the movie in the panel: the file itself, sent like
    ``/movie/U/P/ID.ext`` (Range, sendfile) but with a watch token for this movie alone
    (playback/watch_tokens.py) in place of a line; never the admin's credentials."""
    movie = get_scoped(session, principal, Movie, movie_id, label="Movie")
    tokens = issuing_watch_tokens(ctx.services)
    if tokens is None:
        raise Conflict("Previews need the media engine, which is not running on this server.")
    if not movie.source_url.strip():
        raise Conflict("This movie has no source to play.")
    expires = time.time() + ctx.settings.preview_token_ttl_seconds
    token = tokens.issue(
        WatchKind.movie_preview, movie.tenant_id, movie.id, principal.user_id, expires
    )
    playable = browser_playable(movie)
    as_hls = not playable and hls_playable(movie)
    if playable:
        note = "Plays in the browser."
    elif as_hls:
        note = "Plays in the browser as HLS (the file cut into segments, not re-encoded)."
    else:
        note = "Browsers may not decode this file's container or codecs; apps will play it."
    return MoviePreviewOut(
        url=movie_watch_path(token, movie.id, movie.container_extension),
        expires_at=expires,
        browser_playable=playable,
        hls_url=movie_watch_path(token, movie.id, "m3u8") if as_hls else None,
        note=note,
    )


@router.delete("/movies/{movie_id}", status_code=204)
def delete_movie(movie_id: PathId, principal: Manager, session: DbSession) -> None:
    movie = get_scoped(session, principal, Movie, movie_id, label="Movie")
    audited(session, principal, "delete", "movie", movie)
    forget_item(session, ItemType.movie, movie.id)
    session.delete(movie)

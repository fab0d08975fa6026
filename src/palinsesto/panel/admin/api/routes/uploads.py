"""Resumable uploads of movie files: announce, send chunks, and the movie is created.

``POST /uploads`` announces a file (name, size) and gets an id; ``PUT /uploads/{id}``
sends one chunk with ``Content-Range: bytes FIRST-LAST/TOTAL``, streamed to disk (the
body is never held whole); ``GET /uploads/{id}`` says how many bytes arrived, where an
interrupted upload resumes. The chunk that completes the file moves it to
``<tenant media>/uploads/<name>``, probes it and creates a movie whose source is that
file (answered 201 with the movie). Storage on disk: panel/admin/uploads.py.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from palinsesto.accounts.models import Tenant
from palinsesto.catalog.library_names import parse_movie_name
from palinsesto.catalog.models import Movie
from palinsesto.context import AppContext
from palinsesto.node.vod_library import SourceFacts, VodLibrary
from palinsesto.panel.admin.api.changes import audited
from palinsesto.panel.admin.api.deps import Context, DbSession, Manager, Principal
from palinsesto.panel.admin.api.errors import (
    ApiError,
    BadRequest,
    Conflict,
    NotFound,
    Unavailable,
)
from palinsesto.panel.admin.api.inputs import InputModel
from palinsesto.panel.admin.api.routes.movies import MovieOut
from palinsesto.panel.admin.api.scope import tenant_for_create
from palinsesto.panel.admin.api.types import STREAMED_BODY, ObjectId, QueryId
from palinsesto.panel.admin.uploads import (
    DONE_FOLDER,
    RangeRefused,
    Upload,
    UploadConflict,
    UploadRefused,
    UploadStore,
    parse_content_range,
)

router = APIRouter(tags=["uploads"])

GIB = 1024**3


class RangeNotSatisfiable(ApiError):
    status_code = 416
    code = "range_not_satisfiable"


class UploadIn(InputModel):
    name: str = Field(min_length=1, max_length=200, description="a plain file name, e.g. film.mp4")
    # Past 2 GiB, so not an int4; 2**53 is the largest size a JavaScript client counts exactly.
    total_bytes: int = Field(ge=1, le=2**53, description="the file's exact size")
    tenant_id: ObjectId | None = Field(default=None, description="platform admins only")


class UploadOut(BaseModel):
    id: str
    tenant_id: int
    name: str
    total_bytes: int
    received_bytes: int
    created_at: float
    complete: bool = False
    movie: MovieOut | None = None


def _store(ctx: AppContext) -> UploadStore:
    store: UploadStore | None = ctx.services.get("uploads")
    if store is None:
        raise Unavailable("Uploads are not available on this server.")
    return store


def _out(upload: Upload, movie: Movie | None = None) -> UploadOut:
    return UploadOut(
        **upload.as_dict(),  # type: ignore[arg-type]
        complete=movie is not None,
        movie=MovieOut.model_validate(movie) if movie is not None else None,
    )


def _mapped(exc: UploadRefused) -> ApiError:
    if isinstance(exc, RangeRefused):
        return RangeNotSatisfiable(str(exc))
    if isinstance(exc, UploadConflict):
        return Conflict(str(exc))
    return BadRequest(str(exc))


def _owned(store: UploadStore, principal: Principal, upload_id: str) -> Upload:
    upload = store.find(upload_id)
    if upload is None or not (principal.is_platform or upload.tenant_id == principal.tenant_id):
        raise NotFound("No such upload (finished, expired or never started).")
    return upload


@router.post("/uploads", response_model=UploadOut, status_code=201)
def start_upload(body: UploadIn, principal: Manager, session: DbSession, ctx: Context) -> UploadOut:
    tenant_id = tenant_for_create(session, principal, body.tenant_id)
    limit = ctx.settings.upload_max_bytes
    if body.total_bytes > limit:
        raise BadRequest(f"The file is larger than this server's upload limit of {limit:,} bytes.")
    tenant = session.get(Tenant, tenant_id)
    storage_gb = tenant.max_storage_gb if tenant is not None else None
    try:
        upload = _store(ctx).create(
            tenant_id,
            body.name,
            body.total_bytes,
            storage_gb * GIB if storage_gb is not None else None,
        )
    except UploadRefused as exc:
        raise _mapped(exc) from None
    return _out(upload)


class UploadList(BaseModel):
    items: list[UploadOut]


@router.get("/uploads", response_model=UploadList)
def list_uploads(principal: Manager, ctx: Context, tenant_id: QueryId = None) -> UploadList:
    """Unfinished uploads (the panel resumes one when the same file is chosen again)."""
    store = _store(ctx)
    if principal.is_platform:
        tenants = [tenant_id] if tenant_id is not None else store.tenants()
    else:
        tenants = [principal.tenant_id] if principal.tenant_id is not None else []
    return UploadList(items=[_out(u) for t in tenants for u in store.list(t)])


@router.get("/uploads/{upload_id}", response_model=UploadOut)
def upload_status(upload_id: str, principal: Manager, ctx: Context) -> UploadOut:
    return _out(_owned(_store(ctx), principal, upload_id))


@router.delete("/uploads/{upload_id}", status_code=204)
def cancel_upload(upload_id: str, principal: Manager, ctx: Context) -> Response:
    store = _store(ctx)
    store.discard(_owned(store, principal, upload_id))
    return Response(status_code=204)


@router.put("/uploads/{upload_id}", response_model=UploadOut, openapi_extra=STREAMED_BODY)
async def put_chunk(
    upload_id: str, request: Request, principal: Manager, ctx: Context, response: Response
) -> UploadOut:
    store = _store(ctx)
    upload = _owned(store, principal, upload_id)
    try:
        chunk = parse_content_range(request.headers.get("content-range", ""))
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) != chunk.length:
            raise UploadRefused(
                f"Content-Length is {int(declared):,} but the Content-Range spans "
                f"{chunk.length:,} bytes."
            )
        upload = await store.write_chunk(upload, chunk, request.stream())
    except UploadRefused as exc:
        raise _mapped(exc) from None
    if upload.received < chunk.last + 1:
        raise BadRequest(
            f"The body ended before the chunk's last byte; {upload.received:,} bytes are "
            f"kept: resume from byte {upload.received:,}."
        )
    if not upload.complete:
        return _out(upload)
    movie = await _make_movie(ctx, store, principal, upload)
    response.status_code = 201
    return _out(upload, movie)


async def _make_movie(
    ctx: AppContext, store: UploadStore, principal: Principal, upload: Upload
) -> Movie:
    """Move the file into place, probe it, and create its movie."""
    library: VodLibrary | None = ctx.services.get("vod_library")
    if library is None:
        raise Unavailable("Movies cannot be probed on this server.")
    try:
        store.finish(upload)
    except UploadRefused as exc:
        raise _mapped(exc) from None
    source = f"{DONE_FOLDER}/{upload.name}"
    facts = await library.describe(upload.tenant_id, source)
    return await anyio.to_thread.run_sync(_insert_movie, ctx, principal, upload, source, facts)


def _insert_movie(
    ctx: AppContext, principal: Principal, upload: Upload, source: str, facts: SourceFacts
) -> Movie:
    parsed = parse_movie_name(upload.name)
    changed: set[Any] = set()
    with ctx.db.transaction() as session:
        movie = _movie_row(session, principal, upload, source, facts, parsed.title, parsed.year)
        changed = set(session.info.get("changed", ()))
        session.expunge(movie)
    for tenant_id, topic in changed:
        ctx.events.publish(tenant_id, topic)
    return movie


def _movie_row(
    session: Session,
    principal: Principal,
    upload: Upload,
    source: str,
    facts: SourceFacts,
    title: str,
    year: int | None,
) -> Movie:
    movie = Movie(tenant_id=upload.tenant_id, name=title[:300] or upload.name, year=year)
    movie.source_url = source
    movie.container_extension = facts.extension or "mp4"
    movie.media_info = facts.media_info or {}
    movie.probe_error = facts.probe_error
    if facts.media_info:
        movie.duration_secs = int(facts.media_info.get("duration_secs", 0))
    session.add(movie)
    audited(session, principal, "create", "movie", movie)
    session.flush()
    session.refresh(movie)
    return movie

"""Library folders: register a folder of the tenant's media as a movie or series library,
scan it in the background, follow the scan, and see the files it could not use.

``path`` is relative to the tenant's media folder (``<media root>/<tenant id>/``); an
absolute path or one that leaves that folder (``..``, a symlink out) is refused with 422
and names nothing on disk.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import anyio.from_thread
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from palinsesto.catalog.models import (
    CategoryKind,
    LibraryFile,
    LibraryFileStatus,
    LibraryKind,
    MediaLibrary,
    ScanState,
)
from palinsesto.catalog.vod import check_category
from palinsesto.context import AppContext
from palinsesto.errors import AlreadyExists, InvalidValue
from palinsesto.node.library_walk import LibraryPathRefused, library_folder, normalise_library_path
from palinsesto.panel.admin.api.changes import audited
from palinsesto.panel.admin.api.deps import Context, DbSession, Manager, Staff
from palinsesto.panel.admin.api.errors import Conflict
from palinsesto.panel.admin.api.identifiers import Label
from palinsesto.panel.admin.api.inputs import InputModel
from palinsesto.panel.admin.api.pagination import ListParams, Page, page_of, paginate
from palinsesto.panel.admin.api.patching import apply_changes, patch_changes
from palinsesto.panel.admin.api.scope import get_scoped, scoped_select, tenant_for_create
from palinsesto.panel.admin.api.types import ObjectId, PathId, QueryId
from palinsesto.panel.admin.library_scan import LibraryRef, LibraryScans, ScanBusy
from palinsesto.trust.audit import snapshot

router = APIRouter(tags=["libraries"])


class LibraryIn(InputModel):
    name: Label = Field(min_length=1, max_length=200)
    path: str = Field(
        max_length=1000, description="folder relative to the tenant's media folder ('' = all)"
    )
    kind: LibraryKind
    category_id: ObjectId | None = None
    tenant_id: ObjectId | None = Field(default=None, description="platform admins only")


class LibraryPatch(InputModel):
    name: Label | None = Field(default=None, min_length=1, max_length=200)
    category_id: ObjectId | None = None


class ScanOut(BaseModel):
    state: ScanState
    phase: str = ""
    percent: float = 0.0
    files_seen: int = 0
    files_to_probe: int = 0
    files_probed: int = 0
    files_failed: int = 0
    files_unchanged: int = 0
    files_missing: int = 0
    current_file: str = ""
    started_at: float | None = None
    finished_at: float | None = None
    error: str = ""


class LibraryOut(BaseModel):
    id: int
    tenant_id: int
    name: str
    path: str
    kind: LibraryKind
    category_id: int | None
    scan: ScanOut
    files_ok: int
    files_broken: int
    files_missing: int
    created_at: datetime


class LibraryFileOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    rel_path: str
    size: int
    status: LibraryFileStatus
    probe_error: str
    movie_id: int | None
    episode_id: int | None
    probed_at: datetime | None


def _scans(ctx: AppContext) -> LibraryScans:
    scans: LibraryScans | None = ctx.services.get("library_scans")
    if scans is None:
        raise Conflict("Library scans need the media engine, which is not running here.")
    return scans


def _scan_of(ctx: AppContext, library: MediaLibrary) -> ScanOut:
    scans: LibraryScans | None = ctx.services.get("library_scans")
    running = scans.progress(library.id) if scans is not None else None
    if running is not None:
        return ScanOut.model_validate(running.as_dict())
    summary: dict[str, Any] = dict(library.scan_summary or {})
    summary["state"] = library.scan_state
    if library.scan_state is ScanState.running:  # no such scan here: the server restarted
        summary["state"] = ScanState.failed
        summary["error"] = "interrupted: the server stopped during the scan; scan again"
    return ScanOut.model_validate(summary)


def _counts(session: Session, library_ids: list[int]) -> dict[tuple[int, str], int]:
    if not library_ids:
        return {}
    rows = session.execute(
        select(LibraryFile.library_id, LibraryFile.status, func.count())
        .where(LibraryFile.library_id.in_(library_ids))
        .group_by(LibraryFile.library_id, LibraryFile.status)
    )
    return {(r[0], LibraryFileStatus(r[1]).value): r[2] for r in rows}


def _out(ctx: AppContext, library: MediaLibrary, counts: dict[tuple[int, str], int]) -> LibraryOut:
    return LibraryOut(
        id=library.id,
        tenant_id=library.tenant_id,
        name=library.name,
        path=library.path,
        kind=library.kind,
        category_id=library.category_id,
        scan=_scan_of(ctx, library),
        files_ok=counts.get((library.id, "ok"), 0),
        files_broken=counts.get((library.id, "broken"), 0),
        files_missing=counts.get((library.id, "missing"), 0),
        created_at=library.created_at,
    )


def _category_kind(kind: LibraryKind) -> CategoryKind:
    return CategoryKind.movie if kind is LibraryKind.movie else CategoryKind.series


@router.get("/libraries", response_model=Page[LibraryOut])
def list_libraries(
    principal: Staff,
    session: DbSession,
    ctx: Context,
    params: Annotated[ListParams, Depends()],
    tenant_id: QueryId = None,
) -> Page[LibraryOut]:
    stmt = scoped_select(principal, MediaLibrary, tenant_id)
    sortable = {"id": MediaLibrary.id, "name": MediaLibrary.name}
    rows, total = paginate(session, stmt, params, sortable, MediaLibrary.id)
    counts = _counts(session, [r.id for r in rows])
    items = [_out(ctx, r, counts) for r in rows]
    return Page(items=items, total=total, page=params.page, per_page=params.per_page)


@router.post("/libraries", response_model=LibraryOut, status_code=201)
def create_library(
    body: LibraryIn, principal: Manager, session: DbSession, ctx: Context
) -> LibraryOut:
    tenant_id = tenant_for_create(session, principal, body.tenant_id)
    check_category(session, tenant_id, body.category_id, _category_kind(body.kind))
    try:
        path = normalise_library_path(body.path)
        folder = library_folder(ctx.settings.effective_media_root, tenant_id, path)
    except LibraryPathRefused as exc:
        raise InvalidValue(str(exc), "path") from None
    if not folder.is_dir():
        raise InvalidValue("no such folder in the tenant's media folder", "path")
    taken = session.scalar(
        select(MediaLibrary.id).where(
            MediaLibrary.tenant_id == tenant_id, MediaLibrary.path == path
        )
    )
    if taken is not None:
        raise AlreadyExists(f"Library {taken} already covers this folder.", "path")
    library = MediaLibrary(
        tenant_id=tenant_id,
        name=body.name,
        path=path,
        kind=body.kind,
        category_id=body.category_id,
        scan_summary={},
    )
    session.add(library)
    audited(session, principal, "create", "library", library)
    return _out(ctx, library, {})


@router.get("/libraries/{library_id}", response_model=LibraryOut)
def get_library(
    library_id: PathId, principal: Staff, session: DbSession, ctx: Context
) -> LibraryOut:
    library = get_scoped(session, principal, MediaLibrary, library_id, label="Library")
    return _out(ctx, library, _counts(session, [library.id]))


@router.patch("/libraries/{library_id}", response_model=LibraryOut)
def update_library(
    library_id: PathId, body: LibraryPatch, principal: Manager, session: DbSession, ctx: Context
) -> LibraryOut:
    library = get_scoped(session, principal, MediaLibrary, library_id, label="Library")
    before = snapshot(library)
    changes = patch_changes(body, frozenset({"category_id"}))
    if changes.get("category_id") is not None:
        check_category(
            session, library.tenant_id, changes["category_id"], _category_kind(library.kind)
        )
    apply_changes(library, changes)
    audited(session, principal, "update", "library", library, before=before)
    return _out(ctx, library, _counts(session, [library.id]))


@router.delete("/libraries/{library_id}", status_code=204)
def delete_library(
    library_id: PathId, principal: Manager, session: DbSession, ctx: Context
) -> None:
    """Forget the folder and its file list; the movies and series made from it stay."""
    library = get_scoped(session, principal, MediaLibrary, library_id, label="Library")
    scans: LibraryScans | None = ctx.services.get("library_scans")
    if scans is not None and scans.progress(library.id) is not None:
        raise Conflict("This library is being scanned; delete it when the scan ends.")
    audited(session, principal, "delete", "library", library)
    session.delete(library)


@router.post("/libraries/{library_id}/scan", response_model=ScanOut, status_code=202)
def start_scan(library_id: PathId, principal: Manager, session: DbSession, ctx: Context) -> ScanOut:
    """Scan the folder in the background: new and changed files are probed, missing ones
    marked; follow it with GET .../scan. 409 while a scan of this library runs."""
    library = get_scoped(session, principal, MediaLibrary, library_id, label="Library")
    scans = _scans(ctx)
    ref = LibraryRef(library.id, library.tenant_id, library.path, library.kind)
    try:
        progress = anyio.from_thread.run_sync(scans.start, ref)
    except ScanBusy:
        raise Conflict("This library is being scanned already.") from None
    audited(session, principal, "scan", "library", library)
    return ScanOut.model_validate(progress.as_dict())


@router.get("/libraries/{library_id}/scan", response_model=ScanOut)
def scan_status(library_id: PathId, principal: Staff, session: DbSession, ctx: Context) -> ScanOut:
    """The running scan's progress, else the last scan's outcome."""
    library = get_scoped(session, principal, MediaLibrary, library_id, label="Library")
    return _scan_of(ctx, library)


@router.get("/libraries/{library_id}/files", response_model=Page[LibraryFileOut])
def list_library_files(
    library_id: PathId,
    principal: Staff,
    session: DbSession,
    params: Annotated[ListParams, Depends()],
    status: Annotated[LibraryFileStatus | None, Query()] = None,
) -> Page[LibraryFileOut]:
    """The files the scans found; ``status=broken`` lists those ffmpeg could not read,
    with its reason."""
    library = get_scoped(session, principal, MediaLibrary, library_id, label="Library")
    stmt = select(LibraryFile).where(LibraryFile.library_id == library.id)
    if status is not None:
        stmt = stmt.where(LibraryFile.status == status)
    sortable = {"id": LibraryFile.id, "rel_path": LibraryFile.rel_path}
    rows, total = paginate(session, stmt, params, sortable, LibraryFile.rel_path)
    return page_of(rows, total, params, LibraryFileOut)

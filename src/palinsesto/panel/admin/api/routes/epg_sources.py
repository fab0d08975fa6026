"""XMLTV sources of the programme guide: CRUD, uploaded documents, imports and their runs,
and the guide channels an import brings."""

from __future__ import annotations

import os
import threading
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from palinsesto.epg.backoff import SourceHealth, next_attempt, source_health
from palinsesto.epg.guide import EPG_TOPIC
from palinsesto.epg.importer import upload_path
from palinsesto.epg.models import EpgImportRun, EpgSource, GuideChannel, ImportStatus, Programme
from palinsesto.epg.service import EpgService
from palinsesto.panel.admin.api.changes import audited, mark_changed
from palinsesto.panel.admin.api.deps import Context, DbSession, Manager, Staff
from palinsesto.panel.admin.api.errors import Conflict, ValidationFailed
from palinsesto.panel.admin.api.identifiers import Label
from palinsesto.panel.admin.api.inputs import InputModel
from palinsesto.panel.admin.api.pagination import ListParams, Page, page_of, paginate, rendered_page
from palinsesto.panel.admin.api.patching import apply_changes, patch_changes
from palinsesto.panel.admin.api.routes.epg_schemas import GuideChannelOut, RunOut, check_zone
from palinsesto.panel.admin.api.scope import get_scoped, scoped_select, tenant_for_create
from palinsesto.panel.admin.api.types import ObjectId, PathId, QueryId
from palinsesto.trust.audit import snapshot

router = APIRouter(prefix="/epg", tags=["epg"])
UPLOAD_PIECE = 1 << 20


def _check_url(value: str | None) -> str | None:
    if value and not value.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value


class SourceIn(InputModel):
    name: Label = Field(min_length=1, max_length=200)
    url: str = Field(default="", max_length=2000, description="empty for an uploaded document")
    refresh_hours: int = Field(default=24, ge=1, le=24 * 30)
    priority: int = Field(default=100, ge=0, le=1_000_000, description="lower wins")
    enabled: bool = True
    timezone: str = Field(default="UTC", max_length=64, description="for times without offset")
    tenant_id: ObjectId | None = Field(default=None, description="platform admins only")

    _url = field_validator("url")(_check_url)
    _zone = field_validator("timezone")(check_zone)


class SourcePatch(InputModel):
    name: Label | None = Field(default=None, min_length=1, max_length=200)
    url: str | None = Field(default=None, max_length=2000)
    refresh_hours: int | None = Field(default=None, ge=1, le=24 * 30)
    priority: int | None = Field(default=None, ge=0, le=1_000_000)
    enabled: bool | None = None
    timezone: str | None = Field(default=None, max_length=64)

    _url = field_validator("url")(_check_url)
    _zone = field_validator("timezone")(check_zone)


class SourceOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    tenant_id: int
    name: str
    url: str
    uploaded: bool
    refresh_hours: int
    priority: int
    enabled: bool
    timezone: str
    active_run_id: int | None
    last_import_at: datetime | None
    consecutive_failures: int = Field(description="failed imports since the last success")
    last_error: str = Field(description="why the latest of those failed")
    next_attempt_at: datetime | None = Field(
        description="when the periodic job reads the source again: its refresh interval "
        "after a success, an exponential back-off after failures; none when disabled"
    )


def _service(ctx: Any) -> EpgService:
    return ctx.services["epg"]


def _source_out(source: EpgSource, health: SourceHealth, retry_base_seconds: int) -> SourceOut:
    return SourceOut(
        id=source.id,
        tenant_id=source.tenant_id,
        name=source.name,
        url=source.url,
        uploaded=bool(source.upload_path),
        refresh_hours=source.refresh_hours,
        priority=source.priority,
        enabled=source.enabled,
        timezone=source.timezone,
        active_run_id=source.active_run_id,
        last_import_at=source.last_import_at,
        consecutive_failures=health.consecutive_failures,
        last_error=health.last_error,
        next_attempt_at=next_attempt(source, health, retry_base_seconds),
    )


def _render(session: Session, ctx: Any, sources: list[EpgSource]) -> list[SourceOut]:
    session.flush()  # a new source needs its id and created_at
    health = source_health(session, [s.id for s in sources])
    base = _service(ctx).retry_base_seconds
    return [_source_out(s, health[s.id], base) for s in sources]


def _unique_name(session: Session, tenant_id: int, name: str, exclude: int | None = None) -> None:
    stmt = select(EpgSource.id).where(EpgSource.tenant_id == tenant_id, EpgSource.name == name)
    found = session.scalar(stmt)
    if found is not None and found != exclude:
        raise Conflict(f"An EPG source named {name!r} already exists.", fields={"name": "Taken."})


# -- sources ------------------------------------------------------------------------------


@router.get("/sources", response_model=Page[SourceOut])
def list_sources(
    principal: Staff,
    session: DbSession,
    ctx: Context,
    params: Annotated[ListParams, Depends()],
    tenant_id: QueryId = None,
) -> Page[SourceOut]:
    stmt = scoped_select(principal, EpgSource, tenant_id)
    sortable = {"id": EpgSource.id, "name": EpgSource.name, "priority": EpgSource.priority}
    rows, total = paginate(session, stmt, params, sortable, EpgSource.id)
    return rendered_page(_render(session, ctx, list(rows)), total, params)


@router.post("/sources", response_model=SourceOut, status_code=201)
def create_source(
    body: SourceIn, principal: Manager, session: DbSession, ctx: Context
) -> SourceOut:
    tenant_id = tenant_for_create(session, principal, body.tenant_id)
    _unique_name(session, tenant_id, body.name)
    source = EpgSource(tenant_id=tenant_id, **body.model_dump(exclude={"tenant_id"}))
    session.add(source)
    audited(session, principal, "create", "epg_source", source)
    return _render(session, ctx, [source])[0]


@router.get("/sources/{source_id}", response_model=SourceOut)
def get_source(source_id: PathId, principal: Staff, session: DbSession, ctx: Context) -> SourceOut:
    source = get_scoped(session, principal, EpgSource, source_id, label="EPG source")
    return _render(session, ctx, [source])[0]


@router.patch("/sources/{source_id}", response_model=SourceOut)
def update_source(
    source_id: PathId, body: SourcePatch, principal: Manager, session: DbSession, ctx: Context
) -> SourceOut:
    source = get_scoped(session, principal, EpgSource, source_id, label="EPG source")
    before = snapshot(source)
    changes = patch_changes(body)
    if "name" in changes:
        _unique_name(session, source.tenant_id, changes["name"], exclude=source.id)
    apply_changes(source, changes)
    audited(session, principal, "update", "epg_source", source, before=before)
    mark_changed(session, source.tenant_id, EPG_TOPIC)
    return _render(session, ctx, [source])[0]


@router.delete("/sources/{source_id}", status_code=204)
def delete_source(source_id: PathId, principal: Manager, session: DbSession, ctx: Context) -> None:
    source = get_scoped(session, principal, EpgSource, source_id, label="EPG source")
    audited(session, principal, "delete", "epg_source", source)
    session.execute(delete(Programme).where(Programme.source_id == source.id))
    mark_changed(session, source.tenant_id, EPG_TOPIC)
    if source.upload_path:
        (ctx.settings.data_dir / source.upload_path).unlink(missing_ok=True)
    session.delete(source)


@router.put("/sources/{source_id}/document", response_model=SourceOut)
def upload_document(
    source_id: PathId, file: UploadFile, principal: Manager, session: DbSession, ctx: Context
) -> SourceOut:
    """Store an XMLTV document (plain, gzip or xz) as the source's content."""
    source = get_scoped(session, principal, EpgSource, source_id, label="EPG source")
    target = upload_path(ctx.settings.data_dir, source.tenant_id, source.id)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part")
    limit = ctx.settings.epg_max_bytes
    size = 0
    try:
        with partial.open("wb") as out:
            while piece := file.file.read(UPLOAD_PIECE):
                size += len(piece)
                if size > limit:
                    raise ValidationFailed(
                        f"The document is larger than the limit of {limit:,} bytes.",
                        fields={"file": "Too large."},
                    )
                out.write(piece)
        if size == 0:
            raise ValidationFailed("The document is empty.", fields={"file": "Empty."})
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    before = snapshot(source)
    source.upload_path = str(target.relative_to(ctx.settings.data_dir))
    audited(session, principal, "update", "epg_source", source, before=before)
    return _render(session, ctx, [source])[0]


@router.post("/sources/{source_id}/import", response_model=RunOut)
def trigger_import(
    source_id: PathId,
    principal: Manager,
    ctx: Context,
    response: Response,
    wait: Annotated[bool, Query(description="answer when the import is done")] = False,
) -> EpgImportRun:
    """Import the source now. Without ``wait`` the run is returned at once (202), running."""
    with ctx.db.transaction() as session:
        source = get_scoped(session, principal, EpgSource, source_id, label="EPG source")
        if not (source.url or source.upload_path):
            raise ValidationFailed(
                "The source has neither a URL nor an uploaded document.", fields={"url": "Empty."}
            )
        busy = session.scalar(
            select(EpgImportRun.id).where(
                EpgImportRun.source_id == source.id, EpgImportRun.status == ImportStatus.running
            )
        )
        if busy is not None:
            raise Conflict(f"Import run {busy} of this source is still running.")
        run = EpgImportRun(tenant_id=source.tenant_id, source_id=source.id)
        session.add(run)
        session.flush()
        run_id = run.id
    service = _service(ctx)
    if wait:
        service.import_source(source_id, run_id=run_id)
    else:
        threading.Thread(
            target=service.import_source,
            args=(source_id,),
            kwargs={"run_id": run_id},
            name=f"epg-import-{source_id}",
            daemon=True,
        ).start()
        response.status_code = 202
    with ctx.db.session() as session:
        found = session.get(EpgImportRun, run_id)
        assert found is not None
        return found


# -- import runs and guide channels -------------------------------------------------------


@router.get("/runs", response_model=Page[RunOut])
def list_runs(
    principal: Staff,
    session: DbSession,
    params: Annotated[ListParams, Depends()],
    source_id: QueryId = None,
    tenant_id: QueryId = None,
) -> Page[RunOut]:
    stmt = scoped_select(principal, EpgImportRun, tenant_id)
    if source_id is not None:
        stmt = stmt.where(EpgImportRun.source_id == source_id)
    rows, total = paginate(session, stmt, params, {"id": EpgImportRun.id}, EpgImportRun.id.desc())
    return page_of(rows, total, params, RunOut)


@router.get("/runs/{run_id}", response_model=RunOut)
def get_run(run_id: PathId, principal: Staff, session: DbSession) -> EpgImportRun:
    return get_scoped(session, principal, EpgImportRun, run_id, label="Import run")


@router.get("/guide-channels", response_model=Page[GuideChannelOut])
def list_guide_channels(
    principal: Staff,
    session: DbSession,
    params: Annotated[ListParams, Depends()],
    source_id: QueryId = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    tenant_id: QueryId = None,
) -> Page[GuideChannelOut]:
    stmt = scoped_select(principal, GuideChannel, tenant_id)
    if source_id is not None:
        stmt = stmt.where(GuideChannel.source_id == source_id)
    if q:
        stmt = stmt.where(GuideChannel.display_name.contains(q) | GuideChannel.xmltv_id.contains(q))
    sortable = {"xmltv_id": GuideChannel.xmltv_id, "display_name": GuideChannel.display_name}
    rows, total = paginate(session, stmt, params, sortable, GuideChannel.id)
    return page_of(rows, total, params, GuideChannelOut)

"""M3U playlists from the panel: preview and import (an uploaded file or a URL fetched under
the outbound policy), and M3U sources the panel re-imports on a schedule.

Source URLs usually hold the provider account (``get.php?username=…&password=…``): they are
answered redacted, and a preview shows each entry's host only, never its path or query.
The routes that fetch or import open their own transaction after the download, so that no
database write lock is held while a provider is slow to answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, UploadFile
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from palinsesto.catalog.m3u_fetch import (
    DEFAULT_TIMEOUT,
    PlaylistUnavailable,
    decode_playlist,
    fetch_playlist,
)
from palinsesto.catalog.m3u_import import ImportRefused
from palinsesto.catalog.m3u_reader import M3UError, M3UPlaylist
from palinsesto.catalog.m3u_sources import (
    ERRORS_SHOWN,
    ImportTarget,
    PlaylistOutcome,
    PlaylistRefused,
    check_target,
    import_playlist,
    preview_playlist,
    read_playlist,
    url_host,
)
from palinsesto.catalog.models import M3USource, M3USourceChannel
from palinsesto.context import AppContext
from palinsesto.outbound import policy_from_settings
from palinsesto.panel.admin.api.changes import audited
from palinsesto.panel.admin.api.deps import Context, DbSession, Manager, Principal, Staff
from palinsesto.panel.admin.api.errors import Conflict, ValidationFailed
from palinsesto.panel.admin.api.identifiers import Label
from palinsesto.panel.admin.api.inputs import InputModel
from palinsesto.panel.admin.api.pagination import ListParams, Page, paginate, rendered_page
from palinsesto.panel.admin.api.patching import apply_changes, patch_changes
from palinsesto.panel.admin.api.scope import get_scoped, scoped_select, tenant_for_create
from palinsesto.panel.admin.api.types import MAX_ID, ObjectId, PathId, QueryId
from palinsesto.panel.admin.m3u_refresh import TOPICS, M3URefreshService, SourceBusy
from palinsesto.redaction import redact_url, redact_urls_in

router = APIRouter(prefix="/m3u", tags=["m3u"])
URL_MAX = 2000
REFRESH_WAIT_SECONDS = 300.0
FormId = Annotated[int | None, Form(ge=1, le=MAX_ID)]


def _check_url(value: str | None) -> str | None:
    if value is not None and not value.lower().startswith(("http://", "https://")):
        raise ValueError("Use an http:// or https:// address.")
    return value


# -- preview and import ----------------------------------------------------------------


class EntryOut(BaseModel):
    line: int = Field(description="line of the #EXTINF in the playlist")
    name: str
    group: str = Field(description="the entry's group-title")
    category: str = Field(description="the category it goes into")
    logo: str
    tvg_id: str
    host: str = Field(description="where the stream comes from (scheme, host, port only)")
    status: str = Field(description="new: becomes a channel; existing: updates one")


class LineError(BaseModel):
    line: int
    message: str


class PreviewOut(BaseModel):
    total_entries: int
    new: int
    updated: int
    unchanged: int
    skipped: int = Field(description="malformed or out-of-bounds entries, listed in errors")
    categories_created: list[str]
    entries: list[EntryOut] = Field(description="the first 500 entries")
    errors: list[LineError] = Field(description="the first 200 problems, by line")


class ImportOut(BaseModel):
    created: int
    updated: int
    unchanged: int
    skipped: int
    categories_created: list[str]
    added_to_bouquet: int
    errors: list[LineError]


def _errors(errors: list[M3UError]) -> list[LineError]:
    return [
        LineError(line=e.line_number, message=redact_urls_in(e.message))
        for e in errors[:ERRORS_SHOWN]
    ]


def _playlist(ctx: AppContext, file: UploadFile | None, url: str | None) -> tuple[M3UPlaylist, str]:
    """The playlist of the upload or the URL, and how to name it in the audit log."""
    limit = ctx.settings.m3u_max_bytes
    if (file is None) == (not url):
        raise ValidationFailed(
            "Upload a playlist file or give its address (one of the two).",
            fields={"url": "Give an address or upload a file."},
        )
    try:
        if file is not None:
            data = file.file.read(limit + 1)
            if len(data) > limit:
                raise ValidationFailed(
                    f"The playlist is larger than the limit of {limit:,} bytes.",
                    fields={"file": "Too large."},
                )
            name = file.filename or "upload"
            return read_playlist(decode_playlist(data, name)), f"upload {name}"
        assert url is not None
        address = url.strip()
        if not address.lower().startswith(("http://", "https://")):
            message = "Use an http:// or https:// address."
            raise ValidationFailed(message, fields={"url": message})
        policy = policy_from_settings(ctx.settings)
        text = fetch_playlist(address, policy, timeout=DEFAULT_TIMEOUT, max_bytes=limit)
        return read_playlist(text), address
    except PlaylistUnavailable as exc:
        field = "file" if file is not None else "url"
        message = redact_urls_in(str(exc))
        raise ValidationFailed(
            f"The playlist cannot be read: {message}.", fields={field: message}
        ) from None


def _tenant(ctx: AppContext, principal: Principal, requested: int | None) -> int:
    with ctx.db.session() as session:
        return tenant_for_create(session, principal, requested)


def _refused(exc: Exception) -> ValidationFailed:
    return ValidationFailed(str(exc), fields={"file": str(exc)})


@router.post("/preview", response_model=PreviewOut)
def preview(
    principal: Manager,
    ctx: Context,
    file: UploadFile | None = None,
    url: Annotated[str | None, Form(max_length=URL_MAX)] = None,
    category_id: FormId = None,
    tenant_id: FormId = None,
) -> PreviewOut:
    """What importing the playlist would do, changing nothing: counts of new, updated and
    unchanged channels against the tenant's, its entries, and its problems by line."""
    tenant = _tenant(ctx, principal, tenant_id)
    category_name = _target_checked(ctx, tenant, ImportTarget(category_id))
    playlist, _ = _playlist(ctx, file, url)
    try:
        result = preview_playlist(ctx.db, tenant, playlist, ImportTarget(category_id))
    except (PlaylistRefused, ImportRefused) as exc:
        raise _refused(exc) from None
    outcome = result.outcome
    return PreviewOut(
        total_entries=result.total_entries,
        new=outcome.created,
        updated=outcome.updated,
        unchanged=outcome.unchanged,
        skipped=len(outcome.errors),
        categories_created=outcome.categories_created,
        entries=[
            EntryOut(
                line=entry.line_number,
                name=entry.name,
                group=entry.group_title,
                category=category_name or entry.group_title,
                logo=redact_url(entry.tvg_logo),
                tvg_id=entry.tvg_id,
                host=url_host(entry.url),
                status=status,
            )
            for entry, status in result.rows
        ],
        errors=_errors(outcome.errors),
    )


def _target_checked(ctx: AppContext, tenant_id: int, target: ImportTarget) -> str | None:
    """The target category's name; a foreign id is refused before anything is fetched."""
    with ctx.db.session() as session:
        return check_target(session, tenant_id, target)


def _import_out(outcome: PlaylistOutcome) -> ImportOut:
    return ImportOut(
        created=outcome.created,
        updated=outcome.updated,
        unchanged=outcome.unchanged,
        skipped=len(outcome.errors),
        categories_created=outcome.categories_created,
        added_to_bouquet=outcome.added_to_bouquet,
        errors=_errors(outcome.errors),
    )


@router.post("/import", response_model=ImportOut)
def import_m3u(
    principal: Manager,
    ctx: Context,
    file: UploadFile | None = None,
    url: Annotated[str | None, Form(max_length=URL_MAX)] = None,
    category_id: FormId = None,
    bouquet_id: FormId = None,
    tenant_id: FormId = None,
) -> ImportOut:
    """Import the playlist's entries as channels: into ``category_id`` (else each
    group-title becomes a category), added to ``bouquet_id`` when given. Entries already
    there are updated, not duplicated; malformed ones are skipped and listed by line. A
    playlist with nothing importable changes nothing (422)."""
    tenant = _tenant(ctx, principal, tenant_id)
    _target_checked(ctx, tenant, ImportTarget(category_id, bouquet_id))
    playlist, label = _playlist(ctx, file, url)
    try:
        with ctx.db.transaction() as session:
            outcome = import_playlist(
                session,
                tenant,
                playlist,
                ImportTarget(category_id, bouquet_id),
                source_label=label,
                actor=principal.username,
                actor_id=principal.user_id,
            )
    except PlaylistRefused as exc:
        raise _refused(exc) from None
    except ImportRefused as exc:
        raise Conflict(f"{exc}; nothing was imported.") from None
    for topic in TOPICS:
        ctx.events.publish(tenant, topic)
    return _import_out(outcome)


# -- sources -----------------------------------------------------------------------------


class SourceIn(InputModel):
    name: Label = Field(min_length=1, max_length=200)
    url: str = Field(min_length=1, max_length=URL_MAX, description="the playlist's address")
    category_id: ObjectId | None = Field(
        default=None, description="every entry goes here; none: group-titles become categories"
    )
    bouquet_id: ObjectId | None = Field(default=None, description="imported channels join it")
    refresh_hours: int = Field(default=24, ge=1, le=24 * 30, description="re-import every")
    enabled: bool = Field(default=True, description="refreshed on its schedule")
    tenant_id: ObjectId | None = Field(default=None, description="platform admins only")

    _url = field_validator("url")(_check_url)


class SourcePatch(InputModel):
    name: Label | None = Field(default=None, min_length=1, max_length=200)
    url: str | None = Field(default=None, min_length=1, max_length=URL_MAX)
    category_id: ObjectId | None = None
    bouquet_id: ObjectId | None = None
    refresh_hours: int | None = Field(default=None, ge=1, le=24 * 30)
    enabled: bool | None = None

    _url = field_validator("url")(_check_url)


class SourceOut(BaseModel):
    id: int
    tenant_id: int
    name: str
    url: str = Field(description="credentials in it are masked")
    category_id: int | None
    bouquet_id: int | None
    refresh_hours: int
    enabled: bool
    last_run_at: datetime | None
    last_status: str = Field(description="empty until the first run; succeeded or failed")
    last_error: str
    last_summary: dict[str, int] = Field(description="what the last successful run did")
    consecutive_failures: int
    next_run_at: datetime | None = Field(description="when the refresh job runs it next")
    channels: int = Field(description="channels this source brought")
    created_at: datetime


def _out(session: Session, sources: list[M3USource]) -> list[SourceOut]:
    session.flush()
    counts = dict(
        session.execute(
            select(M3USourceChannel.source_id, func.count())
            .where(M3USourceChannel.source_id.in_([s.id for s in sources]))
            .group_by(M3USourceChannel.source_id)
        ).all()
    )
    return [
        SourceOut(
            id=s.id,
            tenant_id=s.tenant_id,
            name=s.name,
            url=redact_url(s.url),
            category_id=s.category_id,
            bouquet_id=s.bouquet_id,
            refresh_hours=s.refresh_hours,
            enabled=s.enabled,
            last_run_at=s.last_run_at,
            last_status=s.last_status,
            last_error=s.last_error,
            last_summary={k: int(v) for k, v in (s.last_summary or {}).items()},
            consecutive_failures=s.consecutive_failures,
            next_run_at=s.next_run_at if s.enabled else None,
            channels=counts.get(s.id, 0),
            created_at=s.created_at,
        )
        for s in sources
    ]


def _audit_view(source: M3USource) -> dict[str, Any]:
    return {
        "name": source.name,
        "url": redact_url(source.url),
        "category_id": source.category_id,
        "bouquet_id": source.bouquet_id,
        "refresh_hours": source.refresh_hours,
        "enabled": source.enabled,
    }


def _unique_name(session: Session, tenant_id: int, name: str, exclude: int | None = None) -> None:
    stmt = select(M3USource.id).where(M3USource.tenant_id == tenant_id, M3USource.name == name)
    found = session.scalar(stmt)
    if found is not None and found != exclude:
        raise Conflict(f"An M3U source named {name!r} already exists.", fields={"name": "Taken."})


@router.get("/sources", response_model=Page[SourceOut])
def list_sources(
    principal: Staff,
    session: DbSession,
    params: Annotated[ListParams, Depends()],
    tenant_id: QueryId = None,
) -> Page[SourceOut]:
    stmt = scoped_select(principal, M3USource, tenant_id)
    sortable = {"id": M3USource.id, "name": M3USource.name}
    rows, total = paginate(session, stmt, params, sortable, M3USource.id)
    return rendered_page(_out(session, list(rows)), total, params)


@router.post("/sources", response_model=SourceOut, status_code=201)
def create_source(body: SourceIn, principal: Manager, session: DbSession) -> SourceOut:
    """A playlist re-imported every ``refresh_hours`` (the first run comes at the refresh
    job's next check, or at once with ``POST …/refresh``)."""
    tenant_id = tenant_for_create(session, principal, body.tenant_id)
    _unique_name(session, tenant_id, body.name)
    check_target(session, tenant_id, ImportTarget(body.category_id, body.bouquet_id))
    source = M3USource(tenant_id=tenant_id, **body.model_dump(exclude={"tenant_id"}))
    session.add(source)
    audited(session, principal, "create", "m3u_source", source, after=_audit_view(source))
    return _out(session, [source])[0]


@router.get("/sources/{source_id}", response_model=SourceOut)
def get_source(source_id: PathId, principal: Staff, session: DbSession) -> SourceOut:
    source = get_scoped(session, principal, M3USource, source_id, label="M3U source")
    return _out(session, [source])[0]


@router.patch("/sources/{source_id}", response_model=SourceOut)
def update_source(
    source_id: PathId, body: SourcePatch, principal: Manager, session: DbSession
) -> SourceOut:
    source = get_scoped(session, principal, M3USource, source_id, label="M3U source")
    before = _audit_view(source)
    changes = patch_changes(body, nullable={"category_id", "bouquet_id"})
    # The masked URL this API answered, sent back unchanged by a form: not a new address.
    if changes.get("url") == redact_url(source.url):
        del changes["url"]
    if "name" in changes:
        _unique_name(session, source.tenant_id, changes["name"], exclude=source.id)
    check_target(
        session,
        source.tenant_id,
        ImportTarget(changes.get("category_id"), changes.get("bouquet_id")),
    )
    apply_changes(source, changes)
    if "refresh_hours" in changes and source.last_status == "succeeded" and source.last_run_at:
        source.next_run_at = source.last_run_at + timedelta(hours=source.refresh_hours)
    audited(
        session, principal, "update", "m3u_source", source, before=before, after=_audit_view(source)
    )
    return _out(session, [source])[0]


@router.delete("/sources/{source_id}", status_code=204)
def delete_source(source_id: PathId, principal: Manager, session: DbSession) -> None:
    """Forget the source; the channels it brought stay."""
    source = get_scoped(session, principal, M3USource, source_id, label="M3U source")
    audited(session, principal, "delete", "m3u_source", source, before=_audit_view(source))
    session.execute(delete(M3USourceChannel).where(M3USourceChannel.source_id == source.id))
    session.delete(source)


@router.post("/sources/{source_id}/refresh", response_model=SourceOut)
def refresh_now(source_id: PathId, principal: Manager, ctx: Context) -> SourceOut:
    """Fetch and import the playlist now; answers when done, with the run's outcome (if the
    refresh job is running it already, with that run's)."""
    with ctx.db.session() as session:
        get_scoped(session, principal, M3USource, source_id, label="M3U source")
    service: M3URefreshService = ctx.services["m3u"]
    try:
        service.refresh(source_id, actor=principal.username, actor_id=principal.user_id)
    except SourceBusy as exc:
        # The scheduled job is running it right now: its outcome is the answer.
        if not service.wait(source_id, REFRESH_WAIT_SECONDS):
            raise Conflict(str(exc)) from None
    with ctx.db.session() as session:
        source = get_scoped(session, principal, M3USource, source_id, label="M3U source")
        return _out(session, [source])[0]

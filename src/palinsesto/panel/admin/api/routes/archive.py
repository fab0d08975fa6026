"""Catch-up archive status: per recorded channel, the oldest and newest recorded time,
the disk it uses, the gaps in it and whether it is recording now; per tenant, its quota
and what it uses of it.

Scoped like every resource: a tenant's staff see their own tenant (another tenant's id
is a 404); a platform admin sees every tenant, or one with ``tenant_id``. Figures come
from the archive of this panel's own engine (node/archive/store.py): channels recorded
on remote streaming nodes keep their archive there and are not measured here.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from palinsesto.catalog.models import Channel
from palinsesto.panel.admin.api.deps import Context, Staff
from palinsesto.panel.admin.api.errors import NotFound, Unavailable
from palinsesto.panel.admin.api.scope import tenant_clause
from palinsesto.panel.admin.api.types import QueryId

router = APIRouter(tags=["archive"])

NO_ARCHIVE = (
    "This panel runs no streaming engine: channels are recorded on the tenant's nodes, "
    "which keep their archives."
)


class ArchiveChannelOut(BaseModel):
    channel_id: int
    name: str
    archive_days: int  # 0: no longer archived (what is left goes at the next pruning)
    channel_status: str  # running / stopped / failing / waiting, from the engine
    recording: bool  # a file of this channel is being written now
    oldest: float | None  # unix time of the first recorded second kept
    newest: float | None  # unix time of the last recorded second
    bytes: int
    files: int
    gaps: int  # breaks in the recording (server or source down), oldest to newest


class ArchiveTenantOut(BaseModel):
    tenant_id: int
    quota_bytes: int  # 0: no quota
    used_bytes: int
    channels: list[ArchiveChannelOut]


class ArchiveReport(BaseModel):
    tenants: list[ArchiveTenantOut]


def _report(ctx: Any, archive: Any, principal: Any, tenant_id: int | None) -> list[Any]:
    """Per tenant: its archived or recorded channels with their status, and the bytes its
    recordings use (blocking: the database and a stat of every file)."""
    with ctx.db.session() as session:
        rows = session.execute(
            select(Channel.id, Channel.tenant_id, Channel.name, Channel.archive_days)
            .where(tenant_clause(principal, Channel, tenant_id))
            .order_by(Channel.tenant_id, Channel.name, Channel.id)
        ).all()
    by_tenant: dict[int, list[Any]] = {}
    for row in rows:
        by_tenant.setdefault(row.tenant_id, []).append(row)
    found = []
    for tenant, channels in by_tenant.items():
        on_disk = set(archive.channels_of(tenant))
        listed = [
            (row, archive.status((tenant, row.id)))
            for row in channels
            if row.archive_days > 0 or row.id in on_disk
        ]
        # A deleted channel's recordings count until they are pruned.
        known = {row.id for row in channels}
        used = sum(int(status["bytes"]) for _, status in listed)
        used += sum(int(archive.status((tenant, c))["bytes"]) for c in on_disk - known)
        if listed or not principal.is_platform:
            found.append((tenant, listed, used))
    if not principal.is_platform and not found:
        found.append((principal.tenant_id, [], 0))
    return found


@router.get("/archive", response_model=ArchiveReport)
async def archive_status(
    principal: Staff, ctx: Context, tenant_id: QueryId = None
) -> ArchiveReport:
    """Recorded channels (archive_days > 0, or still holding recordings) per tenant."""
    if not principal.is_platform:
        if tenant_id is not None and tenant_id != principal.tenant_id:
            raise NotFound(f"Tenant {tenant_id} not found.")
        tenant_id = principal.tenant_id
    archive = ctx.services.get("archive")
    engine = ctx.services.get("live")
    if archive is None or engine is None:
        raise Unavailable(NO_ARCHIVE)
    found = await asyncio.to_thread(_report, ctx, archive, principal, tenant_id)
    quota = archive.quota_bytes
    tenants = []
    for tenant, listed, used in found:
        channels = []
        for row, status in listed:
            runner = engine.running(row.id)
            state = runner.status()["status"] if runner is not None else "stopped"
            channels.append(
                ArchiveChannelOut(
                    channel_id=row.id,
                    name=row.name,
                    archive_days=row.archive_days,
                    channel_status=str(state),
                    recording=bool(status["recording"]),
                    oldest=status["oldest"],
                    newest=status["newest"],
                    bytes=int(status["bytes"]),
                    files=int(status["files"]),
                    gaps=int(status["gaps"]),
                )
            )
        tenants.append(
            ArchiveTenantOut(
                tenant_id=tenant, quota_bytes=quota, used_bytes=used, channels=channels
            )
        )
    return ArchiveReport(tenants=tenants)

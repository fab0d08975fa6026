"""Catch-up archive status: per recorded channel, the oldest and newest recorded time,
the disk it uses, the gaps in it and whether it is recording now; per tenant, its quota
and what it uses of it.

Scoped like every resource: a tenant's staff see their own tenant (another tenant's id
is a 404); a platform admin sees every tenant, or one with ``tenant_id``. Figures come
from the archive of this panel's own engine (node/archive/store.py) and from what the
streaming nodes report in their heartbeats (panel/nodes/archives.py): per node its
oldest and newest recorded time, its gaps and the disk it uses; a channel's own figures
are those of all its archives together. Each node applies its own archive quota: in
``palinsesto panel`` mode ``quota_bytes`` is 0 and ``used_bytes`` what the nodes report.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from palinsesto.catalog.models import Channel
from palinsesto.panel.admin.api.deps import Context, Staff
from palinsesto.panel.admin.api.errors import NotFound, Unavailable
from palinsesto.panel.admin.api.scope import tenant_clause
from palinsesto.panel.admin.api.types import QueryId
from palinsesto.panel.nodes.archives import ClusterArchives, NodeArchive

router = APIRouter(tags=["archive"])

NO_ARCHIVE = "This server keeps no catch-up archive and has no streaming nodes."
# A node's archive whose last recorded second is this recent is recording now (its
# heartbeat reports it every couple of seconds).
RECORDING_SECONDS = 30.0


class ArchiveNodeOut(BaseModel):
    node_id: int
    recording: bool
    oldest: float | None
    newest: float | None
    bytes: int  # 0 when the node did not report it
    gaps: int


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
    nodes: list[ArchiveNodeOut] = []  # the streaming nodes holding recordings of it


class ArchiveTenantOut(BaseModel):
    tenant_id: int
    quota_bytes: int  # 0: no quota
    used_bytes: int
    channels: list[ArchiveChannelOut]


class ArchiveReport(BaseModel):
    tenants: list[ArchiveTenantOut]


def merged(stretches: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Stretches of several archives as one timeline (overlaps joined)."""
    found: list[tuple[float, float]] = []
    for start, end in sorted(stretches):
        if found and start <= found[-1][1] + 1.0:
            found[-1] = (found[-1][0], max(found[-1][1], end))
        else:
            found.append((start, end))
    return found


def _node_out(found: NodeArchive, now: float) -> ArchiveNodeOut:
    stretches = found.stretches
    return ArchiveNodeOut(
        node_id=found.node_id,
        recording=bool(stretches) and stretches[-1][1] >= now - RECORDING_SECONDS,
        oldest=stretches[0][0] if stretches else None,
        newest=stretches[-1][1] if stretches else None,
        bytes=found.bytes,
        gaps=max(0, len(stretches) - 1),
    )


EMPTY: dict[str, Any] = {
    "recording": False, "oldest": None, "newest": None, "bytes": 0, "files": 0, "gaps": 0,
    "spans": [],
}  # fmt: skip


def _status(local: Any, cluster: ClusterArchives | None, key: tuple[int, int], now: float) -> Any:
    """A channel's figures: this server's archive and every node's together."""
    status = dict(local.status(key)) if local is not None else dict(EMPTY)
    nodes = [_node_out(n, now) for n in cluster.by_node(key)] if cluster is not None else []
    if nodes:
        stretches = [tuple(x) for x in status.get("spans", [])]
        for found in cluster.by_node(key) if cluster is not None else []:
            stretches += found.stretches
        timeline = merged(stretches)
        status["oldest"] = min(x for x in (status["oldest"], timeline[0][0]) if x is not None)
        status["newest"] = max(x for x in (status["newest"], timeline[-1][1]) if x is not None)
        status["gaps"] = max(0, len(timeline) - 1)
        status["bytes"] = int(status["bytes"]) + sum(n.bytes for n in nodes)
        status["recording"] = bool(status["recording"]) or any(n.recording for n in nodes)
    status["nodes"] = nodes
    return status


def _report(
    ctx: Any, local: Any, cluster: ClusterArchives | None, principal: Any, tenant_id: int | None
) -> list[Any]:
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
    now = time.time()
    found = []
    for tenant, channels in by_tenant.items():
        on_disk = set(local.channels_of(tenant)) if local is not None else set()
        if cluster is not None:
            on_disk |= set(cluster.channels_of(tenant))
        listed = [
            (row, _status(local, cluster, (tenant, row.id), now))
            for row in channels
            if row.archive_days > 0 or row.id in on_disk
        ]
        # A deleted channel's recordings count until they are pruned.
        known = {row.id for row in channels}
        used = sum(int(status["bytes"]) for _, status in listed)
        used += sum(
            int(_status(local, cluster, (tenant, c), now)["bytes"]) for c in on_disk - known
        )
        if listed or not principal.is_platform:
            found.append((tenant, listed, used))
    if not principal.is_platform and not found:
        found.append((principal.tenant_id, [], 0))
    return found


@router.get("/archive", response_model=ArchiveReport)
async def archive_status(
    principal: Staff, ctx: Context, tenant_id: QueryId = None
) -> ArchiveReport:
    """Recorded channels (archive_days > 0, or still holding recordings here or on a
    streaming node) per tenant."""
    if not principal.is_platform:
        if tenant_id is not None and tenant_id != principal.tenant_id:
            raise NotFound(f"Tenant {tenant_id} not found.")
        tenant_id = principal.tenant_id
    engine = ctx.services.get("live")
    control = ctx.services.get("nodes")
    local = ctx.services.get("archive") if engine is not None else None
    cluster: ClusterArchives | None = control.archives if control is not None else None
    if local is None and cluster is None:
        raise Unavailable(NO_ARCHIVE)
    found = await asyncio.to_thread(_report, ctx, local, cluster, principal, tenant_id)
    loads = await control.channel_loads(tenant_id) if control is not None else {}
    quota = local.quota_bytes if local is not None else 0
    tenants = []
    for tenant, listed, used in found:
        channels = []
        for row, status in listed:
            runner = engine.running(row.id) if engine is not None else None
            if runner is not None:
                state = runner.status()["status"]
            elif row.id in loads:
                state = loads[row.id]["state"]
            else:
                state = "stopped"
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
                    nodes=status["nodes"],
                )
            )
        tenants.append(
            ArchiveTenantOut(
                tenant_id=tenant, quota_bytes=quota, used_bytes=used, channels=channels
            )
        )
    return ArchiveReport(tenants=tenants)

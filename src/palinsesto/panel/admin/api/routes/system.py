"""The panel process and its machine: what its bounded caches hold, and the host's CPU,
memory and network (platform admins only)."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter
from pydantic import BaseModel

from palinsesto.panel.admin.api.deps import Context, PlatformAdmin
from palinsesto.panel.admin.api.errors import Unavailable
from palinsesto.panel.admin.host_stats import HostStats
from palinsesto.panel.playback.viewer import viewer_surfaces

router = APIRouter(tags=["system"])


class ResponseCacheOut(BaseModel):
    entries: int
    bytes: int
    max_entries: int
    max_bytes: int
    evictions: int
    bouquet_sets: int


@router.get("/system/response-cache", response_model=ResponseCacheOut)
def response_cache(principal: PlatformAdmin, ctx: Context) -> ResponseCacheOut:
    """Built viewer responses (player API lists, playlists) in this process, against the
    ``PALINSESTO_RESPONSE_CACHE_MAX_*`` bounds."""
    stats = viewer_surfaces(ctx).catalogs.stats()
    return ResponseCacheOut(
        entries=stats.entries,
        bytes=stats.bytes,
        max_entries=stats.max_entries,
        max_bytes=stats.max_bytes,
        evictions=stats.evictions,
        bouquet_sets=stats.sets,
    )


class HostOut(BaseModel):
    cpu_percent: float
    cpu_count: int
    load_1m: float
    memory_total_bytes: int
    memory_used_bytes: int
    network_in_bps: float
    network_out_bps: float
    interval_seconds: float


@router.get("/system/host", response_model=HostOut)
def host(principal: PlatformAdmin, ctx: Context) -> HostOut:
    """CPU use, memory and network rates of the machine this panel runs on (from /proc),
    averaged since the previous call; the machine is the platform's, so platform admins
    only."""
    stats: HostStats = ctx.services.setdefault("host_stats", HostStats())
    try:
        figures = stats.figures()
    except (OSError, ValueError, KeyError) as exc:
        raise Unavailable("This machine's figures cannot be read (no Linux /proc).") from exc
    return HostOut(**asdict(figures))

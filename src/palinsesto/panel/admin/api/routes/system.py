"""The panel process itself: what its bounded caches hold (platform admins only)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from palinsesto.panel.admin.api.deps import Context, PlatformAdmin
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

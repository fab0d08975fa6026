"""The admin REST API under ``/api/v1``."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from palinsesto.panel.admin.api.errors import install_error_handlers
from palinsesto.panel.admin.api.routes import (
    archive,
    audit,
    auth,
    bouquets,
    branding,
    categories,
    channels,
    counter_notices,
    creator,
    creators,
    credits,
    domains,
    epg_grid,
    epg_review,
    epg_sources,
    episodes,
    libraries,
    line_health,
    lines,
    live,
    m3u,
    movies,
    notice_actions,
    notices,
    operator,
    packages,
    personal_data,
    rights,
    schedule,
    series,
    servers,
    signup,
    syndication,
    system,
    tenants,
    transparency,
    uploads,
    usage,
    users,
    watch,
)
from palinsesto.panel.admin.api.types import refuse_nul

API_PREFIX = "/api/v1"


def build_router() -> APIRouter:
    # Every route, present and future, refuses NUL in its text before its own code runs.
    router = APIRouter(prefix=API_PREFIX, dependencies=[Depends(refuse_nul)])
    for module in (
        auth,
        signup,
        tenants,
        usage,
        categories,
        watch,
        users,
        packages,
        credits,
        channels,
        bouquets,
        line_health,  # before lines: /lines/online is not a line id
        lines,
        live,
        archive,
        servers,
        movies,
        series,
        episodes,
        libraries,
        uploads,
        audit,
        epg_sources,
        epg_grid,
        epg_review,
        m3u,
        schedule,
        notices,
        notice_actions,
        counter_notices,
        transparency,
        operator,
        personal_data,
        system,
        rights,
        creators,
        creator,
        domains,
        branding,
        syndication,
    ):
        router.include_router(module.router)
    return router


__all__ = ["API_PREFIX", "build_router", "install_error_handlers"]

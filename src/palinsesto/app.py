"""The ASGI application: one factory, everything it needs passed in."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI

from palinsesto import __version__
from palinsesto.accounts.plans import UnknownPlan, plan_named
from palinsesto.config import ENV_PREFIX, ConfigError
from palinsesto.context import AppContext
from palinsesto.epg.service import install_epg
from palinsesto.listeners import NodeSockets
from palinsesto.node.vod_library import VodLibrary
from palinsesto.panel.admin.api import API_PREFIX, build_router, install_error_handlers
from palinsesto.panel.admin.body_limit import BodyLimit, RouteLimit
from palinsesto.panel.admin.legal_jobs import LegalJobs
from palinsesto.panel.admin.library_scan import LibraryScans
from palinsesto.panel.admin.live_stats import install_live_stats
from palinsesto.panel.admin.m3u_refresh import install_m3u_refresh
from palinsesto.panel.admin.panel import mount_panel
from palinsesto.panel.admin.security_headers import SecurityHeaders
from palinsesto.panel.admin.server_timing import ServerTiming
from palinsesto.panel.admin.storage_meter import StorageMeter
from palinsesto.panel.admin.syndication_log import end_expired_syndications
from palinsesto.panel.admin.upload_expiry import UploadExpiry
from palinsesto.panel.admin.uploads import UploadStore
from palinsesto.panel.local_node.engine import install_live
from palinsesto.panel.nodes.front import NodeFront, admit_elsewhere
from palinsesto.panel.nodes.install import NoLocalEngine, install_nodes
from palinsesto.panel.playback.live_routes import install_live_routes
from palinsesto.panel.playback.posters import PosterLinks, install_poster_route
from palinsesto.panel.playback.routes import ViewerSurfaceDispatch, player_routes


def create_app(
    ctx: AppContext, node_sockets: NodeSockets | None = None, *, local_node: bool = True
) -> FastAPI:
    """Build the application around an already-migrated database.

    ``node_sockets``: the live engine's listeners, when the caller bound them already
    (``palinsesto serve`` does, before anything else); else the engine binds them at start.
    ``local_node=False`` (``palinsesto panel``): the control plane only, no live engine;
    streams are served by registered nodes (panel/nodes/). Either way a tenant with nodes
    has its viewers sent to them.
    """
    try:
        plan_named(ctx.settings.signup_plan)
    except UnknownPlan as exc:  # the plans live above config.py, so they are checked here
        raise ConfigError(f"{ENV_PREFIX}SIGNUP_PLAN: {exc}") from None
    epg = install_epg(ctx)  # ctx.services["guide"] before any surface reads it
    live = install_live(ctx, node_sockets) if local_node else None  # services["live"]
    nodes = install_nodes(ctx)  # services["nodes"]
    if live is not None:  # tenants with nodes have their channels run there, not here
        live.served_elsewhere = nodes.control.tenant_has_nodes
        live.served_elsewhere_cached = partial(nodes.control.tenant_has_nodes, cached_only=True)
        # A partner's viewer of a channel the owner streams from its nodes goes there.
        live.admit_elsewhere = partial(admit_elsewhere, nodes.control)
        # Syndications whose term passed leave the partners' catalogues (a 2 s sweep).
        live.end_expired_syndications = partial(end_expired_syndications, ctx.db, ctx.events)
    else:  # the player API's tv_archive / has_archive: what the nodes' archives hold
        ctx.services["archive"] = nodes.control.archives
        # No engine sweeps expired syndications here: the nodes' watch does (every replica;
        # the sweep skips rows another replica is ending).
        nodes.control.syndication.end_expired = partial(
            end_expired_syndications, ctx.db, ctx.events
        )
    # services["viewer_history"] (dashboard): the local engine's sessions.
    live_stats = install_live_stats(ctx, live if live is not None else NoLocalEngine())
    posters = PosterLinks.for_context(ctx)  # ctx.services["posters"]: library poster URLs
    # A panel without a local node still probes its libraries' files with its own ffmpeg.
    library = live.vod_library if live is not None else VodLibrary.standalone(ctx.settings)
    ctx.services.setdefault("vod_library", library)
    uploads = UploadStore(ctx.settings.effective_media_root, ctx.settings.upload_expiry_seconds)
    ctx.services["uploads"] = uploads
    upload_expiry = UploadExpiry(uploads)
    storage_meter = StorageMeter(
        ctx.db,
        ctx.settings.effective_media_root,
        ctx.settings.effective_archive_root,
        ctx.settings.storage_sample_seconds,
    )
    scans = LibraryScans(ctx.db, ctx.events, library, posters, ctx.settings.library_probe_workers)
    ctx.services["library_scans"] = scans
    m3u = install_m3u_refresh(ctx)  # ctx.services["m3u"]: scheduled playlist imports
    legal_jobs = LegalJobs(ctx)
    ctx.services["legal_jobs"] = legal_jobs

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        epg.start()
        m3u.start()
        if live is not None:
            await live.start()
        await nodes.start()
        live_stats.start()
        legal_jobs.start()
        upload_expiry.start()
        storage_meter.start()
        yield
        await storage_meter.stop()
        await upload_expiry.stop()
        await scans.stop()
        await legal_jobs.stop()
        await live_stats.stop()
        await nodes.stop()
        if live is not None:
            await live.stop()
        m3u.stop()
        epg.stop()
        ctx.events.close()
        ctx.db.dispose()

    app = FastAPI(
        title="Palinsesto",
        version=__version__,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    install_error_handlers(app)
    app.include_router(build_router())
    install_poster_route(app, posters)  # /posters/...: images the player API links to
    app.add_middleware(ServerTiming, prefix=API_PREFIX)  # the API's own time, per response
    app.add_middleware(SecurityHeaders)
    # JSON bodies are small; an XMLTV document may be as large as the EPG limit allows, and
    # a bouquet's contents hold up to 100,000 items of ~50 bytes.
    larger_bodies = [
        RouteLimit(
            "PUT",
            re.compile(f"{API_PREFIX}/epg/sources/[0-9]+/document"),
            ctx.settings.epg_max_bytes,
        ),
        RouteLimit("PUT", re.compile(f"{API_PREFIX}/bouquets/[0-9]+/items"), 8 * 1024 * 1024),
        # An uploaded playlist, plus the multipart framing and the form's few fields.
        RouteLimit(
            "POST",
            re.compile(f"{API_PREFIX}/m3u/(preview|import)"),
            ctx.settings.m3u_max_bytes + 64 * 1024,
        ),
    ]
    # A chunk of a resumable upload, streamed to disk as it arrives (routes/uploads.py).
    larger_bodies.append(
        RouteLimit(
            "PUT",
            re.compile(f"{API_PREFIX}/uploads/[0-9a-f]+"),
            ctx.settings.upload_chunk_max_bytes,
        )
    )
    app.add_middleware(BodyLimit, routes=larger_bodies)
    # Viewer apps' surfaces: player_api.php, panel_api.php, get.php, xmltv.php (+ aliases),
    # dispatched ahead of the admin API's stack (see ViewerSurfaceDispatch); servers run
    # `viewer_first(app)`, which takes them before FastAPI's own per-request work too.
    app.state.viewer_routes = player_routes(ctx)
    app.add_middleware(ViewerSurfaceDispatch, routes=app.state.viewer_routes)
    # The node API and node admission: ahead of everything (see panel/nodes/front.py);
    # `viewer_first` puts it in front of FastAPI as well.
    app.add_middleware(NodeFront, control=nodes.control)
    app.state.front = lambda inner: NodeFront(inner, nodes.control)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    mount_panel(app)  # last: its static mounts must not shadow the routes above
    install_live_routes(app, ctx)  # after everything: /U/P/ID is a catch-all (reference §2)
    return app

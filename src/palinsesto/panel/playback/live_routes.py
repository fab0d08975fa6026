"""Stream URLs on the main web port: a 302 to the node's data plane (reference §8.3).

The live engine serves ``/live/...``, ``/hls/...`` and the short ``/U/P/ID`` forms on its
own lean listener (see media/dataplane.py for why). Players that were given the panel's
address follow this redirect, as XC's load balancing makes them do; the path, and with it
the extension, is kept so players that sniff the type still see it (§8.3).

Where the redirect points never comes from the request's ``Host`` header: anyone can send
``Host: evil.example`` and the player would follow (security review #10). It is
:func:`data_plane_base`: the configured public addresses, else an address of this machine.
The one exception is a tenant's own domain, which the platform knows (the domains table):
on it, only that tenant's lines pass (another tenant's credentials are answered as wrong
ones, here already), and without ``live_public_url`` the player is sent to the same domain
at the data plane's port, where the data plane scopes the play by Host again.

VOD (``/movie/...``, ``/series/...``) is redirected the same way rather than served here:
its bytes go out with ``sendfile(2)``, which needs the socket, and an ASGI app never sees
one (Starlette's FileResponse on uvicorn reads the file through Python in 64 KiB chunks).
"""

from __future__ import annotations

import asyncio
import re
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from palinsesto.accounts.domains import host_of_header
from palinsesto.config import Settings, is_wildcard, join_host, split_host_port
from palinsesto.context import AppContext
from palinsesto.node.archive.paths import TIMESHIFT_PREFIXES, BadTimeshift, parse_timeshift
from palinsesto.panel.playback.domains import DomainsStale, shared_domains
from palinsesto.panel.playback.lines import LineRefused, shared_line_directory
from palinsesto.panel.playback.raw_http import parse_query
from palinsesto.panel.playback.refusals import refusal_status
from palinsesto.panel.playback.stream_paths import LivePath, VodPath, parse_delivery_path
from palinsesto.panel.playback.watch_tokens import SIGNED_USER

_SHORT_FILE = re.compile(r"^\d{1,10}(\.(ts|m3u8|ch))?$")
_MAPPED_V4 = "::ffff:"  # how a dual-stack socket shows an IPv4 peer
# ``palinsesto panel`` answers this for a right line whose play no node takes: its tenant
# has no node online (as admission through the panel says it).
NO_SERVER = "no streaming server online\n"


def data_plane_base(settings: Settings, live_port: int, arrived_at: str | None) -> str:
    """``scheme://host:port`` players are sent to for ``/live`` and ``/hls``.

    In order: ``live_public_url``; the host of ``public_url`` with the data plane's port
    (plain http: the data plane speaks no TLS; put a proxy's address in ``live_public_url``);
    the data plane's own listen host if it binds one address; else ``arrived_at``, the
    local address the player's connection reached (an address of this machine, chosen by
    the kernel, not by the client: with every interface bound, a TV on the LAN is sent to
    the LAN address it already uses).
    """
    if settings.live_public_url:
        return settings.live_public_url.rstrip("/")
    host = urlsplit(settings.public_url).hostname if settings.public_url else None
    if host is None:
        live_host = split_host_port(settings.effective_live_listen)[0]
        host = live_host if not is_wildcard(live_host) else (arrived_at or "127.0.0.1")
        if host.startswith(_MAPPED_V4) and "." in host:
            host = host[len(_MAPPED_V4) :]
    return f"http://{join_host(host)}:{live_port}"


def stream_credentials(path: str, query: dict[str, str], zone: ZoneInfo) -> tuple[str, str] | None:
    """The username and password a stream URL carries (None: a segment or a bad URL, which
    the data plane answers itself)."""
    try:
        if path.startswith(TIMESHIFT_PREFIXES):
            shift = parse_timeshift(path, query, zone)
            return shift.username, shift.password
        target = parse_delivery_path(path)
    except (BadTimeshift, ValueError, LookupError):
        return None
    if isinstance(target, LivePath | VodPath):
        return target.username, target.password
    return None


def install_live_routes(app: FastAPI, ctx: AppContext) -> None:
    """Add the delivery redirects; call it last (the short form is a catch-all, §2)."""
    domains = shared_domains(ctx.services, ctx.db, ctx.events)
    lines = shared_line_directory(ctx.services, ctx.db, ctx.events, ctx.line_throttle)
    zone = ZoneInfo(ctx.settings.timezone)

    async def host_tenant(request: Request) -> int | None:
        host = request.headers.get("host", "")
        try:
            return domains.tenant_for_host(host, cached_only=True)
        except DomainsStale:
            return await asyncio.to_thread(domains.tenant_for_host, host)

    async def refused_here(
        request: Request, path: str, tenant_id: int | None, *, require_active: bool = False
    ) -> Response | None:
        """The refusal of a wrong line; on a tenant's domain (``tenant_id``), of another
        tenant's line too."""
        found = stream_credentials(path, parse_query(request.scope["query_string"]), zone)
        if found is None or found[0] == SIGNED_USER:  # a watch token names its own tenant
            return None
        client = request.scope.get("client")
        try:
            await asyncio.to_thread(
                lines.authenticate,
                *found,
                ip=client[0] if client else "",
                user_agent=request.headers.get("user-agent", ""),
                # By default an inactive line gets its slate from the data plane.
                require_active=require_active,
                tenant_id=tenant_id,
            )
        except LineRefused as exc:
            status = refusal_status(exc) or 403
            headers = {"Access-Control-Allow-Origin": "*"}
            if retry := getattr(exc, "retry_after", None):
                headers["Retry-After"] = str(retry)
            return PlainTextResponse(f"{exc.code}\n", status_code=status, headers=headers)
        return None

    async def without_data_plane(request: Request, path: str) -> Response:
        """``palinsesto panel`` has no data plane: the plays it sends to nodes never get
        here, so what does is a play no node can take. The line is checked first, so a
        mistyped username reads as one (and counts with the sign-in throttle) rather than
        as an outage, and an unknown username answers as a wrong password does."""
        tenant_id = await host_tenant(request)
        refused = await refused_here(request, path, tenant_id, require_active=True)
        if refused is not None:
            return refused
        return PlainTextResponse(NO_SERVER, status_code=503)

    async def redirect(request: Request) -> Response:
        engine = ctx.services.get("live")
        # The path as it came (still percent-encoded: a password may hold %2F).
        raw_path = request.scope.get("raw_path")
        path = raw_path.split(b"?")[0].decode("latin-1") if raw_path else request.url.path
        if engine is None:
            return await without_data_plane(request, path)
        if not engine.port:
            return PlainTextResponse("STREAM_OFFLINE\n", status_code=503)
        server = request.scope.get("server")
        base = data_plane_base(ctx.settings, engine.port, server[0] if server else None)
        tenant_id = await host_tenant(request)
        if tenant_id is not None:
            if (refused := await refused_here(request, path, tenant_id)) is not None:
                return refused
            if not ctx.settings.live_public_url:  # the data plane on the tenant's own name
                name = host_of_header(request.headers.get("host", ""))
                base = f"http://{join_host(name)}:{engine.port}"
        target = base + path
        if request.url.query:
            target += f"?{request.url.query}"
        return RedirectResponse(target, status_code=302)

    async def short_form(request: Request) -> Response:
        if not _SHORT_FILE.match(request.path_params["stream"]):
            return PlainTextResponse("Not Found", status_code=404)
        return await redirect(request)

    methods = ["GET", "HEAD"]
    app.router.routes.extend(
        [
            Route("/live/{username}/{password}/{stream}", redirect, methods=methods),
            Route("/hls/{token}/{segment}", redirect, methods=methods),
            Route("/vodhls/{token}/{segment}", redirect, methods=methods),
            Route("/movie/{username}/{password}/{stream}", redirect, methods=methods),
            Route("/series/{username}/{password}/{stream}", redirect, methods=methods),
            Route("/timeshift/{rest:path}", redirect, methods=methods),  # catch-up, §8.5
            Route("/timeshifts/{rest:path}", redirect, methods=methods),
            Route("/streaming/timeshift.php", redirect, methods=methods),
            Route("/{username}/{password}/{stream}", short_form, methods=methods),
        ]
    )

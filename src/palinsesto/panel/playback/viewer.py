"""What every viewer surface shares: request → plain credentials, line sign-in (throttled
inside :meth:`~palinsesto.panel.playback.lines.LineDirectory.authenticate`), the catalogue
cache, the guide and the session counter.

Surfaces (player API, playlists, XMLTV, panel API) turn a request into a
:class:`ViewerRequest` and call :meth:`ViewerSurfaces.authenticate`; refusals come back as
:class:`~palinsesto.panel.playback.lines.LineRefused` subclasses (``LoginThrottled`` among
them), which each surface renders its own way (reference §3.3, §6.1, §7.1); the two file
downloads (playlist, guide) share :meth:`ViewerSurfaces.authenticate_download`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from palinsesto.accounts.domains import host_and_port
from palinsesto.context import AppContext
from palinsesto.panel.playback.catalog_cache import CatalogCache
from palinsesto.panel.playback.domains import DomainsStale, shared_domains
from palinsesto.panel.playback.guide import EmptyGuide, Guide
from palinsesto.panel.playback.lines import (
    BadCredentials,
    LineInactive,
    LineRefused,
    LineView,
    LoginThrottled,
    shared_line_directory,
)
from palinsesto.panel.playback.raw_http import parse_query, scope_headers
from palinsesto.panel.playback.xtream import ServerIdentity


class SessionCounter(Protocol):
    def active_count(self, line_id: int) -> int: ...


class NodeSessionCounter(Protocol):
    def active_count(self, tenant_id: int, line_id: int) -> int: ...


@dataclass(frozen=True, slots=True)
class ViewerRequest:
    """A viewer app's request reduced to plain values."""

    username: str
    password: str
    ip: str
    user_agent: str
    params: dict[str, str]
    host: str = ""  # the Host header: a tenant's own domain narrows sign-in to its lines


def plain_headers(request: Request) -> dict[str, str]:
    """The request headers as a plain dict (lower-case names), built once per request."""
    return scope_headers(request.scope)


def viewer_values(scope: Scope, params: dict[str, str]) -> ViewerRequest:
    """Credentials from the path, else from ``params`` (query or form), §2, §3.1."""
    path = scope.get("path_params") or {}
    client = scope.get("client")
    headers = scope_headers(scope)
    return ViewerRequest(
        username=path.get("username") or params.get("username", ""),
        password=path.get("password") or params.get("password", ""),
        ip=client[0] if client else "",
        user_agent=headers.get("user-agent", ""),
        params=params,
        host=headers.get("host", ""),
    )


async def viewer_request(request: Request) -> ViewerRequest:
    """Credentials from the path, the query or (POST) the form, in that order (§2, §3.1)."""
    params = parse_query(request.scope["query_string"])
    if request.method == "POST":
        form = await request.form()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return viewer_values(request.scope, params)


class ViewerSurfaces:
    """The shared machinery, built once per application and kept in ``ctx.services``."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.lines = shared_line_directory(ctx.services, ctx.db, ctx.events, ctx.line_throttle)
        self.domains = shared_domains(ctx.services, ctx.db, ctx.events)
        self.catalogs = CatalogCache(
            ctx.db,
            ctx.events,
            max_entries=ctx.settings.response_cache_max_entries,
            max_bytes=ctx.settings.response_cache_max_bytes,
            recorded=self._archive_recorded,
        )

    @property
    def server(self) -> ServerIdentity:
        # Read each time: tests and `serve` set the listen port after start-up.
        s = self.ctx.settings
        key = (s.effective_public_url, s.timezone, self.rtmp_port)
        cached: tuple[tuple[str, str, int], ServerIdentity] | None = getattr(self, "_server", None)
        if cached is None or cached[0] != key:
            cached = (key, ServerIdentity.from_public_url(*key))
            self._server = cached
        return cached[1]

    @property
    def rtmp_port(self) -> int:
        """``server_info.rtmp_port``: where this process takes RTMP (its ingest, or the
        public address set for it), 0 where it takes none: ``palinsesto panel`` (its nodes
        do) or ``rtmp_listen`` off. Apps use the port only for ``rtmp`` output URLs."""
        s = self.ctx.settings
        engine = self.ctx.services.get("live")
        if engine is None or not s.rtmp_listen:
            return 0
        if s.rtmp_public_url:
            return s.rtmp_public_port
        return int(engine.rtmp_port) or s.rtmp_public_port

    @property
    def public_url(self) -> str:
        return self.ctx.settings.effective_public_url

    def public_url_for(self, viewer: ViewerRequest, scheme: str) -> str:
        """Where this viewer reaches the panel: the tenant's own domain when the request
        came on one (its playlist and account call then name it), else the platform's."""
        try:
            tenant_id = self.domains.tenant_for_host(viewer.host, cached_only=True)
        except DomainsStale:  # just changed: the platform's address is right meanwhile
            tenant_id = None
        if tenant_id is None:
            return self.public_url
        return f"{'https' if scheme == 'https' else 'http'}://{host_and_port(viewer.host)}"

    def server_for(self, viewer: ViewerRequest, scheme: str) -> ServerIdentity:
        """:attr:`server` as seen on the viewer's host (one object per address, reused)."""
        url = self.public_url_for(viewer, scheme)
        if url == self.public_url:
            return self.server
        known: dict[str, ServerIdentity] = self.__dict__.setdefault("_domain_servers", {})
        found = known.get(url)
        if found is None:
            if len(known) > 10_000:
                known.clear()
            s = self.ctx.settings
            found = ServerIdentity.from_public_url(url, s.timezone, self.rtmp_port)
            known[url] = found
        return found

    def guide(self) -> Guide:
        return self.ctx.services.get("guide", EmptyGuide())

    def active_cons(self, line_id: int, tenant_id: int) -> int:
        """Open connections of a line (§9): the local engine's sessions, plus the
        sessions its tenant's nodes hold (the cluster's session slots), if any."""
        sessions: SessionCounter | None = self.ctx.services.get("sessions")
        count = sessions.active_count(line_id) if sessions is not None else 0
        nodes: NodeSessionCounter | None = self.ctx.services.get("nodes")
        if nodes is not None:
            count += nodes.active_count(tenant_id, line_id)
        return count

    def _archive_recorded(self, tenant_id: int, channel_id: int) -> bool:
        archive = self.ctx.services.get("archive")
        return archive is not None and bool(archive.recorded_any((tenant_id, channel_id)))

    def archive_holds(self, tenant_id: int, channel_id: int) -> Callable[[int, int], bool]:
        """Whether this node's catch-up archive holds a channel's [start, stop] (§4.8
        ``has_archive``); nothing is held where no archive runs."""
        archive = self.ctx.services.get("archive")
        if archive is None:
            return lambda start, stop: False
        return lambda start, stop: bool(archive.holds((tenant_id, channel_id), start, stop))

    async def authenticate(self, viewer: ViewerRequest, *, require_active: bool) -> LineView:
        """The viewer's line, or a refusal (:class:`LoginThrottled` when locked out).

        On a tenant's own domain only that tenant's lines sign in (others: BadCredentials).
        """
        try:
            tenant_id = self.domains.tenant_for_host(viewer.host, cached_only=True)
        except DomainsStale:
            tenant_id = await run_in_threadpool(self.domains.tenant_for_host, viewer.host)
        kwargs: dict[str, Any] = {
            "ip": viewer.ip,
            "user_agent": viewer.user_agent,
            "require_active": require_active,
            "tenant_id": tenant_id,
        }
        if self.lines.is_cached(viewer.username):
            return self.lines.authenticate(viewer.username, viewer.password, **kwargs)
        return await run_in_threadpool(
            self.lines.authenticate, viewer.username, viewer.password, **kwargs
        )

    async def authenticate_download(
        self, viewer: ViewerRequest, *, bad_login_status: int
    ) -> LineView | Response:
        """The viewer's active line, or the response a file download (playlist, guide)
        answers a refusal with: 429 when throttled, ``bad_login_status`` with an empty body
        for bad credentials or an inactive line (XC: 404 for ``get.php``, §6.1; 401 for
        ``xmltv.php``, §7.1), 403 with the reason code for any other refusal."""
        try:
            return await self.authenticate(viewer, require_active=True)
        except LoginThrottled as exc:
            return Response(status_code=429, headers={"Retry-After": str(exc.retry_after)})
        except (BadCredentials, LineInactive):
            return Response(status_code=bad_login_status)
        except LineRefused as exc:
            return Response(exc.code, status_code=403, media_type="text/plain")


def viewer_surfaces(ctx: AppContext) -> ViewerSurfaces:
    """The application's one :class:`ViewerSurfaces` (created on first use)."""
    surfaces = ctx.services.get("viewer_surfaces")
    if surfaces is None:
        surfaces = ViewerSurfaces(ctx)
        ctx.services["viewer_surfaces"] = surfaces
    return surfaces

"""The viewer-facing HTTP surfaces, assembled (reference §2 endpoint map).

Stream delivery (``/live/...``, the short ``/U/P/ID`` form) is mounted separately by the
live engine; the short form is a catch-all and must stay after these routes (§2).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from palinsesto.context import AppContext
from palinsesto.panel.playback.m3u import Playlists
from palinsesto.panel.playback.panel_api import PanelApi
from palinsesto.panel.playback.player_api import PlayerApi
from palinsesto.panel.playback.viewer import viewer_surfaces
from palinsesto.panel.playback.xmltv import XmltvGuide

Endpoint = Callable[[Request], Awaitable[Response]]
METHODS = ["GET", "POST"]  # §14: POST as well as GET everywhere


def player_routes(ctx: AppContext) -> list[BaseRoute]:
    """Routes for player_api.php, panel_api.php, get.php and xmltv.php with their aliases."""
    surfaces = viewer_surfaces(ctx)
    player_api = PlayerApi(surfaces)
    panel_api = PanelApi(surfaces, player_api)
    playlists = Playlists(surfaces)
    guide = XmltvGuide(surfaces)

    def route(path: str, endpoint: Endpoint | ASGIApp) -> Route:
        return Route(path, endpoint, methods=METHODS, include_in_schema=False)

    return [
        # An ASGI app rather than a request handler: see PlayerApi.__call__.
        route("/player_api.php", player_api),
        route("/player_api/{username}/{password}", player_api),
        route("/player_api/{username}/{password}/{action}", player_api),
        route("/panel_api.php", panel_api.handle),
        route("/get.php", playlists.handle),
        route("/playlist/{username}/{password}", playlists.handle),
        route("/playlist/{username}/{password}/{kind}", playlists.handle),
        route("/xmltv.php", guide.handle),
        route("/epg/{username}/{password}", guide.handle),
        route("/epg/{username}/{password}/{gz}", guide.handle),
    ]


class ViewerSurfaceDispatch:
    """ASGI middleware that hands the viewer apps' paths straight to their routes.

    Players poll these endpoints constantly (the account call on every app start, often
    every screen); taking them before the admin API's middleware and route table cuts
    the per-request overhead several-fold. Routes without path parameters are found by
    a dict lookup rather than the router's scan. Every other path goes on to ``app``.
    """

    PREFIXES = ("/player_api", "/panel_api.php", "/get.php", "/playlist/", "/xmltv.php", "/epg/")

    def __init__(self, app: ASGIApp, routes: list[BaseRoute]) -> None:
        self.app = app
        self.router = Router(routes=routes)
        self.exact = {r.path: r for r in routes if isinstance(r, Route) and not r.param_convertors}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            route = self.exact.get(path)
            if route is not None:
                # Route.handle still answers 405 for a method the route does not take.
                await route.handle(scope, receive, send)
                return
            if path.startswith(self.PREFIXES):
                await self.router(scope, receive, send)
                return
        await self.app(scope, receive, send)


def viewer_first(app: Starlette) -> ASGIApp:
    """What an ASGI server should run: ``app`` behind a :class:`ViewerSurfaceDispatch`
    of its own viewer routes (``app.state.viewer_routes``, set by ``create_app``).

    The middleware inside ``app`` already skips the admin API's stack; this outer one
    also skips what FastAPI does for every request before any middleware runs
    (telemetry checks, error and body-limit wrappers), about a tenth of the account
    call's cost. Other paths, and lifespan events, go to ``app`` unchanged.
    """
    inner = ViewerSurfaceDispatch(app, routes=app.state.viewer_routes)
    # The panel's node API and node admission (panel/nodes/front.py), when installed.
    front = getattr(app.state, "front", None)
    return front(inner) if front is not None else inner

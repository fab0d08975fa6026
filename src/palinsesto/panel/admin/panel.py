"""The web panel: static files at ``/panel``, the player library, and the public watch page.

The panel has no build step: ``src/palinsesto/web/`` holds HTML, JavaScript modules and CSS,
served as they are. Browser HLS playback uses hls.js, installed from the npm registry into
``web/node_modules`` by ``./dev`` (``npm ci``) and served from there, never committed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from fastapi.staticfiles import StaticFiles

from palinsesto.panel.admin.api.errors import error_body
from palinsesto.panel.admin.legal_pages import domain_tenant, mount_legal_pages, security_txt_body

PANEL_PREFIX = "/panel"
PLAYER_PREFIX = "/panel/vendor/hls"
STATIC_DIR = Path(__file__).resolve().parents[2] / "web"
# web/package.json sits at the repository root, beside src/ (see ./dev web_assets).
PLAYER_DIR = Path(__file__).resolve().parents[4] / "web" / "node_modules" / "hls.js" / "dist"


class PanelFiles(StaticFiles):
    """Static files that browsers revalidate, so a new release is picked up at once."""

    def file_response(self, *args: object, **kwargs: object) -> Response:
        response = super().file_response(*args, **kwargs)  # type: ignore[arg-type]
        response.headers.setdefault("Cache-Control", "no-cache")
        return response


def mount_panel(app: FastAPI, player_dir: Path = PLAYER_DIR) -> None:
    """Serve the panel, the player library and ``/watch/<channel>`` on ``app``."""

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(f"{PANEL_PREFIX}/", status_code=307)

    @app.get(PANEL_PREFIX, include_in_schema=False)
    def panel_no_slash() -> RedirectResponse:
        return RedirectResponse(f"{PANEL_PREFIX}/", status_code=307)

    @app.get("/.well-known/security.txt", include_in_schema=False)
    def security_txt(request: Request) -> PlainTextResponse:
        # On a tenant's own domain: that service's (its contact first, its addresses).
        tenant, domain_base = domain_tenant(request)
        return PlainTextResponse(
            security_txt_body(
                request.app.state.ctx.settings, datetime.now(UTC), tenant, domain_base
            ),
            headers={"Cache-Control": "max-age=86400"},
        )

    @app.get("/notice", include_in_schema=False)
    def notice_page() -> FileResponse:
        # The public notice form (DSA Art. 16 / DMCA 512(c)(3)); ?service=<slug> preselects.
        return FileResponse(STATIC_DIR / "notice.html", headers={"Cache-Control": "no-cache"})

    mount_legal_pages(app)  # /t/<slug>/operator, security.txt per tenant, transparency

    @app.get("/invite", include_in_schema=False)
    def invite_page() -> FileResponse:
        # A creator's invitation (admin/api/routes/creators.py); the token is the fragment.
        return FileResponse(STATIC_DIR / "invite.html", headers={"Cache-Control": "no-cache"})

    @app.get("/signup", include_in_schema=False)
    def signup_page() -> FileResponse:
        # Self-service panels; the page asks GET /api/v1/signup whether sign-up is open.
        return FileResponse(STATIC_DIR / "signup.html", headers={"Cache-Control": "no-cache"})

    @app.get("/watch/{channel_ref}", include_in_schema=False)
    def watch_page(channel_ref: str) -> FileResponse:
        return FileResponse(STATIC_DIR / "watch.html", headers={"Cache-Control": "no-cache"})

    if player_dir.is_dir():
        app.mount(PLAYER_PREFIX, StaticFiles(directory=player_dir), name="player")
    else:

        @app.get(PLAYER_PREFIX + "/{path:path}", include_in_schema=False)
        def player_missing(path: str) -> JSONResponse:
            message = "The browser player is not installed: run './dev setup' (npm ci in web/)."
            return JSONResponse(error_body("player_missing", message), status_code=404)

    app.mount(PANEL_PREFIX, PanelFiles(directory=STATIC_DIR, html=True), name="panel")

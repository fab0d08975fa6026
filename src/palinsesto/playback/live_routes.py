"""Stream URLs on the main web port: a 302 to the node's data plane (reference §8.3).

The live engine serves ``/live/...``, ``/hls/...`` and the short ``/U/P/ID`` forms on its
own lean listener (see media/dataplane.py for why). Players that were given the panel's
address follow this redirect, as XC's load balancing makes them do; the path, and with it
the extension, is kept so players that sniff the type still see it (§8.3).
"""

from __future__ import annotations

import re

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from palinsesto.context import AppContext

_SHORT_FILE = re.compile(r"^\d{1,10}(\.(ts|m3u8|ch))?$")


def install_live_routes(app: FastAPI, ctx: AppContext) -> None:
    """Add the delivery redirects; call it last (the short form is a catch-all, §2)."""

    async def redirect(request: Request) -> Response:
        engine = ctx.services.get("live")
        if engine is None or not engine.port:
            return PlainTextResponse("STREAM_OFFLINE\n", status_code=503)
        host = request.url.hostname or "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        target = f"{request.url.scheme}://{host}:{engine.port}{request.url.path}"
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
            Route("/timeshift/{rest:path}", redirect, methods=methods),  # catch-up, §8.5
            Route("/timeshifts/{rest:path}", redirect, methods=methods),
            Route("/streaming/timeshift.php", redirect, methods=methods),
            Route("/{username}/{password}/{stream}", short_form, methods=methods),
        ]
    )

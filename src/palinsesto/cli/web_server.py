"""The one way the panel's HTTP server is run, by ``serve`` and ``panel`` alike."""

from __future__ import annotations

import contextlib
import logging
import socket
from typing import TYPE_CHECKING

import typer

from palinsesto.config import Settings
from palinsesto.redaction import AccessLogRedaction

if TYPE_CHECKING:
    from fastapi import FastAPI


def run_panel_http(app: FastAPI, settings: Settings, sock: socket.socket) -> None:
    """Serve ``app`` on the bound ``sock`` until interrupted; exit 3 if it never started."""
    import uvicorn

    from palinsesto.panel.playback.routes import viewer_first

    config = uvicorn.Config(
        viewer_first(app),
        # uvicorn[standard]'s C event loop and HTTP parser, asked for by name so a broken
        # install fails at start instead of silently falling back to the slower
        # pure-Python ones.
        loop="uvloop",
        http="httptools",
        log_level=settings.log_level,
        # One access line per request costs ~3 % of the player API's throughput: debug only.
        # Viewers' passwords and play tokens travel in its paths and query strings; they
        # are masked (AccessLogRedaction, added below once uvicorn has set up its loggers).
        access_log=settings.log_level == "debug",
        # X-Forwarded-For/-Proto only from the configured proxies; uvicorn's default would
        # believe any local peer, and let anyone on the machine pick their own address.
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxy_list,
        server_header=False,
    )
    logging.getLogger("uvicorn.access").addFilter(AccessLogRedaction())
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
    if not server.started:
        raise typer.Exit(3)  # uvicorn's own code for a start that failed (it said why)

"""``palinsesto node``: a data-plane node on any machine, fed by a panel over HTTP.

It binds its ports first (a taken port stops it with one message), starts its data plane,
then registers with the panel (a refused token stops it; a panel that cannot be reached is
retried, and said so) and heartbeats from then on. It never opens a database: this module
and what it imports load neither SQLAlchemy nor the panel's packages (cli/__init__.py runs
it without importing the other commands).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import typer
from rich.console import Console
from rich.markup import escape

from palinsesto import __version__
from palinsesto.config import (
    ENV_PREFIX,
    ConfigError,
    Settings,
    is_wildcard,
    join_host,
    load_settings,
)
from palinsesto.listeners import ListenError, NodeSockets, address_of, bind_node
from palinsesto.protocol.messages import Capacity, Registration

if TYPE_CHECKING:
    from palinsesto.node.remote import RemoteNode

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)
STATUS_EVERY_SECONDS = 2.0
FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 30.0


def node(
    panel: str = typer.Option(
        "", "--panel", help=f"The panel's URL (default: {ENV_PREFIX}NODE_PANEL_URL)."
    ),
    token: str = typer.Option(
        "", "--token", help=f"This node's token from the panel (default: {ENV_PREFIX}NODE_TOKEN)."
    ),
) -> None:
    """Run a streaming node: serves the players a panel sends it, never opens a database."""
    settings = _settings_or_exit()
    panel_url = (panel or settings.node_panel_url).rstrip("/")
    token = token or settings.node_token
    parts = urlsplit(panel_url)
    if not panel_url or parts.scheme not in ("http", "https") or not parts.hostname:
        _fail(2, f"Give the panel's http(s) URL: --panel URL or {ENV_PREFIX}NODE_PANEL_URL.")
    if not token:
        _fail(2, f"Give this node's token: --token TOKEN or {ENV_PREFIX}NODE_TOKEN.")
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request at INFO: a line per heartbeat. The link logs what changes.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.root.level))
    try:
        sockets = bind_node(settings)
    except ListenError as exc:
        _fail(1, str(exc))
    registration = _registration(settings, sockets)
    import uvloop

    from palinsesto.cli.heap import settle_heap

    settle_heap()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        code = runner.run(_serve(settings, sockets, panel_url, token, registration))
    raise typer.Exit(code)


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except (ConfigError, OSError) as exc:
        err_console.print(f"[red]Configuration error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from exc


def _fail(code: int, message: str) -> None:
    err_console.print(f"[red]{escape(message)}[/red]", soft_wrap=True)
    raise typer.Exit(code)


def _registration(settings: Settings, sockets: NodeSockets) -> Registration:
    """How the node introduces itself: its name, its addresses, its capacity."""
    host, port = sockets.live.getsockname()[:2]
    public_url = settings.node_public_url.rstrip("/")
    if not public_url:
        public_url = f"http://{join_host(host)}:{port}"
        if is_wildcard(host):
            console.print(
                f"[yellow]Note:[/yellow] {ENV_PREFIX}LIVE_LISTEN binds every interface but "
                f"{ENV_PREFIX}NODE_PUBLIC_URL is not set: the panel sends players to "
                f"{escape(public_url)}. Set it to the address players reach.",
                soft_wrap=True,
            )
    rtmp_url = settings.rtmp_public_url
    if not rtmp_url and sockets.rtmp is not None:
        public_host = urlsplit(public_url).hostname or host
        rtmp_url = f"rtmp://{join_host(public_host)}:{sockets.rtmp.getsockname()[1]}/live"
    capacity = Capacity(settings.node_egress_mbps, settings.node_max_channels, os.cpu_count() or 1)
    name = settings.node_name or socket.gethostname()
    return Registration(name, public_url, rtmp_url, capacity, __version__)


async def _serve(
    settings: Settings, sockets: NodeSockets, panel_url: str, token: str, reg: Registration
) -> int:
    from palinsesto.node.panel_link import PanelLink, PanelUnavailable, TokenRejected
    from palinsesto.node.remote import RemoteNode

    say = console.print
    node = RemoteNode(settings, sockets)
    link = PanelLink(node, panel_url, token, reg)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await node.start()  # plays get 503 until the panel's first reply
    say(f"Serving players on {escape(reg.public_url)} ({escape(address_of(sockets.live))})")
    delay, said = FIRST_RETRY_SECONDS, False
    try:
        while True:
            try:
                reply = await link.register()
                break
            except TokenRejected as exc:
                err_console.print(
                    f"[red]The panel {escape(panel_url)} refused this node's token "
                    f"({escape(str(exc))}).[/red] Check --token / {ENV_PREFIX}NODE_TOKEN.",
                    soft_wrap=True,
                )
                return 1
            except PanelUnavailable as exc:
                if not said:
                    say(
                        f"Panel {escape(panel_url)} unreachable ({escape(str(exc))}); "
                        "retrying until it answers.",
                        soft_wrap=True,
                    )
                    said = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            if stop.is_set():
                return 0
            delay = min(delay * 2, MAX_RETRY_SECONDS)
        say(
            f"Registered as node {reply.node_id} ({escape(reg.name)}) for {escape(panel_url)}",
            soft_wrap=True,
        )
        report = _report(node, lambda line: say(line, soft_wrap=True))
        tasks = [asyncio.ensure_future(link.run()), asyncio.ensure_future(report)]
        await stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return 0
    finally:
        await node.stop()  # ends every session
        await link.farewell()  # and tells the panel, so their slots are free at once
        await link.aclose()


async def _report(node: RemoteNode, say: Callable[[str], None]) -> None:
    """Say how many channels run and how many viewers watch, when that changes."""
    shown: tuple[int, int, int, bool] | None = None
    while True:
        now = (node.running_channels(), len(node.sessions), len(node.relays), node.accepting)
        if now != shown:
            shown = now
            channels, viewers, relays, accepting = now
            line = f"Channels running: {channels}, viewers: {viewers}"
            if relays:
                line += f", edges pulling: {relays}"
            if not accepting:
                line += f" (taking no new plays: {node.refusal})"
            say(line)
        await asyncio.sleep(STATUS_EVERY_SECONDS)


def register(app: typer.Typer) -> None:
    app.command("node")(node)

"""``palinsesto serve``: the all-in-one server (panel and local node).

Start-up order matters: the ports are bound first, so a server that cannot listen stops
with one message before it migrates the database or creates the platform admin (whose
generated password is shown once, and would otherwise be spent on a start that failed).
"""

from __future__ import annotations

import socket
from dataclasses import replace

import typer
from rich.markup import escape

from palinsesto.accounts.bootstrap import ensure_platform_admin, platform_admin_username
from palinsesto.cli.common import console, err_console, open_database, settings_or_exit
from palinsesto.config import ENV_PREFIX, Settings, is_wildcard, join_host, split_host_port
from palinsesto.demo import ensure_demo
from palinsesto.listeners import ListenError, NodeSockets, address_of, bind_node, bind_tcp


def serve(
    demo: bool = typer.Option(True, help="Create the demo tenant with a test channel."),
) -> None:
    """Run the all-in-one server: migrates the database, then serves on PALINSESTO_LISTEN."""
    settings = settings_or_exit()
    panel_socket, node_sockets = _bind_or_exit(settings)
    host, port = split_host_port(settings.listen)
    if port == 0:  # an ephemeral port: URLs built from the settings name the one bound
        settings = replace(settings, listen=f"{join_host(host)}:{panel_socket.getsockname()[1]}")
    db = open_database(settings)
    with db.transaction() as session:
        first = ensure_platform_admin(session, settings.admin_username, settings.admin_password)
        admin_name = first.admin_username if first else platform_admin_username(session)
        # Only on the very first start (the platform admin was just made): a demo tenant
        # deleted later stays deleted, and its line's password is printed once.
        demo_result = ensure_demo(session, settings.demo_tenant) if demo and first else None
    # soft_wrap everywhere: a URL broken over two lines of a narrow terminal cannot be copied.
    say = console.print
    if first is not None:
        say(f"Created platform admin [bold]{escape(first.admin_username)}[/bold].", soft_wrap=True)
        if first.generated_password:
            # Printed once on the console, never written to a log.
            say(
                f"Its password (shown once): [bold]{escape(first.generated_password)}[/bold]",
                soft_wrap=True,
            )
    base = _panel_base(settings, panel_socket)
    if demo_result is not None:
        say(
            f"Demo tenant '{escape(demo_result.tenant_slug)}': line "
            f"{escape(demo_result.line_username)} / {escape(demo_result.line_password)}",
            soft_wrap=True,
        )
        say(
            f"  playlist: {escape(base)}/get.php?username={escape(demo_result.line_username)}"
            f"&password={escape(demo_result.line_password)}&type=m3u_plus&output=ts",
            soft_wrap=True,
        )
    say(f"Panel: {escape(base)}/panel/", soft_wrap=True)
    say(f"Listening on {escape(address_of(panel_socket))}", soft_wrap=True)
    say(f"Admin user: {escape(admin_name or settings.admin_username)}", soft_wrap=True)
    say(f"Admin API: {escape(base)}/api/v1/docs", soft_wrap=True)
    say(f"Live streams on {escape(address_of(node_sockets.live))}", soft_wrap=True)
    if not settings.public_url and is_wildcard(host):
        named = escape(settings.effective_public_url)
        say(
            f"[yellow]Note:[/yellow] {ENV_PREFIX}LISTEN binds every interface but "
            f"{ENV_PREFIX}PUBLIC_URL is not set: playlists name {named}. "
            f"Set {ENV_PREFIX}PUBLIC_URL to the address viewers' apps use.",
            soft_wrap=True,
        )
    # The web stack is imported here, not at the top: every other command (an M3U import, a
    # migration) starts without FastAPI, uvicorn and the whole app (~85 MB less RSS).
    from palinsesto.app import create_app
    from palinsesto.cli.heap import settle_heap
    from palinsesto.cli.web_server import run_panel_http
    from palinsesto.context import AppContext

    app = create_app(AppContext.build(settings, db), node_sockets)
    settle_heap()
    run_panel_http(app, settings, panel_socket)


def _bind_or_exit(settings: Settings) -> tuple[socket.socket, NodeSockets]:
    """The panel's, data plane's and RTMP listeners, or one message and exit 1."""
    try:
        panel = bind_tcp("listen", settings.listen)
        try:
            return panel, bind_node(settings)
        except ListenError:
            panel.close()
            raise
    except ListenError as exc:
        err_console.print(f"[red]{escape(str(exc))}[/red]", soft_wrap=True)
        raise typer.Exit(1) from None


def _panel_base(settings: Settings, panel_socket: socket.socket) -> str:
    """The panel's address for the banner: the public URL, else the bound address (the
    loopback one when every interface is bound: it always answers on this machine)."""
    if settings.public_url:
        return settings.effective_public_url
    host, port = panel_socket.getsockname()[:2]
    if is_wildcard(host):
        host = "::1" if ":" in host else "127.0.0.1"
    return f"http://{join_host(host)}:{port}"


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)

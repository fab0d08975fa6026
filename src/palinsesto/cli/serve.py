"""``palinsesto serve``: the all-in-one server (panel and local node)."""

from __future__ import annotations

import typer
import uvicorn

from palinsesto.accounts.bootstrap import ensure_platform_admin
from palinsesto.app import create_app
from palinsesto.cli.common import console, open_database, settings_or_exit
from palinsesto.context import AppContext
from palinsesto.demo import ensure_demo
from palinsesto.playback.routes import viewer_first


def serve(
    demo: bool = typer.Option(True, help="Create the demo tenant with a test channel."),
) -> None:
    """Run the all-in-one server: migrates the database, then serves on PALINSESTO_LISTEN."""
    settings = settings_or_exit()
    db = open_database(settings)
    with db.transaction() as session:
        first = ensure_platform_admin(session, settings.admin_username, settings.admin_password)
        # Only on the very first start (the platform admin was just made): a demo tenant
        # deleted later stays deleted, and its line's password is printed once.
        demo_result = ensure_demo(session, settings.demo_tenant) if demo and first else None
    if first is not None:
        console.print(f"Created platform admin [bold]{first.admin_username}[/bold].")
        if first.generated_password:
            # Printed once on the console, never written to a log.
            console.print(f"Its password (shown once): [bold]{first.generated_password}[/bold]")
    base = settings.effective_public_url
    if demo_result is not None:
        console.print(
            f"Demo tenant '{demo_result.tenant_slug}': line {demo_result.line_username} / "
            f"{demo_result.line_password}\n"
            f"  playlist: {base}/get.php?username={demo_result.line_username}"
            f"&password={demo_result.line_password}&type=m3u_plus&output=ts"
        )
    console.print(f"Admin API: {base}/api/v1/docs")
    app = create_app(AppContext.build(settings, db))
    uvicorn.run(
        viewer_first(app),
        host=settings.host,
        port=settings.port,
        # uvicorn[standard]'s C event loop and HTTP parser, asked for by name so a broken
        # install fails at start instead of silently falling back to the slower
        # pure-Python ones.
        loop="uvloop",
        http="httptools",
        log_level=settings.log_level,
        # One access line per request costs ~3 % of the player API's throughput and would
        # write viewers' passwords (they travel in query strings) to the log: debug only.
        access_log=settings.log_level == "debug",
        proxy_headers=True,
        server_header=False,
    )


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)

"""``palinsesto panel``: the control plane alone, for any number of replicas behind one
address; ``palinsesto nodes``: the streaming nodes and their state; ``palinsesto keys
rotate``: a new play-token signing key.

A panel runs no live engine (no data plane, RTMP or SRT ports): viewers are admitted here
and sent by a 302 to a node (``palinsesto node``). Replicas share PostgreSQL and Redis, so
both are required. Replicas starting together migrate one at a time (a PostgreSQL advisory
lock around the migration), so any of them may be started first.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy import select, text

from palinsesto.accounts.bootstrap import ensure_platform_admin, platform_admin_username
from palinsesto.cli.common import console, err_console, open_database, settings_or_exit
from palinsesto.config import ENV_PREFIX, Settings, join_host, split_host_port
from palinsesto.listeners import ListenError, address_of, bind_tcp

PERSIST_SECONDS = 30.0  # panel/nodes/control.py writes a node's heartbeat this often
MIGRATION_LOCK = 0x70616C69  # "pali": the advisory lock replicas take around migrating
# (and around creating the first platform admin)


def _require_shared_state(settings: Settings) -> None:
    if not settings.effective_database_url.startswith("postgresql"):
        err_console.print(
            f"[red]palinsesto panel needs PostgreSQL:[/red] set {ENV_PREFIX}DATABASE_URL to a "
            "postgresql:// URL (replicas share it; SQLite is for `palinsesto serve`).",
            soft_wrap=True,
        )
        raise typer.Exit(2)
    if not settings.redis_url:
        err_console.print(
            f"[red]palinsesto panel needs Redis:[/red] set {ENV_PREFIX}REDIS_URL "
            "(replicas share sessions, node leases and change events through it).",
            soft_wrap=True,
        )
        raise typer.Exit(2)


@contextlib.contextmanager
def _migration_lock(url: str) -> Iterator[None]:
    """Hold a PostgreSQL advisory lock: one replica migrates, the others wait, then find
    nothing left to do."""
    from palinsesto.db.engine import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
    finally:
        engine.dispose()


def panel() -> None:
    """Run a panel replica (control plane only): streams are served by registered nodes."""
    settings = settings_or_exit()
    _require_shared_state(settings)
    try:
        sock = bind_tcp("listen", settings.listen)
    except ListenError as exc:
        err_console.print(f"[red]{escape(str(exc))}[/red]", soft_wrap=True)
        raise typer.Exit(1) from None
    host, port = split_host_port(settings.listen)
    if port == 0:
        settings = replace(settings, listen=f"{join_host(host)}:{sock.getsockname()[1]}")
    try:
        with _migration_lock(settings.effective_database_url):
            db = open_database(settings)
            # Under the lock too: replicas started together would each find no platform
            # admin and insert one, and all but the first would stop on the unique name.
            with db.transaction() as session:
                first = ensure_platform_admin(
                    session, settings.admin_username, settings.admin_password
                )
                admin_name = first.admin_username if first else platform_admin_username(session)
    except typer.Exit:
        raise
    except Exception as exc:  # noqa: BLE001 - the lock's connection failing: one line
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        err_console.print(f"[red]Cannot use the database:[/red] {escape(reason)}", soft_wrap=True)
        raise typer.Exit(1) from None
    say = console.print
    if first is not None and first.generated_password:
        say(f"Created platform admin [bold]{escape(first.admin_username)}[/bold].", soft_wrap=True)
        say(
            f"Its password (shown once): [bold]{escape(first.generated_password)}[/bold]",
            soft_wrap=True,
        )
    bound_host, bound_port = sock.getsockname()[:2]
    base = settings.effective_public_url if settings.public_url else None
    if base is None:
        shown = "127.0.0.1" if bound_host in ("0.0.0.0", "::") else bound_host
        base = f"http://{join_host(shown)}:{bound_port}"
    say(f"Panel: {escape(base)}/panel/", soft_wrap=True)
    # PUBLIC_URL is where viewers reach it (a proxy, say); this is the socket it serves on.
    say(f"Listening on {escape(address_of(sock))}", soft_wrap=True)
    say(f"Admin user: {escape(admin_name or settings.admin_username)}", soft_wrap=True)
    say(
        f"Node API: {escape(base)}/node-api/v1 (palinsesto node --panel {escape(base)})",
        soft_wrap=True,
    )
    from palinsesto.app import create_app
    from palinsesto.cli.heap import settle_heap
    from palinsesto.cli.web_server import run_panel_http
    from palinsesto.context import AppContext

    app = create_app(AppContext.build(settings, db), local_node=False)
    settle_heap()
    run_panel_http(app, settings, sock)


def _leases(settings: Settings) -> dict[int, Any]:
    """The nodes' leases from the shared store (Redis), by node id; empty without Redis
    (an all-in-one keeps them in its own memory) or when Redis cannot be reached."""
    if not settings.redis_url:
        return {}
    import asyncio

    from palinsesto.cluster.node_leases import make_node_leases

    async def read() -> dict[int, Any]:
        store = make_node_leases(settings)
        try:
            return {lease.node_id: lease for lease in await store.nodes(None, time.time())}
        finally:
            await store.close()

    try:
        return asyncio.run(read())
    except RuntimeError as exc:  # LeasesUnavailable
        err_console.print(f"[yellow]Node load unknown:[/yellow] {escape(str(exc))}")
        return {}


def nodes() -> None:
    """List the streaming nodes: id, name, tenant, state, last heartbeat, load."""
    from palinsesto.accounts.models import Tenant
    from palinsesto.cluster.models import Server

    settings = settings_or_exit()
    db = open_database(settings, migrate=False)
    leases = _leases(settings)
    now = time.time()
    lease_seconds = settings.node_lease_seconds
    table = Table("id", "name", "tenant", "state", "last heartbeat", "viewers", "egress")
    table.add_column("channels")
    with db.session() as session:
        rows = session.execute(
            select(Server, Tenant.slug).join(Tenant, Tenant.id == Server.tenant_id)
        ).all()
    for server, slug in sorted(rows, key=lambda r: r[0].id):
        lease = leases.get(server.id)
        beat = server.last_heartbeat_at
        age = now - beat.timestamp() if beat is not None else None
        if server.status.value == "disabled":
            state = "revoked"
        elif lease is not None:
            state, age = lease.state.value, lease.beat_age
        elif age is None:
            state = "never seen"
        elif age > PERSIST_SECONDS + lease_seconds:  # the database lags the leases
            state = "lost"
        else:
            state = "draining" if server.draining else "online"
        # A lost node's last figures are not what it does now: unknown, like a node
        # without a lease; its last heartbeat's age still shows.
        live = lease if lease is not None and lease.state.value != "lost" else None
        table.add_row(
            str(server.id),
            escape(server.name),
            escape(slug),
            state,
            f"{age:.0f} s ago" if age is not None else "—",
            str(live.viewers) if live is not None else "—",
            f"{live.egress_mbps:.1f} Mbit/s" if live is not None else "—",
            str(len(live.channels)) if live is not None else "—",
        )
    console.print(table)
    if not settings.redis_url:
        console.print(
            "Viewers, egress and channels come from the shared node leases (Redis); "
            "without PALINSESTO_REDIS_URL the Servers page shows them.",
            soft_wrap=True,
        )


keys_app = typer.Typer(help="Play-token signing keys (shared by every panel replica).")


@keys_app.command("rotate")
def rotate_keys() -> None:
    """Sign new play tokens with a new key; the old one verifies for another hour."""
    from palinsesto.cli.common import announce_changes
    from palinsesto.cluster import signing_keys

    settings = settings_or_exit()
    db = open_database(settings)
    with db.transaction() as session:
        key_id = signing_keys.rotate(session)
    announce_changes(settings, 0, ["play_keys"])
    console.print(f"New signing key {key_id}; the previous key is retired (verifies for 1 h).")


def register(app: typer.Typer) -> None:
    app.command("panel")(panel)
    app.command("nodes")(nodes)
    app.add_typer(keys_app, name="keys")

"""Settings and database for CLI commands, with config errors shown as plain messages."""

from __future__ import annotations

from collections.abc import Iterable

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import ArgumentError, DBAPIError

from palinsesto.config import (
    ENV_PREFIX,
    ConfigError,
    Settings,
    ensure_data_dir,
    ensure_secret_key,
    load_settings,
    mask_url_password,
)
from palinsesto.db import Database, upgrade
from palinsesto.db.engine import restrict_sqlite_file

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def settings_or_exit() -> Settings:
    try:
        return ensure_secret_key(load_settings())
    except (ConfigError, OSError) as exc:
        err_console.print(f"[red]Configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


def open_database(settings: Settings, migrate: bool = True) -> Database:
    """The database, migrated; one line naming the setting (not a traceback) and exit 1 if
    it cannot be reached."""
    ensure_data_dir(settings)
    url = settings.effective_database_url
    restrict_sqlite_file(url)  # before the migration creates it with the umask's mode
    try:
        if migrate:
            upgrade(url)
        return Database(url)
    except (DBAPIError, ArgumentError) as exc:
        # The driver's first line says why (refused, unknown host, no such database, bad
        # password); the rest of its message and SQLAlchemy's wrapping add nothing here.
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0].rstrip(".")
        err_console.print(
            f"[red]Cannot use the database[/red] {escape(mask_url_password(url))} "
            f"({ENV_PREFIX}DATABASE_URL): {escape(reason)}. Check that the database server "
            "is running and reachable, and that the URL, user and password are right.",
            soft_wrap=True,
        )
        raise typer.Exit(1) from None


def announce_changes(settings: Settings, tenant_id: int, topics: Iterable[str]) -> None:
    """Tell running servers (through Redis, when configured) that this command changed data.

    Without Redis there is no bus another process could hear. If Redis is unreachable the
    command still succeeded: warn, and say when the servers will see the change.
    """
    if not settings.redis_url:
        return
    from palinsesto.cluster.events_redis import ChangeBusUnavailable, publish_changes

    try:
        publish_changes(
            settings.redis_url, settings.redis_key_prefix, [(tenant_id, t) for t in topics]
        )
    except ChangeBusUnavailable as exc:
        err_console.print(
            f"[yellow]Warning:[/yellow] running servers were not told of this change "
            f"({escape(str(exc))}); they see it after their next change event or restart.",
            soft_wrap=True,
        )

"""``palinsesto db`` and ``palinsesto config``."""

from __future__ import annotations

import typer

from palinsesto.cli.common import console, settings_or_exit
from palinsesto.db import upgrade
from palinsesto.db.migrate import current

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration."""
    settings = settings_or_exit()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.effective_database_url)
    console.print(f"database at revision {current(settings.effective_database_url)}")


@db_app.command("current")
def db_current() -> None:
    """Print the database's schema revision."""
    settings = settings_or_exit()
    console.print(current(settings.effective_database_url) or "(empty database)")


def show_config() -> None:
    """Print the effective settings, secrets masked."""
    settings = settings_or_exit()
    for key, value in settings.masked().items():
        console.print(f"{key} = {value}")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
    app.command("config")(show_config)

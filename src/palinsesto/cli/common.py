"""Settings and database for CLI commands, with config errors shown as plain messages."""

from __future__ import annotations

import typer
from rich.console import Console

from palinsesto.config import ConfigError, Settings, ensure_secret_key, load_settings
from palinsesto.db import Database, upgrade

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def settings_or_exit() -> Settings:
    try:
        return ensure_secret_key(load_settings())
    except (ConfigError, OSError) as exc:
        err_console.print(f"[red]Configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


def open_database(settings: Settings, migrate: bool = True) -> Database:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.effective_database_url
    if migrate:
        upgrade(url)
    return Database(url)

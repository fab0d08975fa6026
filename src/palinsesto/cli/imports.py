"""``palinsesto import``: bring existing playlists into a tenant."""

from __future__ import annotations

import enum
from typing import NoReturn

import typer
from rich.markup import escape
from sqlalchemy import select

from palinsesto.accounts.models import Tenant
from palinsesto.catalog.m3u_fetch import (
    DEFAULT_MAX_BYTES,
    DEFAULT_TIMEOUT,
    PlaylistUnavailable,
    fetch_playlist,
)
from palinsesto.catalog.m3u_import import ImportRefused, import_entries
from palinsesto.catalog.m3u_reader import playlist_lines, read_m3u
from palinsesto.catalog.models import CategoryKind
from palinsesto.cli.common import (
    announce_changes,
    console,
    err_console,
    open_database,
    settings_or_exit,
)
from palinsesto.trust.redaction import redact_urls_in

import_app = typer.Typer(help="Import playlists into a tenant.", no_args_is_help=True)


class ImportKind(enum.StrEnum):
    live = "live"
    movie = "movie"


def _fail(message: str) -> NoReturn:
    # Provider playlist URLs carry the account's password (get.php?password=...).
    err_console.print(f"[red]Error:[/red] {escape(redact_urls_in(message))}", soft_wrap=True)
    raise typer.Exit(1)


@import_app.command("m3u")
def import_m3u(
    source: str = typer.Argument(..., help="playlist file, or an http(s) URL"),
    tenant: str = typer.Option(..., help="slug of an existing tenant"),
    category_kind: ImportKind = typer.Option(
        ImportKind.live, help="live: entries become channels; movie: they become movies"
    ),
    timeout: float = typer.Option(DEFAULT_TIMEOUT, min=0.1, help="seconds to wait for a URL"),
    max_bytes: int = typer.Option(DEFAULT_MAX_BYTES, min=1, help="largest playlist accepted"),
) -> None:
    """Import channels (or movies), categories and logos from an M3U playlist.

    Categories come from group-title. Malformed entries are reported by line number and
    the rest imported. Importing again updates instead of duplicating: an entry matches a
    stored channel by source URL, or else by name and group.
    """
    settings = settings_or_exit()
    try:
        text = fetch_playlist(source, timeout=timeout, max_bytes=max_bytes)
    except PlaylistUnavailable as exc:
        _fail(str(exc))
    playlist = read_m3u(playlist_lines(text))
    for error in playlist.errors:
        shown = redact_urls_in(f"{source}: {error}")
        err_console.print(f"[yellow]{escape(shown)}[/yellow]", soft_wrap=True)
    if not playlist.entries:
        why = "" if playlist.has_header else " (no #EXTM3U header: is it a playlist at all?)"
        _fail(f"{source}: no valid entries{why}; nothing imported")
    db = open_database(settings)
    try:
        with (
            err_console.status(f"importing {len(playlist.entries)} entries"),
            db.transaction() as session,
        ):
            tenant_id = session.scalar(select(Tenant.id).where(Tenant.slug == tenant))
            if tenant_id is None:
                _fail(f"no tenant '{tenant}'; nothing imported")
            report = import_entries(
                session,
                tenant_id,
                playlist.entries,
                kind=CategoryKind(category_kind.value),
                source=source,
            )
    except ImportRefused as exc:
        _fail(f"{exc}; nothing imported")
    finally:
        db.dispose()
    announce_changes(settings, tenant_id, ("catalog", "channels"))
    what = "channels" if category_kind is ImportKind.live else "movies"
    console.print(
        f"{what}: {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged; categories created: {len(report.categories_created)}; "
        f"malformed entries skipped: {len(playlist.errors)}",
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")

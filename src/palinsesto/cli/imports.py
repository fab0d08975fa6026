"""``palinsesto import``: bring existing playlists into a tenant."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from typing import NoReturn

import typer
from rich.markup import escape
from sqlalchemy import select

from palinsesto.accounts.models import Tenant
from palinsesto.catalog.m3u_fetch import (
    DEFAULT_MAX_BYTES,
    DEFAULT_TIMEOUT,
    PlaylistUnavailable,
    playlist_lines,
)
from palinsesto.catalog.m3u_import import ImportRefused, import_entries
from palinsesto.catalog.m3u_reader import M3UEntry, M3UError, M3UReader
from palinsesto.catalog.models import CategoryKind
from palinsesto.cli.common import (
    announce_changes,
    console,
    err_console,
    open_database,
    settings_or_exit,
)
from palinsesto.outbound import policy_from_settings
from palinsesto.redaction import redact_urls_in

import_app = typer.Typer(help="Import playlists into a tenant.", no_args_is_help=True)


class NothingImported(Exception):
    """The playlist held no entry that could be imported (the transaction rolls back)."""


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
        policy = policy_from_settings(settings)
        lines = playlist_lines(source, policy, timeout=timeout, max_bytes=max_bytes)
    except PlaylistUnavailable as exc:
        _fail(str(exc))
    reader = M3UReader()
    skipped = 0

    def report_error(error: M3UError) -> None:
        nonlocal skipped
        skipped += 1
        shown = redact_urls_in(f"{source}: {error}")
        err_console.print(f"[yellow]{escape(shown)}[/yellow]", soft_wrap=True)

    def entries() -> Iterator[M3UEntry]:
        # Read as the import goes: entries are applied in batches, never all held at once.
        for item in reader.read(lines):
            if isinstance(item, M3UError):
                report_error(item)
            else:
                yield item

    db = open_database(settings)
    try:
        with err_console.status("importing"), db.transaction() as session:
            tenant_id = session.scalar(select(Tenant.id).where(Tenant.slug == tenant))
            if tenant_id is None:
                _fail(f"no tenant '{tenant}'; nothing imported")
            report = import_entries(
                session,
                tenant_id,
                entries(),
                kind=CategoryKind(category_kind.value),
                source=source,
                on_reject=report_error,
            )
            if report.imported == 0:
                raise NothingImported
    except ImportRefused as exc:
        _fail(f"{exc}; nothing imported")
    except NothingImported:
        why = "" if reader.has_header else " (no #EXTM3U header: is it a playlist at all?)"
        _fail(f"{source}: no valid entries{why}; nothing imported")
    finally:
        db.dispose()
    announce_changes(settings, tenant_id, ("catalog", "channels"))
    what = "channels" if category_kind is ImportKind.live else "movies"
    console.print(
        f"{what}: {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged; categories created: {len(report.categories_created)}; "
        f"malformed entries skipped: {skipped}",
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")

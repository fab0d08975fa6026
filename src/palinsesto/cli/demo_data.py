"""``palinsesto demo-data``: fill a tenant with a synthetic catalog, lines and resellers."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from palinsesto.catalog.demo_data import DemoDataError, DemoSizes, generate_demo_data
from palinsesto.cli.common import (
    announce_changes,
    console,
    err_console,
    open_database,
    settings_or_exit,
)


def demo_data(
    tenant: str = typer.Option("demo", help="tenant slug; created if missing"),
    channels: int = typer.Option(100, min=0, help="live channels to add"),
    movies: int = typer.Option(500, min=0, help="movies to add"),
    series: int = typer.Option(20, min=0, help="series to add"),
    episodes: int = typer.Option(
        10, min=0, help="episodes PER SERIES (the total is series x episodes)"
    ),
    lines: int = typer.Option(100, min=0, help="lines (subscribers) to add"),
    seed: int = typer.Option(1, help="random seed: same seed, same database state, same data"),
    chunk: int = typer.Option(5000, min=1, help="rows per insert transaction"),
) -> None:
    """Add a synthetic but realistic catalog to a tenant, for demos, tests and benchmarks.

    Categories, channels, movies, series with seasons and episodes, bouquets (Full, Sports,
    Kids, Movies, Series) covering it all, lines with mixed expiry (expired, unlimited,
    trial) and two resellers owning some of them. Running it again on the same tenant adds
    more rows: names and usernames stay unique, categories, bouquets and resellers are reused.
    """
    settings = settings_or_exit()
    try:
        sizes = DemoSizes(channels, movies, series, episodes, lines)
    except DemoDataError as exc:
        err_console.print(f"[red]Error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(2) from exc
    db = open_database(settings)
    tasks: dict[str, TaskID] = {}
    progress = Progress(
        TextColumn("{task.description:<14}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )

    def on_progress(table: str, done: int, total: int) -> None:
        if table not in tasks:
            tasks[table] = progress.add_task(table, total=total)
        progress.update(tasks[table], completed=done, total=total)

    try:
        with progress:
            report = generate_demo_data(
                db, tenant, sizes, seed=seed, progress=on_progress, chunk_rows=chunk, actor="cli"
            )
    except DemoDataError as exc:
        err_console.print(f"[red]Error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from exc
    finally:
        db.dispose()
    announce_changes(settings, report.tenant_id, ("catalog", "lines", "channels"))

    summary = Table(title=f"demo data added to tenant '{report.tenant_slug}'")
    summary.add_column("table")
    summary.add_column("rows", justify="right")
    for table, rows in report.rows.items():
        summary.add_row(table, f"{rows:,}")
    console.print(summary)
    steps = ", ".join(f"{step} {secs:.1f}s" for step, secs in report.seconds.items())
    console.print(f"time: {report.total_seconds:.1f}s ({steps})", soft_wrap=True)
    for reseller in report.new_resellers:
        console.print(
            f"reseller {reseller.username} password (shown once): {reseller.password}",
            soft_wrap=True,
        )
    if report.sample_line is not None:
        console.print(
            f"sample active line: {report.sample_line[0]} / {report.sample_line[1]}",
            soft_wrap=True,
        )


def register(app: typer.Typer) -> None:
    app.command("demo-data")(demo_data)

"""``palinsesto audit verify``: check the audit log's hash chain."""

from __future__ import annotations

import typer

from palinsesto.cli.common import console, err_console, open_database, settings_or_exit
from palinsesto.trust.audit import verify

audit_app = typer.Typer(help="The audit log.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify() -> None:
    """Check that no audit entry was edited or removed; print the chain's head digest.

    Exits 0 when the chain holds, 1 at the first entry that does not (with its sequence
    number, id and what is wrong). Keep the printed head somewhere else: a later run that
    reaches the same digest proves that nothing up to it changed.
    """
    settings = settings_or_exit()
    db = open_database(settings)
    try:
        with db.session() as session:
            report = verify(session)
    finally:
        db.dispose()
    if report.problem is not None:
        problem = report.problem
        where = f"entry {problem.seq}" + (f" (id {problem.entry_id})" if problem.entry_id else "")
        err_console.print(
            f"[red]Audit chain broken:[/red] {where} {problem.reason}. "
            f"{report.entries} entries before it verified.",
            soft_wrap=True,
        )
        raise typer.Exit(1)
    console.print(
        f"Audit chain intact: {report.entries} entries, head {report.head.seq} "
        f"{report.head.digest}",
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")

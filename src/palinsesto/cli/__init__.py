"""The ``palinsesto`` command. Each group of sub-commands lives in its own module."""

from __future__ import annotations

import typer

from palinsesto.cli import admin, db, serve

app = typer.Typer(
    name="palinsesto",
    help="Palinsesto: an open-source IPTV platform.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
serve.register(app)
db.register(app)
admin.register(app)


def main() -> None:
    app()

"""The ``palinsesto`` command. Each group of sub-commands lives in its own module."""

from __future__ import annotations

import typer

from palinsesto.cli import admin, audit, db, imports, panel, serve
from palinsesto.cli import demo_data as demo_data_command

app = typer.Typer(
    name="palinsesto",
    help="Palinsesto: an open-source IPTV platform.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
serve.register(app)
panel.register(app)
db.register(app)
admin.register(app)
audit.register(app)
demo_data_command.register(app)
imports.register(app)


def main() -> None:
    app()

"""The ``palinsesto`` command. Each group of sub-commands lives in its own module.

``palinsesto node`` runs on machines without the panel's database: it is dispatched before
the other commands are imported, so the node process never loads SQLAlchemy, the database
drivers or the web stack (tests/integration/node checks it).
"""

from __future__ import annotations

import sys

import typer

from palinsesto.cli import node

HELP = "Palinsesto: an open-source IPTV platform."


def _typer() -> typer.Typer:
    return typer.Typer(
        name="palinsesto",
        help=HELP,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )


def build_app() -> typer.Typer:
    """Every command."""
    from palinsesto.cli import admin, audit, db, imports, panel, serve, watermark
    from palinsesto.cli import demo_data as demo_data_command

    app = _typer()
    serve.register(app)
    panel.register(app)
    node.register(app)
    db.register(app)
    admin.register(app)
    audit.register(app)
    watermark.register(app)
    demo_data_command.register(app)
    imports.register(app)
    return app


def node_app() -> typer.Typer:
    """Only ``node`` (still a group, so ``palinsesto node ...`` reads the same)."""
    app = _typer()
    app.callback()(lambda: None)
    node.register(app)
    return app


def main() -> None:
    if sys.argv[1:2] == ["node"]:
        node_app()()
    else:
        build_app()()

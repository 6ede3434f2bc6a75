"""``alphaplus demo``: the whole lifecycle on the configured (or embedded) database."""

from __future__ import annotations

import typer


def demo() -> None:
    """Run the end-to-end demo: database, data, retraining, promotion, live trading, rollback."""
    from alphaplus.cli import db_cmd

    db_cmd.up()
    db_cmd.status(as_json=False)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)

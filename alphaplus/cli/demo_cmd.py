"""``alphaplus demo``: the whole lifecycle on the configured (or embedded) database."""

from __future__ import annotations

from datetime import UTC, datetime

import typer


def demo(
    model: str = typer.Option("", "--model", help="Model name (default: a fresh name per run)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show the flow runs' logs and tracebacks "
                                                                "(or set ALPHAPLUS_LOG_LEVEL)."),
) -> None:
    """Run the end-to-end demo: database, data, retraining, promotion, live trading, rollback."""
    from alphaplus.cli import db_cmd, report_cmd
    from alphaplus.cli.common import console
    from alphaplus.cli.demo_run import FOCUS_REGIME, SYMBOLS, run_demo
    from alphaplus.cli.pipeline_cmd import prefect_environment, run_flow
    from alphaplus.core.settings import get_settings

    db_cmd.up()
    prefect_environment(verbose)
    name = model or f"demo_{datetime.now(UTC):%Y%m%d_%H%M%S}"
    run_flow(lambda: run_demo(console, name))
    reports = get_settings().home / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    for symbol in SYMBOLS:
        out = reports / f"{name}-{symbol}-{FOCUS_REGIME}.png"
        report_cmd.report(name, regime=FOCUS_REGIME, symbol=symbol, out=out)
    db_cmd.status(as_json=False)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)

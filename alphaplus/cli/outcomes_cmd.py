"""``alphaplus outcomes resolve``: matured predictions -> live performance history and drift."""

from __future__ import annotations

from typing import Optional

import typer

from alphaplus.cli.common import WIDE_HELP, console, print_json, run

# A year: windows and delays beyond it are typos (and past what a datetime can subtract).
_MAX_MINUTES = 366 * 24 * 60

app = typer.Typer(help="Outcomes: turn matured predictions into live metrics and drift.", no_args_is_help=True)


@app.command("resolve")
def resolve(
    model: Optional[str] = typer.Option(None, "--model", "-m", help="One model (default: every model)."),
    window_minutes: int = typer.Option(60, min=1, max=_MAX_MINUTES,
                                       help="Length of the window of predictions to resolve."),
    delay_minutes: int = typer.Option(
        0, min=0, max=_MAX_MINUTES,
        help="Resolve the window ending this long ago (at least horizon x bar length for live data)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    wide: bool = typer.Option(False, "--wide", help=WIDE_HELP),
) -> None:
    """Resolve one window of predictions into model_performance_history rows (per version and source)."""
    from alphaplus.cli.tables import Column, show

    from alphaplus.monitoring.service import record_summary, resolve_outcomes

    if model is not None:
        from alphaplus.core.validation import check_model_name

        check_model_name(model)

    records = run(lambda: resolve_outcomes(model_name=model, window_minutes=window_minutes,
                                           delay_minutes=delay_minutes))
    rows = [record_summary(r) for r in records]
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("no predictions in that window")
        return
    fmt = lambda v: "–" if v is None else f"{v:.3f}"  # noqa: E731
    show([Column("model", 1, 20), Column("version"), Column("slot", max_width=24), Column("source", 2),
          Column("samples", justify="right"), Column("live accuracy", justify="right"),
          Column("live f1", 3, justify="right"), Column("error rate", 2, justify="right"),
          Column("max PSI", 1, justify="right")],
         [(r["model_name"], r["version"], f"{r['symbol']}/{r['regime']}", r["source"], r["n_samples"],
           fmt(r["accuracy"]), fmt(r["f1"]), fmt(r["error_rate"]), fmt(r["max_psi"])) for r in rows],
         wide=wide, title="resolved outcomes")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="outcomes")

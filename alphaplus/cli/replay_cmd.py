"""``alphaplus replay``: what retraining, the promotion gate and rollback would have done over history."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from alphaplus.cli.common import console, json_option_help, print_json, run, shown


def replay(
    symbol: list[str] = typer.Option(..., "--symbol", "-s", help="Symbol to replay (repeat for several)."),
    start: str = typer.Option(..., "--from", help="First simulated instant (UTC date or ISO time): the first retraining."),
    end: str = typer.Option(..., "--to", help="End of the replay (UTC, exclusive)."),
    retrain_every: str = typer.Option("7d", "--retrain-every", help="Retraining period, e.g. 7d, 12h, 2w."),
    assess_every: str = typer.Option("1d", "--assess-every", help="Assessment (outcomes + rollback) period."),
    policy_file: Optional[Path] = typer.Option(
        None, "--policy-file", help="YAML or JSON of named gate/rollback policies to compare on the same fits."),
    regime: str = typer.Option("all", "--regime", "-r", help="One regime's slots, or all."),
    model: Optional[str] = typer.Option(None, "--model", help="Model name of the replayed slots."),
    timeframe: str = typer.Option("1h", "--timeframe", help="Candle timeframe to replay."),
    horizon: Optional[int] = typer.Option(None, "--horizon", help="Label horizon in bars (default: the setting)."),
    out: Path = typer.Option(Path("replay-report"), "--out", "-o", help="Folder for replay.json and replay.html."),
    keep: bool = typer.Option(False, "--keep", help="Keep the scratch database (its name is printed)."),
    as_json: bool = typer.Option(False, "--json", help=json_option_help()),
) -> None:
    """Replay the model lifecycle over history on a simulated clock, in a scratch database, and report."""
    import logging

    from alphaplus.core.errors import InvalidInput
    from alphaplus.core.settings import get_settings
    from alphaplus.core.validation import check_model_name, check_name
    from alphaplus.ml.regimes import REGIMES
    from alphaplus.replay.plan import ReplayPlan, parse_instant, parse_period
    from alphaplus.replay.service import policies_for, replay as run_replay, summary_rows, write_report

    settings = get_settings()
    for s in symbol:
        check_name("symbol", s)
    if regime != "all" and regime not in REGIMES:
        raise InvalidInput(f"--regime must be all or one of {', '.join(REGIMES)} (got {regime!r})")
    plan = ReplayPlan(
        symbols=tuple(symbol), start=parse_instant(start, what="--from"), end=parse_instant(end, what="--to"),
        retrain_every=parse_period(retrain_every, what="--retrain-every"),
        assess_every=parse_period(assess_every, what="--assess-every"),
        regimes=tuple(REGIMES) if regime == "all" else (regime,),
        model_name=check_model_name(model or settings.default_model_name), timeframe=timeframe,
        horizon=horizon or settings.label_horizon,
    )
    policies = policies_for(policy_file, settings)
    if out.exists() and not out.is_dir():
        raise InvalidInput(f"--out {out} is a file; give a folder")
    if not settings.log_level:  # per-step warnings (e.g. no rollback target) belong in the report, not here
        logging.getLogger("alphaplus").setLevel(logging.ERROR)

    if as_json:
        _, report = run(lambda: run_replay(plan, policies, keep=keep))
    else:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        with Progress(TextColumn("replaying"), BarColumn(), TextColumn("{task.completed}/{task.total} steps"),
                      TextColumn("{task.description}"), TimeElapsedColumn(), TimeRemainingColumn(),
                      console=console, transient=True) as bar:
            task = bar.add_task("", total=None)

            def progress(done: int, total: int, now, kind: str) -> None:
                bar.update(task, completed=done, total=total, description=f"simulated {now:%Y-%m-%d %H:%M}")

            _, report = run(lambda: run_replay(plan, policies, keep=keep, progress=progress))
    json_path, html_path = write_report(report, out)
    if as_json:
        print_json({"report": str(json_path), "html": str(html_path), "summary": summary_rows(report),
                    "scratch_database": report["scratch_database"] if keep else None})
        return
    _print_summary(report, json_path, html_path, keep)


def _print_summary(report: dict, json_path: Path, html_path: Path, keep: bool) -> None:
    from rich.table import Table

    from alphaplus.replay.service import summary_rows

    table = Table("series", "answered / bars", "hit rate", "MCC", "net return", "promotions", "rollbacks",
                  title="served signal over the replay (all slots)")
    for r in summary_rows(report):
        table.add_row(r["series"], f"{r['answered']}/{r['bars']}",
                      "–" if r["hit_rate"] is None else f"{r['hit_rate']:.1%}",
                      "–" if r["mcc"] is None else f"{r['mcc']:+.3f}", f"{r['net_return']:+.2%}",
                      str(r.get("promotions", "")), str(r.get("rollbacks", "")))
    console.print(table)
    console.print(f"{len(report['fits'])} fits, {len(report['decisions'])} decisions; report: {shown(html_path)} "
                  f"(data: {shown(json_path)})")
    if keep:
        console.print(f"scratch database kept: {report['scratch_database']}")


def register(app: typer.Typer) -> None:
    """Add ``replay`` to the ``alphaplus`` command."""
    app.command("replay")(replay)

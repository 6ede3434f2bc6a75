"""``alphaplus outcomes resolve``: matured predictions -> live performance history and drift."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

import typer

from alphaplus.cli.common import WIDE_HELP, console, print_json, run

app = typer.Typer(help="Outcomes: turn matured predictions into live metrics and drift.", no_args_is_help=True)

_PERIOD_HELP = "ISO time, UTC unless it names a zone (e.g. 2026-03-02 or 2026-03-02T14:00+01:00)."


def instant(text: str | None, option: str) -> datetime | None:
    """An option's ISO time as an aware datetime (naive means UTC); a clear error otherwise."""
    from alphaplus.core.errors import InvalidInput

    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"{option} {text[:40]!r} is not a time; use ISO form such as 2026-03-02T14:00") from None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


@app.command("resolve")
def resolve(
    model: Optional[str] = typer.Option(None, "--model", "-m", help="One model (default: every model)."),
    since: Optional[str] = typer.Option(None, "--since", help=f"Only predictions made at or after this time. {_PERIOD_HELP}"),
    until: Optional[str] = typer.Option(None, "--until", help=f"Only predictions made before this time. {_PERIOD_HELP}"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    wide: bool = typer.Option(False, "--wide", help=WIDE_HELP),
) -> None:
    """Resolve every prediction whose horizon has elapsed on its symbol's calendar and that no run resolved
    before into model_performance_history rows (per version and source); a second run adds nothing."""
    from alphaplus.cli.tables import Column, show

    from alphaplus.monitoring.service import check_period, record_summary
    from alphaplus.monitoring.service import OutcomeService

    if model is not None:
        from alphaplus.core.validation import check_model_name

        check_model_name(model)
    start, end = instant(since, "--since"), instant(until, "--until")
    check_period(start, end)

    async def go():
        return await (await OutcomeService.open()).resolve(model_name=model, since=start, until=end)

    resolution = run(go)
    rows = [record_summary(r) for r in resolution.records]
    if as_json:
        print_json({"records": rows, "predictions_accounted": len(resolution.accounted),
                    "bars_immature": resolution.immature, "bars_awaiting_candles": resolution.awaiting_candles,
                    "next_maturity": resolution.next_maturity})
        return
    if rows:
        fmt = lambda v: "–" if v is None else f"{v:.3f}"  # noqa: E731
        show([Column("model", 1, 20), Column("version"), Column("slot", max_width=24), Column("source", 2),
              Column("samples", justify="right"), Column("live accuracy", justify="right"),
              Column("live f1", 3, justify="right"), Column("error rate", 2, justify="right"),
              Column("max PSI", 1, justify="right")],
             [(r["model_name"], r["version"], f"{r['symbol']}/{r['regime']}", r["source"], r["n_samples"],
               fmt(r["accuracy"]), fmt(r["f1"]), fmt(r["error_rate"]), fmt(r["max_psi"])) for r in rows],
             wide=wide, title="resolved outcomes")
    console.print(_waiting_line(len(resolution.accounted), resolution))


def _waiting_line(accounted: int, resolution) -> str:
    text = f"{accounted} predictions resolved" if accounted else "no matured prediction left to resolve"
    if resolution.immature:
        when = resolution.next_maturity
        text += (f"; {resolution.immature} bars await their horizon"
                 + (f" (next matures {when:%Y-%m-%d %H:%M} UTC)" if when is not None else ""))
    if resolution.awaiting_candles:
        text += f"; {resolution.awaiting_candles} matured bars await their candles (import them to resolve)"
    return text


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="outcomes")

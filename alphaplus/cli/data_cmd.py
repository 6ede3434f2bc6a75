"""``alphaplus data``: import OHLCV files, generate synthetic candles, show what is stored."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from alphaplus.cli.common import WIDE_HELP, console, print_json, run, shown
from alphaplus.cli.symbols_cmd import CALENDAR_HELP

app = typer.Typer(help="Market data: import OHLCV files, generate synthetic candles, show what is stored.",
                  no_args_is_help=True)

# Below this many rows an import takes about a second: a progress bar would only flicker.
_PROGRESS_MIN_ROWS = 50_000
_DYNAMICS = ("default", "shifted", "strong_trend")
_FILE_SUFFIXES = (".csv", ".parquet")
# About half a minute of generation on a small machine (228 years of hourly bars): more is a typo.
MAX_SYNTH_BARS = 2_000_000


def canonical_timeframe(text: str) -> str:
    """The canonical spelling of a timeframe (``1h``), refused here if the database would refuse it."""
    import re

    from alphaplus.market.frame import CandleFormatError, timeframe_to_timedelta

    timeframe_to_timedelta(text)
    canonical = text.strip().lower()
    if not re.fullmatch(r"[0-9]{1,4}[mhdw]", canonical):
        raise CandleFormatError(f"timeframe {text!r} must be written like 1m, 15m, 1h, 4h or 1d")
    return canonical


def _symbol(text: str) -> str:
    from alphaplus.core.validation import check_name

    return check_name("symbol", text)


def _span(frame) -> dict:
    return {"rows": len(frame), "first": frame["ts"].min(), "last": frame["ts"].max()}


async def _upsert(frame, symbol: str, timeframe: str, on_progress=None, calendar: str | None = None) -> int:
    from db.pool import get_pool
    from db.candles import upsert_candles

    return await upsert_candles(await get_pool(), symbol=symbol, timeframe=timeframe, frame=frame,
                                on_progress=on_progress, calendar=calendar)


async def _stored_calendar(symbol: str) -> str:
    from db.instruments import calendar_of
    from db.pool import get_pool

    return await calendar_of(await get_pool(), symbol)


@app.command("import")
def import_file(
    file: Path = typer.Argument(..., help="OHLCV file: CSV (any common delimiter) or Parquet."),
    symbol: str = typer.Option(..., "--symbol", "-s", help="Symbol the candles are of, e.g. BTCUSDT."),
    timeframe: str = typer.Option(..., "--timeframe", "-t", help="Bar length, e.g. 1m, 15m, 1h, 1d."),
    calendar: Optional[str] = typer.Option(None, "--calendar", "-c",
                                           help=CALENDAR_HELP + " Default: the symbol's, else 24/7."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Import candles from a CSV or Parquet file (all rows or none; existing bars are replaced)."""
    import pandas as pd

    from alphaplus.market.calendars import canonical_calendar
    from alphaplus.market.frame import read_candles, timeframe_to_timedelta
    from alphaplus.market.sanity import check_storable
    from alphaplus.market.spacing import check_spacing

    timeframe, symbol = canonical_timeframe(timeframe), _symbol(symbol)
    chosen = None if calendar is None else canonical_calendar(calendar)
    frame = read_candles(file)
    # Every row is checked before the database is touched, so a bad file names its bad row and
    # leaves nothing behind.
    source = f"candle file {file.name}"
    check_storable(frame, source=source)
    frame = frame.sort_values("ts", ignore_index=True)
    effective = chosen or run(lambda: _stored_calendar(symbol))
    check_spacing(frame, timeframe=timeframe, bar=pd.Timedelta(timeframe_to_timedelta(timeframe)),
                  calendar=effective, source=source)
    if len(frame) < _PROGRESS_MIN_ROWS or as_json:
        written = run(lambda: _upsert(frame, symbol, timeframe, calendar=chosen))
    else:
        written = _import_with_progress(frame, symbol, timeframe, chosen)
    summary = {"symbol": symbol, "timeframe": timeframe, "calendar": effective, "written": written,
               **_span(frame)}
    if as_json:
        print_json(summary)
        return
    console.print(f"imported {written} candles of {symbol} {timeframe} on calendar {effective} "
                  f"({summary['first']:%Y-%m-%d %H:%M} – {summary['last']:%Y-%m-%d %H:%M} UTC)")


def _import_with_progress(frame, symbol: str, timeframe: str, calendar: str | None) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(f"uploading {symbol} {timeframe}", total=len(frame))
        return run(lambda: _upsert(frame, symbol, timeframe, lambda n: progress.advance(task, n), calendar))


@app.command("synth")
def synth(
    symbol: str = typer.Option(..., "--symbol", "-s", help="Symbol to store the candles under."),
    bars: int = typer.Option(..., "--bars", "-n", help=f"Number of bars to generate (at most {MAX_SYNTH_BARS:,})."),
    timeframe: str = typer.Option("1h", "--timeframe", "-t", help="Bar length, e.g. 1m, 15m, 1h, 1d."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed: the same seed gives the same candles "
                                       "(default: derived from the symbol, so symbols differ)."),
    dynamics: str = typer.Option("default", "--dynamics",
                                 help="Market behaviour: default, shifted (a changed market) or strong_trend "
                                 "(trending stretches with an edge a model can learn)."),
    start: str = typer.Option("2024-01-01", "--start", help="Time of the first bar (ISO 8601; naive means UTC)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o",
                                       help="Write a .csv or .parquet file instead of the database."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Generate synthetic regime-switching candles into the database (or a file with --out)."""
    import pandas as pd

    from alphaplus.core.errors import InvalidInput
    from alphaplus.core.validation import quoted
    from alphaplus.market.synth import symbol_seed, synth_candles

    timeframe, symbol = canonical_timeframe(timeframe), _symbol(symbol)
    if not 1 <= bars <= MAX_SYNTH_BARS:
        raise InvalidInput(f"--bars must be at least 1 and at most {MAX_SYNTH_BARS:,}, not {quoted(bars, 20)}")
    if dynamics not in _DYNAMICS:
        raise InvalidInput(f"unknown dynamics {quoted(dynamics)}; choose {' or '.join(_DYNAMICS)}")
    if out is not None and out.suffix.lower() not in _FILE_SUFFIXES:
        raise InvalidInput(f"--out {out} must end in .csv or .parquet")
    if out is not None and not out.parent.is_dir():
        raise InvalidInput(f"cannot write {out}: directory {out.parent} does not exist")
    try:
        first = pd.Timestamp(start)
    except (ValueError, TypeError):
        raise InvalidInput(
            f"--start {quoted(start)} is not a date or time; use ISO 8601 such as 2024-01-01T00:00"
        ) from None
    seed = symbol_seed(symbol) if seed is None else seed
    frame = synth_candles(bars, seed=seed, start=first, timeframe=timeframe, dynamics=dynamics)
    if out is not None:
        if out.suffix.lower() == ".csv":
            frame.to_csv(out, index=False)
        else:
            frame.to_parquet(out, index=False)
        summary = {"symbol": symbol, "timeframe": timeframe, "file": str(out), **_span(frame)}
        where = str(out)
    else:
        summary = {"symbol": symbol, "timeframe": timeframe,
                   "written": run(lambda: _upsert(frame, symbol, timeframe)), **_span(frame)}
        where = "the database"
    if as_json:
        print_json(summary)
        return
    console.print(f"wrote {bars} synthetic {dynamics} candles of {symbol} {timeframe} to {shown(where)} "
                  f"({summary['first']:%Y-%m-%d %H:%M} – {summary['last']:%Y-%m-%d %H:%M} UTC)")


@app.command("show")
def show(
    symbol: Optional[str] = typer.Option(None, "--symbol", "-s", help="Only this symbol."),
    wide: bool = typer.Option(False, "--wide", help=WIDE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Show stored candles: bars per symbol and timeframe, their calendar, first and last bar."""
    from alphaplus.cli.tables import Column
    from alphaplus.cli.tables import show as show_table
    from db.pool import get_pool
    from db.candles import candle_summary

    async def go():
        return await candle_summary(await get_pool(), symbol=symbol)

    rows = run(go)
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print(f"no candles of {shown(symbol)} stored" if symbol
                      else "no candles stored; see `alphaplus data import`")
        return
    show_table([Column("symbol", 0, 16), Column("timeframe"), Column("calendar", 0),
                Column("bars", 0, justify="right"), Column("first", 1), Column("last", 1)],
               [(r["symbol"], r["timeframe"], r["calendar"], r["bars"], f"{r['first']:%Y-%m-%d %H:%M}",
                 f"{r['last']:%Y-%m-%d %H:%M}") for r in rows], wide=wide, title="candles")


def register(root: typer.Typer) -> None:
    """Add the ``data`` group to the ``alphaplus`` command."""
    root.add_typer(app, name="data")

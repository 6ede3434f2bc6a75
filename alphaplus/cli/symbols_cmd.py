"""``alphaplus symbols``: each symbol's trading calendar (when its market is open)."""

from __future__ import annotations

import typer

from alphaplus.cli.common import WIDE_HELP, console, print_json, run

app = typer.Typer(help="Symbols and their trading calendars (24/7, 24/5 or an exchange such as XNYS).",
                  no_args_is_help=True)

CALENDAR_HELP = ("Trading calendar: 24/7 (crypto, the default), 24/5 (FX: Sunday 17:00 to Friday 17:00 "
                 "New York) or an exchange code such as XNYS, XNAS, XLON, XTKS, CMES.")


async def record_calendar(symbol: str, calendar: str) -> dict:
    """Store the symbol's calendar (already checked) and return the instrument row."""
    from db.instruments import set_calendar
    from db.pool import get_pool

    return await set_calendar(await get_pool(), symbol=symbol, calendar=calendar)


@app.command("set")
def set_symbol(
    symbol: str = typer.Argument(..., help="Symbol, e.g. EURUSD."),
    calendar: str = typer.Option(..., "--calendar", "-c", help=CALENDAR_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
) -> None:
    """Set a symbol's trading calendar: the quality gate then expects bars only while it is open."""
    from alphaplus.core.validation import check_name
    from alphaplus.market.calendars import canonical_calendar

    symbol, calendar = check_name("symbol", symbol), canonical_calendar(calendar)
    row = run(lambda: record_calendar(symbol, calendar))
    if as_json:
        print_json(row)
        return
    console.print(f"{symbol} trades on calendar {calendar}")


@app.command("list")
def list_symbols(
    wide: bool = typer.Option(False, "--wide", help=WIDE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List symbols (with a calendar or candles) and their trading calendars."""
    from alphaplus.cli.tables import Column, show
    from db.instruments import list_instruments
    from db.pool import get_pool

    async def go():
        return await list_instruments(await get_pool())

    rows = run(go)
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("no symbols yet; see `alphaplus data import` and `alphaplus symbols set`")
        return
    show([Column("symbol", 0, 24), Column("calendar", 0), Column("bars", 1, justify="right"),
          Column("calendar set", 2)],
         [(r["symbol"], r["calendar"], r["bars"],
           "never (default)" if r["updated_at"] is None else f"{r['updated_at']:%Y-%m-%d %H:%M}") for r in rows],
         wide=wide, title="symbols")


def register(root: typer.Typer) -> None:
    """Add the ``symbols`` group to the ``alphaplus`` command."""
    root.add_typer(app, name="symbols")

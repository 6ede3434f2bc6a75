"""Does a candle series look like its declared timeframe and calendar? Checked before an import.

The most common step between consecutive bars is the series' bar length whatever its calendar
(nights and weekends only add longer steps); bars that open while the calendar is closed mean the
calendar (or the timestamps) are wrong. Pure: no database.
"""

from __future__ import annotations

import pandas as pd

from alphaplus.market.calendars import expected_bar_opens
from alphaplus.market.frame import CandleFormatError

MAX_EXAMPLES = 3


def describe_step(step: pd.Timedelta) -> str:
    """A bar length in the words of a timeframe (``1h``, ``4h``, ``1d``, ``1w``; about a month)."""
    seconds = int(step.total_seconds())
    if 28 * 86400 <= seconds <= 31 * 86400:
        return "1 month (monthly bars, which no timeframe describes)"
    for unit, size in (("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return str(step)


def typical_step(ts: pd.Series) -> pd.Timedelta | None:
    """The most common positive step between consecutive bars (None for fewer than two bars)."""
    steps = ts.sort_values().diff().dropna()
    steps = steps[steps > pd.Timedelta(0)]
    if steps.empty:
        return None
    return pd.Timedelta(steps.value_counts().idxmax())


def check_spacing(frame: pd.DataFrame, *, timeframe: str, bar: pd.Timedelta, calendar: str, source: str) -> None:
    """Refuse a series whose bars are not ``timeframe`` apart, or that open while ``calendar`` is closed."""
    step = typical_step(frame["ts"])
    if step is None:
        return
    if step != bar:
        raise CandleFormatError(
            f"{source}: bars are mostly {describe_step(step)} apart, so the data looks like timeframe "
            f"{describe_step(step)}, not {timeframe}; import it with --timeframe {describe_step(step)}"
            if not describe_step(step).startswith("1 month") else
            f"{source}: bars are about a month apart (monthly bars), not {timeframe}; "
            "alphaplus handles bars of at most a week"
        )
    if bar >= pd.Timedelta(days=7):
        return
    ts = pd.DatetimeIndex(frame["ts"]).tz_convert("UTC").as_unit("ns")
    expected = expected_bar_opens(calendar, ts.min(), ts.max(), bar, anchor=ts.min())
    closed = ts[~ts.isin(expected)]
    if len(closed):
        shown = ", ".join(f"{t:%Y-%m-%d %H:%M} UTC ({t.tz_convert(None).day_name()[:3]})"
                          for t in closed[:MAX_EXAMPLES])
        raise CandleFormatError(
            f"{source}: {len(closed)} bar(s) open when calendar {calendar} expects no {timeframe} bar "
            f"(e.g. {shown}); choose the calendar the market trades on with --calendar "
            "(24/7, 24/5 or an exchange code such as XNYS)"
        )

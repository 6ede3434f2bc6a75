"""Gaps judged against a trading calendar: which bars the calendar expects that the series lacks, and
which bars the series has while the calendar is closed. Closed periods (weekends, nights, holidays,
early closes) are not gaps. Pure: no database, no Prefect, no Great Expectations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from alphaplus.market.calendars import ALWAYS_OPEN, FX_WEEK, expected_bar_opens

MAX_NAMED = 5


@dataclass(frozen=True)
class CalendarFit:
    """How a series of bar open times fits a calendar at one bar length."""

    calendar: str
    bar: pd.Timedelta
    expected: int
    missing: pd.DatetimeIndex
    off_calendar: pd.DatetimeIndex
    # Per row of the series (in its order): missing expected bars since the previous row, and whether
    # the row's bar opens while the calendar is closed.
    missing_before: np.ndarray
    closed_rows: np.ndarray

    @property
    def missing_share(self) -> float:
        return len(self.missing) / self.expected if self.expected else 0.0


def fit_calendar(ts: pd.Series, calendar: str, bar: pd.Timedelta) -> CalendarFit:
    """Compare the bar open times ``ts`` (in row order) with the bars ``calendar`` expects between the
    first and the last of them."""
    index = pd.DatetimeIndex(ts).tz_convert("UTC").as_unit("ns")
    valid = index[~index.isna()]
    empty = pd.DatetimeIndex([], tz="UTC")
    if len(valid) < 2:
        zeros = np.zeros(len(index), dtype="float64")
        return CalendarFit(calendar, bar, len(valid), empty, empty, zeros, np.zeros(len(index), dtype=bool))
    expected = expected_bar_opens(calendar, valid.min(), valid.max(), bar, anchor=valid.min())
    missing = expected[~expected.isin(valid)]
    closed_rows = ~index.isin(expected) & ~index.isna()
    # Each missing bar is charged to the first present bar after it.
    positions = np.searchsorted(np.sort(valid.asi8), missing.asi8, side="right")
    sorted_order = np.argsort(index.asi8, kind="stable")
    counts = np.bincount(positions, minlength=len(index) + 1)[: len(index)]
    missing_before = np.zeros(len(index), dtype="float64")
    valid_rows = sorted_order[~index.isna()[sorted_order]]
    missing_before[valid_rows] = counts[: len(valid_rows)]
    return CalendarFit(calendar, bar, len(expected), missing, index[closed_rows], missing_before, closed_rows)


def named(ts: pd.DatetimeIndex, limit: int = MAX_NAMED) -> tuple[str, ...]:
    """The first few timestamps, readable (with the weekday: calendars are about days)."""
    return tuple(f"{t:%Y-%m-%d %H:%M} UTC {t.day_name()[:3]}" for t in ts[:limit])


def fix_hint(symbol: str | None, fit: CalendarFit, ts: pd.Series, max_missing_share: float) -> str:
    """What to do about a series that does not fit its calendar: a calendar that fits, if one of the
    common ones does, else how to set one or tolerate the missing bars."""
    who = symbol or "this symbol"
    for candidate in (FX_WEEK, "XNYS", ALWAYS_OPEN):
        if candidate == fit.calendar:
            continue
        other = fit_calendar(ts, candidate, fit.bar)
        if not len(other.off_calendar) and other.missing_share <= max_missing_share:
            return (f"{who} has calendar {fit.calendar}; if it trades {candidate} run "
                    f"`alphaplus symbols set {symbol or 'SYMBOL'} --calendar {candidate}`")
    return (f"{who} has calendar {fit.calendar}; set the calendar its market trades on with `alphaplus symbols "
            f"set {symbol or 'SYMBOL'} --calendar CAL` (24/7, 24/5 or an exchange code such as XNYS), or fill "
            "the missing bars, or allow more with ALPHAPLUS_MAX_MISSING_BAR_SHARE")

"""Trading calendars: when a symbol's market is open, and so which bars a candle series should have.

A calendar is named by a code: ``24/7`` (crypto: always open), ``24/5`` (FX: open from Sunday 17:00
to Friday 17:00 New York time) or any exchange calendar of the ``exchange_calendars`` library
(``XNYS``, ``XNAS``, ``XLON``, ``XTKS``, ``CMES``...), whose sessions, holidays, breaks and early
closes are the library's. Pure: no database, no Prefect.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from alphaplus.core.errors import InvalidInput

ALWAYS_OPEN = "24/7"
FX_WEEK = "24/5"
DEFAULT_CALENDAR = ALWAYS_OPEN
# The FX week opens and closes at 17:00 New York time (Sunday open, Friday close).
_FX_ZONE = "America/New_York"
_FX_HOUR = 17
_SUNDAY, _FRIDAY, _SATURDAY = 6, 4, 5


def canonical_calendar(text: str) -> str:
    """The calendar's code as stored (``24/5``, ``XNYS``); refused with the choices if unknown."""
    code = text.strip().upper()
    if code in (ALWAYS_OPEN, FX_WEEK):
        return code
    if code in _exchange_codes():
        return code
    raise InvalidInput(
        f"unknown calendar {text.strip()[:40]!r}; use 24/7 (crypto), 24/5 (FX) or an exchange calendar "
        "code such as XNYS, XNAS, XLON, XTKS or CMES"
    )


@lru_cache(maxsize=1)
def _exchange_codes() -> frozenset[str]:
    import exchange_calendars as xc

    return frozenset(xc.get_calendar_names(include_aliases=True))


def expected_bar_opens(calendar: str, start: pd.Timestamp, end: pd.Timestamp, timeframe: pd.Timedelta,
                       *, anchor: pd.Timestamp | None = None) -> pd.DatetimeIndex:
    """The open times (UTC) of the bars the calendar expects in [start, end] at ``timeframe``.

    ``24/7`` and ``24/5`` bars lie on a grid of ``timeframe`` through ``anchor`` (default ``start``);
    ``24/5`` keeps the bars that open while the FX week is open. Exchange calendars give their
    session minutes' bars (the library's trading index: a bar opens at each session open and every
    ``timeframe`` after it while the session is open); bars of a day or longer are the sessions, one
    bar per session labelled at midnight UTC of its date.
    """
    start, end = _utc(start), _utc(end)
    if end < start:
        return pd.DatetimeIndex([], tz="UTC")
    code = canonical_calendar(calendar)
    if code in (ALWAYS_OPEN, FX_WEEK):
        anchor = start if anchor is None else _utc(anchor)
        first = anchor + ((start - anchor) // timeframe) * timeframe
        if first < start:
            first += timeframe
        grid = pd.date_range(first, end, freq=timeframe).as_unit("ns")
        return grid if code == ALWAYS_OPEN else grid[fx_open(grid)]
    return _exchange_bars(code, start, end, timeframe)


def fx_open(ts: pd.DatetimeIndex):
    """Boolean mask: which instants fall inside the FX week (Sunday 17:00 to Friday 17:00 New York)."""
    local = ts.tz_convert(_FX_ZONE)
    day, hour = local.dayofweek, local.hour
    closed = (day == _SATURDAY) | ((day == _FRIDAY) & (hour >= _FX_HOUR)) | ((day == _SUNDAY) & (hour < _FX_HOUR))
    return ~closed


def _exchange_bars(code: str, start: pd.Timestamp, end: pd.Timestamp, timeframe: pd.Timedelta) -> pd.DatetimeIndex:
    first_day, last_day = start.tz_convert(None).normalize(), end.tz_convert(None).normalize()
    cal = _exchange_calendar(code, first_day.year, last_day.year)
    if timeframe >= pd.Timedelta(days=1):
        sessions = cal.sessions_in_range(max(first_day, cal.first_session), min(last_day, cal.last_session))
        opens = pd.DatetimeIndex(sessions).tz_localize("UTC")
    else:
        first = cal.date_to_session(max(first_day, cal.first_session), direction="next")
        last = cal.date_to_session(min(last_day, cal.last_session), direction="previous")
        if last < first:
            return pd.DatetimeIndex([], tz="UTC")
        opens = cal.trading_index(first, last, period=timeframe, intervals=False, closed="left",
                                  force_close=False, force_break_close=False, curtail_overlaps=True,
                                  ignore_breaks=False)
    opens = opens.as_unit("ns")
    return opens[(opens >= start) & (opens <= end)]


@lru_cache(maxsize=32)
def _exchange_calendar(code: str, first_year: int, last_year: int):
    """The library's calendar covering the years asked for (its default spans only about 20 years)."""
    import exchange_calendars as xc

    default = xc.get_calendar(code)
    start = min(default.first_session, pd.Timestamp(f"{first_year}-01-01"))
    end = max(default.last_session, pd.Timestamp(f"{last_year}-12-31"))
    if start == default.first_session and end == default.last_session:
        return default
    return xc.get_calendar(code, start=start, end=end)


def _utc(ts: pd.Timestamp) -> pd.Timestamp:
    ts = pd.Timestamp(ts)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")

"""When a prediction's outcome is known, in the trading time of its symbol's calendar.

A prediction about the bar opening at ``bar_ts`` with a horizon of ``h`` bars compares that bar's
close with the close of the bar ``h`` bars later (``alphaplus.ml.labels``). That later bar is the
``h``-th bar the calendar opens after ``bar_ts`` (24/5: a Friday-evening bar's 12th hourly bar is on
Monday; XNYS: nights, weekends and holidays hold no bars), and the outcome is known once that bar has
closed. Before then the prediction is immature; after, it is due, and is resolved as soon as its
candles are in (``triage``). Pure: no database, no Prefect.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

import numpy as np
import pandas as pd

from alphaplus.core.errors import InvalidInput
from alphaplus.market.calendars import expected_bar_opens
from alphaplus.market.frame import timeframe_to_timedelta
from alphaplus.monitoring.outcomes import VersionContext, realized_labels

# Calendar span read at first beyond the last bar, in horizons of bars plus days (closed stretches:
# weekends, holidays); doubled until it holds the horizon.
_SPAN_HORIZONS = 3
_SPAN_DAYS = 7
_MAX_DOUBLINGS = 8
# The events of one bar of one version and source are held or accounted together.
BAR_KEY = ["model_name", "version", "shadow", "bar_ts"]


def maturity_times(calendar: str, bar_ts: Any, timeframe: pd.Timedelta, horizon: int) -> pd.DatetimeIndex:
    """Per bar open time in ``bar_ts``: when its outcome is known, i.e. the close (open + timeframe) of
    the ``horizon``-th bar ``calendar`` opens after it. A bar that opens while the market is closed
    counts from the first bar after it."""
    if int(horizon) != horizon or horizon < 1:
        raise InvalidInput(f"label horizon must be a positive number of bars, got {horizon!r}")
    bars = pd.DatetimeIndex(pd.to_datetime(pd.Series(bar_ts), utc=True)).as_unit("ns")
    if len(bars) == 0:
        return bars
    first, last = bars.min(), bars.max()
    span = timeframe * (int(horizon) + 1) * _SPAN_HORIZONS + pd.Timedelta(days=_SPAN_DAYS)
    for _ in range(_MAX_DOUBLINGS):
        opens = expected_bar_opens(calendar, first, last + span, timeframe, anchor=first)
        # Opens at or before each bar: the bar itself is number count-1; its h-th successor is at
        # count-1+h (for a bar in a closed period, count-1 is the last open before it).
        after = np.searchsorted(opens.asi8, bars.asi8, side="right") - 1 + int(horizon)
        if len(opens) and after.max() < len(opens):
            return pd.DatetimeIndex(opens[after] + timeframe)
        span *= 2
    raise InvalidInput(f"calendar {calendar} opens fewer than {horizon} bars of {timeframe} after {last}")


@dataclass(frozen=True)
class Triage:
    """Which events a resolution accounts for now, and why the others wait."""

    account: np.ndarray            # per event (in frame order): account for it in this resolution
    immature: int                  # bars whose horizon has not elapsed on the calendar yet
    awaiting_candles: int          # bars whose horizon has elapsed but whose candles are not in yet
    next_maturity: datetime | None  # when the earliest immature bar matures


def triage(
    events: pd.DataFrame,
    contexts: Mapping[tuple[str, int], VersionContext],
    calendars: Mapping[str, str],
    candles: Mapping[tuple[str, str], pd.DataFrame],
    *,
    now: datetime,
) -> Triage:
    """Decide, per event, whether its outcome can be accounted for at ``now``.

    An event is accounted for when its bar has matured on its symbol's calendar (``calendars``; a
    symbol without one trades 24/7) and the candles decide its outcome: the entry candle and the
    ``label_horizon`` candles after it are in, or the entry candle is missing while later candles
    exist (it will never come: the outcome is unresolvable and is counted as such). Events with no
    bar, of versions without horizon metadata, or repeating a bar already counted (``seen_before``)
    wait for nothing but their bar's maturity. The events of one bar wait or go together.
    """
    n = len(events)
    account = np.ones(n, dtype=bool)
    if n == 0:
        return Triage(account, 0, 0, None)
    now_ts = pd.Timestamp(now).tz_convert("UTC")
    frame = events.reset_index(drop=True)
    seen = frame["seen_before"].fillna(False).astype(bool) if "seen_before" in frame else pd.Series(False, index=frame.index)
    immature = awaiting = 0
    next_maturity: pd.Timestamp | None = None
    with_bar = frame[frame["bar_ts"].notna()]
    for (model_name, version), group in with_bar.groupby(["model_name", "version"], sort=False):
        ctx = contexts.get((model_name, int(version)))
        if ctx is None or ctx.label_horizon is None or ctx.timeframe is None:
            continue
        tf = pd.Timedelta(timeframe_to_timedelta(ctx.timeframe))
        bars = pd.DatetimeIndex(pd.to_datetime(group["bar_ts"], utc=True))
        due_at = maturity_times(calendars.get(ctx.symbol, "24/7"), bars, tf, ctx.label_horizon)
        not_due = due_at > now_ts
        candle_frame = candles.get((ctx.symbol, ctx.timeframe))
        # Failed calls and repeats of a counted bar need no candles: only their bar's maturity.
        needs_no_candles = seen.loc[group.index].to_numpy() | ~group["success"].astype(bool).to_numpy()
        decided = _decided(bars, candle_frame, ctx.label_horizon) | needs_no_candles
        hold = not_due | ~decided
        keys = group[BAR_KEY].assign(hold=hold)
        held_bars = keys.groupby(BAR_KEY, dropna=False)["hold"].transform("any").to_numpy()
        account[group.index.to_numpy()[held_bars]] = False
        per_bar = keys.assign(not_due=not_due).drop_duplicates(BAR_KEY)
        immature += int(per_bar["not_due"].sum())
        awaiting += int((per_bar["hold"] & ~per_bar["not_due"]).sum())
        if not_due.any():
            first = due_at[not_due].min()
            next_maturity = first if next_maturity is None else min(next_maturity, first)
    return Triage(account, immature, awaiting, None if next_maturity is None else next_maturity.to_pydatetime())


def _decided(bars: pd.DatetimeIndex, frame: pd.DataFrame | None, horizon: int) -> np.ndarray:
    """Per bar: the candles decide its outcome (a label, or an entry candle that will never come)."""
    if frame is None or len(frame) == 0:
        return np.zeros(len(bars), dtype=bool)
    labelled = ~np.isnan(realized_labels(bars, frame, horizon))
    ts = pd.DatetimeIndex(pd.to_datetime(frame["ts"], utc=True)).as_unit("ns")
    present = bars.as_unit("ns").isin(ts)
    later = bars.as_unit("ns") < ts.max()
    return labelled | (~present & later)


def counted_bars(events: pd.DataFrame) -> np.ndarray:
    """Per event: the first successful prediction of its (version, source, bar), by prediction time,
    and that bar not counted before (``seen_before``): the one whose outcome and inputs count."""
    if len(events) == 0:
        return np.zeros(0, dtype=bool)
    frame = events.reset_index(drop=True)
    eligible = frame["success"].astype(bool) & frame["prediction"].notna() & frame["bar_ts"].notna()
    if "seen_before" in frame:
        eligible &= ~frame["seen_before"].fillna(False).astype(bool)
    candidates = frame[eligible].sort_values("ts", kind="stable")
    first = candidates.index[~candidates.duplicated(BAR_KEY, keep="first")]
    out = np.zeros(len(frame), dtype=bool)
    out[first.to_numpy()] = True
    return out

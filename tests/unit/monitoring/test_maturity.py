"""Outcome maturity in trading time: a prediction's horizon elapses in bars of its symbol's calendar,
so a Friday prediction matures after the weekend (never early, never "never"), and resolution waits
for the candles of a matured outcome instead of counting it wrong."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaplus.monitoring.maturity import counted_bars, maturity_times, triage
from alphaplus.monitoring.outcomes import VersionContext
from tests.market_shapes import market_candles

HOUR = pd.Timedelta(hours=1)


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def test_a_friday_fx_prediction_matures_on_monday_after_twelve_trading_hours():
    # 2026-01-09 is a Friday; New York is on EST, so the FX week closes at 22:00 UTC and reopens
    # Sunday 22:00 UTC. From the 18:00 bar: 19, 20, 21 on Friday, then Sunday 22, 23 and Monday 00-06.
    (matures,) = maturity_times("24/5", [utc("2026-01-09 18:00")], HOUR, 12)
    assert matures == utc("2026-01-12 07:00")
    (around_the_clock,) = maturity_times("24/7", [utc("2026-01-09 18:00")], HOUR, 12)
    assert around_the_clock == utc("2026-01-10 07:00")  # what a 24/7 clock would wrongly say


def test_an_equity_prediction_matures_over_a_weekend_and_a_holiday_in_session_bars():
    # XNYS hourly bars open at 9:30, 10:30 ... 15:30 New York. Friday 2026-01-16's last bar opens at
    # 20:30 UTC; Monday 2026-01-19 is Martin Luther King Jr. Day (closed); Tuesday opens 14:30 UTC.
    (matures,) = maturity_times("XNYS", [utc("2026-01-16 20:30")], HOUR, 3)
    assert matures == utc("2026-01-20 17:30")  # the close of Tuesday's 11:30 New York bar


def test_maturity_of_many_bars_is_the_close_of_each_ones_horizon_bar():
    bars = pd.date_range(utc("2026-01-05 00:00"), periods=50, freq="h")
    matures = maturity_times("24/7", bars, HOUR, 4)
    assert list(matures) == list(bars + 5 * HOUR)


def _events(bars, *, success=True, seen=False, model="m", version=1) -> pd.DataFrame:
    n = len(bars)
    return pd.DataFrame({
        "model_name": [model] * n, "version": [version] * n, "shadow": [False] * n, "success": [success] * n,
        "latency_ms": [1.0] * n, "bar_ts": list(bars), "prediction": [1 if success else None] * n,
        "features": [None] * n, "ts": [b + pd.Timedelta(minutes=1) for b in bars], "seen_before": [seen] * n,
    })


@pytest.fixture
def fx():
    candles = market_candles("24/5", "2026-01-05", "2026-01-16", "1h", seed=3)
    context = VersionContext("m", 1, "trending", "EURUSD", timeframe="1h", label_horizon=12)
    return candles, {("m", 1): context}, {"EURUSD": "24/5"}


def test_a_friday_prediction_waits_over_the_weekend_and_is_accounted_on_monday(fx):
    candles, contexts, calendars = fx
    events = _events([utc("2026-01-09 18:00")])
    upto_friday = {("EURUSD", "1h"): candles[candles["ts"] <= utc("2026-01-09 21:00")]}
    saturday = triage(events, contexts, calendars, upto_friday, now=utc("2026-01-10 12:00"))
    assert not saturday.account.any() and saturday.immature == 1
    assert saturday.next_maturity == utc("2026-01-12 07:00")
    monday = triage(events, contexts, calendars, {("EURUSD", "1h"): candles}, now=utc("2026-01-12 07:00"))
    assert monday.account.all() and monday.immature == 0


def test_a_matured_prediction_waits_for_its_candles_rather_than_counting_wrong(fx):
    candles, contexts, calendars = fx
    events = _events([utc("2026-01-09 18:00")])
    stale = {("EURUSD", "1h"): candles[candles["ts"] <= utc("2026-01-09 21:00")]}
    late = triage(events, contexts, calendars, stale, now=utc("2026-01-12 09:00"))
    assert not late.account.any() and (late.immature, late.awaiting_candles) == (0, 1)


def test_a_bar_missing_from_a_series_that_moved_on_is_accounted_as_unresolvable(fx):
    candles, contexts, calendars = fx
    hole = utc("2026-01-07 10:00")
    events = _events([hole])
    decided = triage(events, contexts, calendars, {("EURUSD", "1h"): candles[candles["ts"] != hole]},
                     now=utc("2026-01-14 00:00"))
    assert decided.account.all()


def test_failed_calls_and_repeats_need_only_their_bars_maturity(fx):
    _, contexts, calendars = fx
    bar = utc("2026-01-07 10:00")
    events = pd.concat([_events([bar], success=False), _events([bar], seen=True)], ignore_index=True)
    before = triage(events, contexts, calendars, {}, now=utc("2026-01-07 22:59"))
    after = triage(events, contexts, calendars, {}, now=utc("2026-01-07 23:00"))
    assert not before.account.any() and after.account.all()


def test_the_events_of_one_bar_wait_together(fx):
    candles, contexts, calendars = fx
    bar = utc("2026-01-09 18:00")
    events = pd.concat([_events([bar]), _events([bar], success=False)], ignore_index=True)
    stale = {("EURUSD", "1h"): candles[candles["ts"] <= utc("2026-01-09 21:00")]}
    assert not triage(events, contexts, calendars, stale, now=utc("2026-01-12 09:00")).account.any()


def test_only_the_first_successful_prediction_of_an_uncounted_bar_is_counted():
    bar = utc("2026-01-07 10:00")
    events = pd.concat([_events([bar], success=False), _events([bar]), _events([bar]),
                        _events([bar + HOUR], seen=True)], ignore_index=True)
    events.loc[2, "ts"] = events.loc[1, "ts"] + pd.Timedelta(seconds=5)
    assert counted_bars(events).tolist() == [False, True, False, False]


def test_a_horizon_that_is_not_a_positive_whole_number_of_bars_is_refused():
    with pytest.raises(Exception, match="positive number of bars"):
        maturity_times("24/7", [utc("2026-01-05")], HOUR, 0)
    assert np.asarray(maturity_times("24/7", [], HOUR, 3)).size == 0

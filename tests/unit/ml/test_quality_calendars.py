"""The quality gate judges gaps against the symbol's trading calendar, on real-shaped series."""

from __future__ import annotations

import pandas as pd
import pytest

from alphaplus.ml.quality import validate_candles
from tests.market_shapes import candles_at, market_candles

MISSING = "every {tf} bar of calendar {cal} is present (at most 0.00% missing)"


def _gate(frame, calendar, timeframe, **kwargs):
    return validate_candles(frame, min_rows=100, calendar=calendar, timeframe=timeframe,
                            max_missing_bar_share=0.0, **kwargs)


@pytest.fixture(scope="module")
def fx_hours() -> pd.DataFrame:
    """Five weeks of EURUSD-like hourly bars: closed from Friday 17:00 to Sunday 17:00 New York."""
    return market_candles("24/5", "2024-03-01", "2024-04-05", "1h", seed=1)


@pytest.fixture(scope="module")
def equity_five_minutes() -> pd.DataFrame:
    """Two weeks of NYSE 5-minute bars around Thanksgiving: nights, a holiday and an early close."""
    return market_candles("XNYS", "2024-11-18", "2024-12-03", "5m", seed=2)


def test_fx_hours_with_weekends_pass_on_the_24_5_calendar(fx_hours):
    assert not (pd.DatetimeIndex(fx_hours["ts"]).dayofweek == 5).any()
    report = _gate(fx_hours, "24/5", "1h")
    assert report.success, report.summary()


def test_equity_bars_with_nights_a_holiday_and_an_early_close_pass_on_the_exchange_calendar(equity_five_minutes):
    days = pd.DatetimeIndex(equity_five_minutes["ts"]).tz_convert("America/New_York").normalize()
    assert pd.Timestamp("2024-11-28", tz="America/New_York") not in days  # Thanksgiving
    assert (days == pd.Timestamp("2024-11-29", tz="America/New_York")).sum() == 42  # closes at 13:00
    report = _gate(equity_five_minutes, "XNYS", "5m")
    assert report.success, report.summary()


def test_a_24_7_series_passes_on_the_default_calendar():
    report = _gate(market_candles("24/7", "2024-01-01", "2024-01-15", "1h", seed=3), "24/7", "1h")
    assert report.success, report.summary()


def test_a_bar_removed_inside_a_session_is_caught_and_named(equity_five_minutes):
    gone = equity_five_minutes["ts"].iloc[500]
    report = _gate(equity_five_minutes.drop(index=500), "XNYS", "5m")
    name = MISSING.format(tf="5m", cal="XNYS")
    assert report.failed_names == (name,), report.summary()
    [result] = report.failures
    assert result.unexpected_count == 1
    assert f"missing {gone:%Y-%m-%d %H:%M} UTC" in report.summary()


def test_fx_under_24_7_fails_saying_to_set_the_24_5_calendar(fx_hours):
    report = _gate(fx_hours, "24/7", "1h", symbol="EURUSD")
    assert MISSING.format(tf="1h", cal="24/7") in report.failed_names
    fix = "EURUSD has calendar 24/7; if it trades 24/5 run `alphaplus symbols set EURUSD --calendar 24/5`"
    assert fix in report.summary() and fix in report.reason()
    assert "Sat" in report.summary()  # the missing bars it names are the weekend's


def test_fx_under_an_exchange_calendar_names_the_bars_that_open_while_it_is_closed(fx_hours):
    report = _gate(fx_hours, "XNYS", "1h", symbol="EURUSD")
    assert "bars open only while calendar XNYS is open" in report.failed_names
    assert "--calendar 24/5" in report.reason()


def test_a_missing_bar_within_the_tolerance_passes(fx_hours):
    thinned = fx_hours.drop(index=[100, 200])
    assert not _gate(thinned, "24/5", "1h").success
    assert validate_candles(thinned, min_rows=100, calendar="24/5", timeframe="1h",
                            max_missing_bar_share=0.01).success


def test_the_outlier_rule_scales_with_the_series_own_volatility():
    # Weekly bars of a volatile asset: moves of 50% or more are normal there, not errors.
    ts = pd.date_range("2012-01-01", periods=156, freq="7D", tz="UTC")
    weekly = candles_at(ts, seed=4, start_price=10.0, vol=0.25)
    assert (weekly["close"].pct_change().abs() > 0.5).any()
    report = validate_candles(weekly, min_rows=100, timeframe="1w")
    assert report.success, report.summary()
    # A price off by a factor of 100 in a calm hourly series is refused.
    calm = market_candles("24/7", "2024-01-01", "2024-01-15", "1h", seed=5)
    for col in ("open", "high", "low", "close"):
        calm.loc[150, col] *= 100
    report = validate_candles(calm, min_rows=100, timeframe="1h")
    assert any(n.startswith("no log return beyond") for n in report.failed_names), report.summary()


def test_the_minimum_rows_expectation_says_what_needs_the_rows():
    short = market_candles("24/7", "2024-01-01", "2024-01-02", "1h")
    report = validate_candles(short, min_rows=500, rows_need=" (12-bar labels need them)")
    assert "at least 500 rows (12-bar labels need them)" in report.failed_names

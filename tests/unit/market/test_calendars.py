"""Trading calendars: which bars a market's calendar expects, from the exchange-calendars library."""

from __future__ import annotations

import pandas as pd
import pytest

from alphaplus.core.errors import InvalidInput
from alphaplus.market.calendars import canonical_calendar, expected_bar_opens
from alphaplus.market.frame import CandleFormatError
from alphaplus.market.spacing import check_spacing
from tests.market_shapes import market_candles

UTC = "UTC"


def _bars(calendar, start, end, timeframe):
    return expected_bar_opens(calendar, pd.Timestamp(start, tz=UTC), pd.Timestamp(end, tz=UTC),
                              pd.Timedelta(timeframe))


def test_a_24_7_calendar_expects_every_bar_of_the_week():
    assert len(_bars("24/7", "2024-06-01", "2024-06-08", "1h")) == 7 * 24 + 1


def test_the_fx_week_opens_sunday_and_closes_friday_at_five_in_new_york():
    bars = _bars("24/5", "2024-06-07", "2024-06-11", "1h")  # Friday to Tuesday, summer time (UTC-4)
    assert pd.Timestamp("2024-06-07 20:00", tz=UTC) in bars  # Friday 16:00 New York: open
    assert pd.Timestamp("2024-06-07 21:00", tz=UTC) not in bars  # Friday 17:00: closed
    assert pd.Timestamp("2024-06-09 20:00", tz=UTC) not in bars  # Sunday 16:00: still closed
    assert pd.Timestamp("2024-06-09 21:00", tz=UTC) in bars  # Sunday 17:00: open
    assert not any(t.dayofweek == 5 for t in bars)


def test_an_exchange_calendar_skips_nights_holidays_and_shortens_early_closes():
    # Thanksgiving week 2024 on the NYSE: Thursday closed, Friday closes at 13:00 New York.
    bars = _bars("XNYS", "2024-11-25", "2024-11-30", "5min")
    per_day = bars.tz_convert("America/New_York").normalize().value_counts().sort_index()
    assert list(per_day.index.day) == [25, 26, 27, 29]
    assert list(per_day) == [78, 78, 78, 42]
    assert bars.min() == pd.Timestamp("2024-11-25 14:30", tz=UTC)


def test_daily_bars_of_an_exchange_are_its_sessions():
    assert len(_bars("XNYS", "2024-11-25", "2024-11-29", "1d")) == 4


def test_an_unknown_calendar_is_refused_with_the_choices():
    with pytest.raises(InvalidInput, match="24/5"):
        canonical_calendar("NOPE")
    assert canonical_calendar(" xnys ") == "XNYS"


def test_bars_spaced_unlike_the_declared_timeframe_are_refused_naming_the_timeframe_they_look_like():
    frame = market_candles("24/7", "2024-01-01", "2024-01-10", "4h")
    with pytest.raises(CandleFormatError, match="looks like timeframe 4h, not 1h"):
        check_spacing(frame, timeframe="1h", bar=pd.Timedelta("1h"), calendar="24/7", source="f.csv")


def test_monthly_bars_declared_weekly_are_refused():
    ts = pd.date_range("2012-01-01", periods=40, freq="MS", tz=UTC)
    frame = pd.DataFrame({"ts": ts, **{c: 1.0 for c in ("open", "high", "low", "close", "volume")}})
    with pytest.raises(CandleFormatError, match="about a month apart"):
        check_spacing(frame, timeframe="1w", bar=pd.Timedelta("7D"), calendar="24/7", source="f.csv")


def test_fx_bars_declared_on_an_exchange_calendar_are_refused_naming_closed_bars():
    frame = market_candles("24/5", "2024-06-03", "2024-06-14", "1h")
    with pytest.raises(CandleFormatError, match="calendar XNYS expects no 1h bar"):
        check_spacing(frame, timeframe="1h", bar=pd.Timedelta("1h"), calendar="XNYS", source="f.csv")
    check_spacing(frame, timeframe="1h", bar=pd.Timedelta("1h"), calendar="24/5", source="f.csv")

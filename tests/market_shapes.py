"""Candle series shaped like real markets, made by the tests: FX hours with weekends, an equity day
of 5-minute bars with nights, holidays and an early close, a crypto series around the clock."""

from __future__ import annotations

import numpy as np
import pandas as pd

from alphaplus.market.calendars import expected_bar_opens


def candles_at(ts: pd.DatetimeIndex, *, seed: int = 0, start_price: float = 1.1, vol: float = 0.001) -> pd.DataFrame:
    """A random-walk OHLCV frame with one bar at each of ``ts``."""
    rng = np.random.default_rng(seed)
    close = start_price * np.exp(np.cumsum(rng.normal(0.0, vol, len(ts))))
    open_ = np.concatenate([[start_price], close[:-1]])
    spread = np.abs(rng.normal(0.0, vol / 2, len(ts))) * close
    return pd.DataFrame({"ts": pd.DatetimeIndex(ts).as_unit("ns"), "open": open_,
                         "high": np.maximum(open_, close) + spread, "low": np.minimum(open_, close) - spread,
                         "close": close, "volume": rng.uniform(10.0, 100.0, len(ts))})


def market_candles(calendar: str, start: str, end: str, timeframe: str, *, seed: int = 0) -> pd.DataFrame:
    """Every bar ``calendar`` expects between ``start`` and ``end`` (UTC), with random-walk prices."""
    ts = expected_bar_opens(calendar, pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC"),
                            pd.Timedelta(timeframe))
    return candles_at(ts, seed=seed)

"""Candle series for the equality tests of the training and serving paths: random, FX-shaped (weekend
gaps, a feed outage) and adversarial (what breaks online algorithms)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from alphaplus.market.synth import synth_candles
from alphaplus.ml.dataflow import CANDLE_INPUTS


def random_series(n: int, seed: int) -> pd.DataFrame:
    """Uncorrelated noise in every column: prices that jump, volumes of any size, ties by chance."""
    rng = np.random.default_rng(seed)
    close = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.02, n))), 2)  # rounding makes exact ties
    open_ = np.round(close * np.exp(rng.normal(0, 0.01, n)), 2)
    high = np.maximum(open_, close) * (1 + rng.exponential(0.005, n))
    low = np.minimum(open_, close) * (1 - rng.exponential(0.005, n))
    volume = np.where(rng.random(n) < 0.05, 0.0, rng.lognormal(5, 2, n))
    ts = pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC")
    return pd.DataFrame({"ts": ts, "open": open_, "high": high, "low": low, "close": close, "volume": volume})


def fx_series(n: int, seed: int) -> pd.DataFrame:
    """Hourly FX-like bars: fat-tailed returns, no weekend bars (gaps in time), a NaN run (a feed outage)."""
    rng = np.random.default_rng(seed)
    ts = pd.date_range("2024-01-01", periods=2 * n, freq="1h", tz="UTC")
    ts = ts[ts.dayofweek < 5][:n]
    close = 1.1 * np.exp(np.cumsum(rng.standard_t(4, n) * 4e-4))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 2e-4, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 2e-4, n)))
    frame = pd.DataFrame({"ts": ts, "open": open_, "high": high, "low": low, "close": close,
                          "volume": rng.lognormal(8, 1, n)})
    start = rng.integers(n // 4, n // 2)
    frame.loc[start:start + rng.integers(1, 30), list(CANDLE_INPUTS)] = np.nan
    return frame


def adversarial_series(n: int, seed: int) -> pd.DataFrame:
    """Synthetic market with what breaks online algorithms: flat stretches, NaN runs and holes, zero and
    constant volumes, a 50x spike, zero-range candles."""
    rng = np.random.default_rng(seed)
    frame = synth_candles(n, seed=seed)
    at = lambda: int(rng.integers(60, n - 120))  # noqa: E731
    flat = at()
    frame.loc[flat:flat + 80, ["open", "high", "low", "close"]] = 100.0
    hole = at()
    frame.loc[hole:hole + int(rng.integers(1, 40)), list(CANDLE_INPUTS)] = np.nan
    frame.loc[at(), "close"] = np.nan
    quiet = at()
    frame.loc[quiet:quiet + 50, "volume"] = 0.0
    same = at()
    frame.loc[same:same + 70, "volume"] = 7.0
    spike = at()
    frame.loc[spike, ["high", "close"]] *= 50
    doji = at()
    for col in ("open", "high", "low"):
        frame.loc[doji:doji + 5, col] = frame.loc[doji:doji + 5, "close"]
    return frame


SERIES = {"random": random_series, "fx": fx_series, "adversarial": adversarial_series}

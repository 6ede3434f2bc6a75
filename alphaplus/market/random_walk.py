"""Random-walk candles with a known answer: no-skill markets, FX-shaped markets, and a planted edge.

The log close follows

    x_t = x_{t-1} + drift - edge * (x_{t-1} - ema_{t-1}) + volatility * eps_t

where ``ema`` is an exponential moving average of past closes (span ``edge_span`` bars) and ``eps``
is standard normal.  ``edge = 0`` is a pure random walk: no model can predict its direction beyond the
drift, so every promotion of a model trained on it is a false promotion.  ``edge > 0`` pulls the price
back to its recent average, which a model that sees the distance to a moving average can learn; the
larger the edge, the more the next ``h`` bars' direction is predictable.

``weekends=False`` removes the bars an FX market is closed (Friday 22:00 to Sunday 22:00 UTC), so the
frame has the gaps of hourly FX data; the walk itself runs on trading bars only.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alphaplus.market.frame import CANDLE_COLUMNS, timeframe_to_timedelta

# Hourly EURUSD-like volatility, and the drift that makes "always up" right ~55% of the time over
# 12 bars: P(sum of 12 steps > 0) = Phi(sqrt(12) * drift / volatility) = 0.55.
FX_HOURLY_VOLATILITY = 0.0012
FX_UP_DRIFT = 0.0363 * FX_HOURLY_VOLATILITY


def random_walk_candles(
    n_bars: int,
    *,
    seed: int,
    drift: float = 0.0,
    volatility: float = 0.004,
    edge: float = 0.0,
    edge_span: int = 24,
    start: str | pd.Timestamp = "2024-01-01",
    timeframe: str = "1h",
    base_price: float = 100.0,
    weekends: bool = True,
) -> pd.DataFrame:
    """A canonical candle frame of ``n_bars`` trading bars, identical for the same arguments."""
    if n_bars <= 0:
        raise ValueError(f"n_bars must be positive, got {n_bars}")
    if not (volatility > 0 and base_price > 0):
        raise ValueError("volatility and base_price must be positive")
    if not 0.0 <= edge < 1.0:
        raise ValueError(f"edge must be in [0, 1), got {edge}")
    rng = np.random.default_rng(seed)
    eps = rng.standard_normal(n_bars)
    log_close = _walk(eps, np.log(base_price), drift, volatility, edge, edge_span)
    close = np.exp(log_close)
    open_ = np.r_[base_price, close[:-1]]
    wick = volatility * 0.5
    high = np.maximum(open_, close) * np.exp(wick * np.abs(rng.standard_normal(n_bars)))
    low = np.minimum(open_, close) * np.exp(-wick * np.abs(rng.standard_normal(n_bars)))
    volume = np.exp(np.log(1_000.0) + 0.3 * rng.standard_normal(n_bars))
    ts = _trading_times(n_bars, pd.Timestamp(start), pd.Timedelta(timeframe_to_timedelta(timeframe)), weekends)
    frame = pd.DataFrame({"ts": ts, "open": open_, "high": high, "low": low, "close": close, "volume": volume},
                         columns=list(CANDLE_COLUMNS))
    frame["ts"] = frame["ts"].astype("datetime64[ns, UTC]")
    return frame


def fx_candles(n_bars: int, *, seed: int, start: str | pd.Timestamp = "2024-01-01") -> pd.DataFrame:
    """Hourly EURUSD-shaped candles: weekends closed, FX volatility, a slight up drift (no edge)."""
    return random_walk_candles(n_bars, seed=seed, drift=FX_UP_DRIFT, volatility=FX_HOURLY_VOLATILITY,
                               start=start, base_price=1.10, weekends=False)


def _walk(eps: np.ndarray, x0: float, drift: float, volatility: float, edge: float, span: int) -> np.ndarray:
    steps = drift + volatility * eps
    if edge == 0.0:
        return x0 + np.cumsum(steps)
    decay = 2.0 / (span + 1.0)
    out = np.empty(len(eps))
    x = ema = x0
    for i, step in enumerate(steps):
        x = x - edge * (x - ema) + step
        ema += decay * (x - ema)
        out[i] = x
    return out


def _trading_times(n: int, start: pd.Timestamp, step: pd.Timedelta, weekends: bool) -> pd.DatetimeIndex:
    start = start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")
    if weekends:
        return pd.date_range(start=start, periods=n, freq=step, unit="ns")
    # Generate enough calendar bars to keep n after removing the closed ~2/7 of the week.
    candidates = pd.date_range(start=start, periods=int(n * 1.45) + 400, freq=step, unit="ns")
    open_ = _fx_open(candidates)
    return candidates[open_][:n]


def _fx_open(ts: pd.DatetimeIndex) -> np.ndarray:
    """FX trades from Sunday 22:00 to Friday 22:00 UTC."""
    day, hour = ts.dayofweek.to_numpy(), ts.hour.to_numpy()
    closed = (day == 5) | ((day == 4) & (hour >= 22)) | ((day == 6) & (hour < 22))
    return ~closed

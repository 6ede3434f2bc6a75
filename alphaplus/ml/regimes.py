"""Per-bar market regime labels ("trending", "ranging", "volatile") computed from past bars only.

Rule, evaluated at each bar t with data up to and including t:

1. ``vol_t``: standard deviation of the last ``window`` one-bar log returns.
2. ``vol_pct_t``: the percentile rank of ``vol_t`` among the ``vol`` values of the last
   ``vol_lookback`` bars (trailing, including t).
3. ``trend_t``: ``|log(close_t / close_{t-window})| / (vol_t * sqrt(window))``: the move over the
   window in units of the move a driftless random walk with that volatility would make.

The bar is "volatile" when ``vol_pct_t >= volatile_percentile``; otherwise "trending" when
``trend_t >= trend_threshold``; otherwise "ranging". The first ``warmup_bars(rule)`` bars (too little
history for a volatility and its percentile) have no regime (NaN). Rolling windows look backwards
only, so the label of bar t never depends on bars after t.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

REGIMES: tuple[str, ...] = ("trending", "ranging", "volatile")


@dataclass(frozen=True)
class RegimeRule:
    """Parameters of the regime rule; defaults suit hourly bars."""

    window: int = 24
    vol_lookback: int = 500
    volatile_percentile: float = 0.85
    trend_threshold: float = 1.0

    def __post_init__(self) -> None:
        if self.window < 2 or self.vol_lookback < 2:
            raise ValueError("window and vol_lookback must be at least 2 bars")
        if not 0.0 < self.volatile_percentile <= 1.0:
            raise ValueError("volatile_percentile must be in (0, 1]")

    def to_dict(self) -> dict:
        """JSON-able parameters, for lineage records."""
        return asdict(self)


DEFAULT_RULE = RegimeRule()


def warmup_bars(rule: RegimeRule = DEFAULT_RULE) -> int:
    """How many leading bars get no regime label."""
    return rule.window + min(rule.window, rule.vol_lookback) - 1


def regime_indicators(candles: pd.DataFrame, rule: RegimeRule = DEFAULT_RULE) -> pd.DataFrame:
    """The quantities the rule looks at: ``volatility``, ``vol_percentile``, ``trend_strength``."""
    log_close = np.log(candles["close"].astype("float64").reset_index(drop=True))
    log_ret = log_close.diff()
    vol = log_ret.rolling(rule.window, min_periods=rule.window).std(ddof=1)
    # Percentile rank among the trailing vol_lookback values. Early bars rank among what exists, but
    # at least `window` values: a rank among two or three values would call most early bars volatile.
    vol_pct = vol.rolling(rule.vol_lookback, min_periods=min(rule.window, rule.vol_lookback)).rank(pct=True)
    move = (log_close - log_close.shift(rule.window)).abs()
    denom = vol * np.sqrt(rule.window)
    trend = (move / denom.where(denom > 0)).where(vol.notna())
    # A flat stretch (zero volatility) has no trend to measure: score it 0 rather than NaN or inf.
    trend = trend.mask(vol.eq(0), 0.0)
    return pd.DataFrame({"volatility": vol, "vol_percentile": vol_pct, "trend_strength": trend})


def classify_regimes(candles: pd.DataFrame, rule: RegimeRule = DEFAULT_RULE) -> pd.Series:
    """The regime of every bar (index aligned to ``candles``), NaN during the warm-up."""
    ind = regime_indicators(candles, rule)
    labels = np.where(
        ind["vol_percentile"] >= rule.volatile_percentile,
        "volatile",
        np.where(ind["trend_strength"] >= rule.trend_threshold, "trending", "ranging"),
    ).astype(object)
    labels[ind["vol_percentile"].isna().to_numpy()] = np.nan
    return pd.Series(labels, index=candles.index, name="regime", dtype="str")

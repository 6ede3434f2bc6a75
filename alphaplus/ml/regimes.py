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
from functools import lru_cache

import numpy as np
import pandas as pd

from alphaplus.ml.dataflow import (
    NAN, Expr, Program, column, compile_program, eq, evaluate_frame, isnan, lag, log, rolling_rank_pct, rolling_std,
    where,
)

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


INDICATORS: tuple[str, ...] = ("volatility", "vol_percentile", "trend_strength")


def regime_expressions(rule: RegimeRule = DEFAULT_RULE) -> dict[str, Expr]:
    """The definition of the quantities the rule looks at, by name (``INDICATORS``)."""
    log_close = log(column("close"))
    log_ret = log_close - lag(log_close, 1)
    vol = rolling_std(log_ret, rule.window)
    # Percentile rank among the trailing vol_lookback values. Early bars rank among what exists, but
    # at least `window` values: a rank among two or three values would call most early bars volatile.
    vol_pct = rolling_rank_pct(vol, rule.vol_lookback, min_periods=min(rule.window, rule.vol_lookback))
    move = abs(log_close - lag(log_close, rule.window))
    denom = vol * float(np.sqrt(rule.window))
    trend = where(isnan(vol), NAN, move / where(denom > 0, denom, NAN))
    # A flat stretch (zero volatility) has no trend to measure: score it 0 rather than NaN or inf.
    trend = where(eq(vol, 0.0), 0.0, trend)
    return {"volatility": vol, "vol_percentile": vol_pct, "trend_strength": trend}


@lru_cache(maxsize=8)
def regime_program(rule: RegimeRule = DEFAULT_RULE) -> Program:
    """The rule's indicators as one program."""
    return compile_program(regime_expressions(rule))


def regime_indicators(candles: pd.DataFrame, rule: RegimeRule = DEFAULT_RULE) -> pd.DataFrame:
    """The quantities the rule looks at: ``volatility``, ``vol_percentile``, ``trend_strength``."""
    values = evaluate_frame(regime_program(rule), {"close": candles["close"].to_numpy(dtype=np.float64)})
    return pd.DataFrame(values, columns=list(INDICATORS))


def label_regimes(vol_percentile: np.ndarray, trend_strength: np.ndarray, rule: RegimeRule = DEFAULT_RULE) -> np.ndarray:
    """The rule's verdict per bar from its indicators: an object array of regime names, NaN where the
    volatility percentile is not defined yet."""
    vol_percentile = np.asarray(vol_percentile, dtype=np.float64)
    labels = np.where(
        vol_percentile >= rule.volatile_percentile,
        "volatile",
        np.where(np.asarray(trend_strength) >= rule.trend_threshold, "trending", "ranging"),
    ).astype(object)
    labels[np.isnan(vol_percentile)] = np.nan
    return labels


def classify_regimes(candles: pd.DataFrame, rule: RegimeRule = DEFAULT_RULE) -> pd.Series:
    """The regime of every bar (index aligned to ``candles``), NaN during the warm-up."""
    ind = regime_indicators(candles, rule)
    labels = label_regimes(ind["vol_percentile"].to_numpy(), ind["trend_strength"].to_numpy(), rule)
    return pd.Series(labels, index=candles.index, name="regime", dtype="str")

"""Training labels: the direction of the forward return over a horizon of bars."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

UP = 1
NOT_UP = 0
LABEL_NAMES: tuple[str, ...] = ("not_up", "up")


def forward_returns(candles: pd.DataFrame, horizon: int) -> pd.Series:
    """Simple return from the close of bar t to the close of bar t + horizon; NaN for the last bars."""
    if int(horizon) != horizon or horizon < 1:
        raise ValueError(f"horizon must be a positive number of bars, got {horizon}")
    close = candles["close"].astype("float64")
    future = close.shift(-int(horizon))
    return (future / close - 1.0).rename("forward_return")


def make_labels(candles: pd.DataFrame, horizon: int) -> pd.Series:
    """1.0 when the close ``horizon`` bars ahead is above this bar's close, else 0.0; NaN when unknown."""
    fwd = forward_returns(candles, horizon)
    # A flat outcome counts as "not up": a long signal on it earns nothing.
    labels = pd.Series(np.where(fwd > 0, float(UP), float(NOT_UP)), index=candles.index, name="label")
    return labels.where(fwd.notna())


def realized_label(entry_close: float, exit_close: float) -> int:
    """The label of a prediction once its outcome is known: 1 if the price went up, else 0."""
    entry, exit_ = float(entry_close), float(exit_close)
    if not (math.isfinite(entry) and math.isfinite(exit_)) or entry <= 0 or exit_ <= 0:
        raise ValueError(f"prices must be positive and finite, got entry={entry_close!r} exit={exit_close!r}")
    return UP if exit_ > entry else NOT_UP

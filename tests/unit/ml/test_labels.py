"""Labels: direction of the forward return, unknown at the end, and realised outcomes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from alphaplus.ml.labels import forward_returns, make_labels, realized_label


def frame(closes) -> pd.DataFrame:
    closes = np.asarray(closes, dtype=float)
    return pd.DataFrame(
        {
            "ts": pd.date_range("2024-01-01", periods=len(closes), freq="1h", tz="UTC"),
            "open": closes, "high": closes, "low": closes, "close": closes, "volume": 1.0,
        }
    )


def test_label_is_one_when_the_close_horizon_bars_ahead_is_higher():
    labels = make_labels(frame([10, 11, 12, 11, 10, 10]), horizon=2)
    assert labels.iloc[:4].tolist() == [1.0, 0.0, 0.0, 0.0]


def test_last_horizon_bars_are_unknown_not_zero():
    labels = make_labels(frame(range(1, 11)), horizon=3)
    assert labels.iloc[-3:].isna().all()
    assert labels.iloc[:-3].notna().all()
    assert labels.name == "label" and labels.dtype == np.float64


def test_flat_outcome_counts_as_not_up():
    assert make_labels(frame([5, 5]), horizon=1).iloc[0] == 0.0


def test_forward_returns_match_labels_and_the_index():
    candles = frame([100, 110, 99, 120]).set_index(pd.Index([7, 8, 9, 10]))
    fwd = forward_returns(candles, 1)
    assert fwd.index.equals(candles.index)
    assert fwd.iloc[0] == pytest.approx(0.1)
    labels = make_labels(candles, 1)
    assert ((fwd.iloc[:-1] > 0).astype(float) == labels.iloc[:-1]).all()


@pytest.mark.parametrize("horizon", [0, -1, 1.5])
def test_non_positive_or_fractional_horizon_is_rejected(horizon):
    with pytest.raises(ValueError, match="horizon"):
        make_labels(frame([1, 2, 3]), horizon)


def test_realized_label_is_one_only_for_a_rise():
    assert realized_label(100.0, 100.5) == 1
    assert realized_label(100.0, 100.0) == 0
    assert realized_label(100.0, 99.0) == 0


@pytest.mark.parametrize("entry,exit_", [(0.0, 1.0), (1.0, -1.0), (math.nan, 1.0), (1.0, math.inf)])
def test_realized_label_rejects_impossible_prices(entry, exit_):
    with pytest.raises(ValueError):
        realized_label(entry, exit_)

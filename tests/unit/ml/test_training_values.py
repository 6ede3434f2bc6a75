"""Training values are pinned: models were trained, and artifacts hashed, on features computed by the
pandas formulas of tests/pandas_reference.py; the shared definitions must give those values bit for bit
(a change would make reproductions of existing versions differ)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaplus.market.synth import synth_candles
from alphaplus.ml.features import DEFAULT_FEATURE_SPEC, FeatureSpec, build_features
from alphaplus.ml.regimes import RegimeRule, classify_regimes, regime_indicators
from tests.pandas_reference import pandas_features, pandas_indicators, pandas_regimes
from tests.series import SERIES


def identical(a: np.ndarray, b: np.ndarray) -> bool:
    """Bit for bit: equal with equal signs (0.0 is not -0.0), or NaN on both sides."""
    return a.shape == b.shape and bool(((a == b) & (np.signbit(a) == np.signbit(b)) | np.isnan(a) & np.isnan(b)).all())


SMALL_SPEC = FeatureSpec(return_windows=(2, 5), volatility_windows=(3, 10), ma_windows=(1, 5), rsi_window=4,
                         atr_window=3, volume_window=6, range_window=4)
SMALL_RULE = RegimeRule(window=5, vol_lookback=30)
CASES = [(kind, seed) for kind in sorted(SERIES) for seed in range(3)] + [("synthetic", 0)]


def candles_of(kind: str, seed: int) -> pd.DataFrame:
    return synth_candles(2_000, seed=11) if kind == "synthetic" else SERIES[kind](1_200, seed)


@pytest.mark.parametrize("kind,seed", CASES)
@pytest.mark.parametrize("spec", [DEFAULT_FEATURE_SPEC, SMALL_SPEC], ids=["default", "small"])
def test_training_features_are_bit_for_bit_the_pandas_formulas(kind, seed, spec):
    candles = candles_of(kind, seed)
    ours, theirs = build_features(candles, spec), pandas_features(candles, spec)
    assert list(ours.columns) == list(theirs.columns) and ours.index.equals(theirs.index)
    assert identical(ours.to_numpy(), theirs.to_numpy())


@pytest.mark.parametrize("kind,seed", CASES)
@pytest.mark.parametrize("rule", [RegimeRule(), SMALL_RULE], ids=["default", "small"])
def test_regime_indicators_and_labels_are_bit_for_bit_the_pandas_formulas(kind, seed, rule):
    candles = candles_of(kind, seed)
    assert identical(regime_indicators(candles, rule).to_numpy(), pandas_indicators(candles, rule).to_numpy())
    pd.testing.assert_series_equal(classify_regimes(candles, rule), pandas_regimes(candles, rule))

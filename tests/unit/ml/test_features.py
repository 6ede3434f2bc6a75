"""Features: causal, float64, the spec's names in order, canonical spec JSON for hashing."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from alphaplus.ml.features import DEFAULT_FEATURE_SPEC, FeatureSpec, build_features
from alphaplus.market.synth import synth_candles


@pytest.fixture(scope="module")
def candles() -> pd.DataFrame:
    return synth_candles(1_000, seed=31)


def test_feature_frame_has_the_spec_columns_as_float64(candles):
    features = build_features(candles, DEFAULT_FEATURE_SPEC)
    assert tuple(features.columns) == DEFAULT_FEATURE_SPEC.names
    assert 12 <= len(features.columns) <= 20
    assert (features.dtypes == np.float64).all()
    assert features.index.equals(candles.index)


def test_rows_after_the_warmup_are_complete_and_finite(candles):
    features = build_features(candles)
    warm = DEFAULT_FEATURE_SPEC.warmup_bars
    assert not features.iloc[warm - 1].notna().all()
    assert np.isfinite(features.iloc[warm:].to_numpy()).all()


def test_features_at_bar_t_do_not_change_when_later_bars_change(candles):
    t = 600
    altered = candles.copy()
    rng = np.random.default_rng(3)
    for col in ("open", "high", "low", "close", "volume"):
        altered.loc[altered.index[t + 1 :], col] *= rng.uniform(0.3, 3.0, len(altered) - t - 1)
    before = build_features(candles)
    after = build_features(altered)
    pd.testing.assert_frame_equal(before.iloc[: t + 1], after.iloc[: t + 1])
    assert not before.iloc[t + 1 :].equals(after.iloc[t + 1 :])


def test_features_of_a_prefix_equal_the_prefix_of_the_features(candles):
    whole = build_features(candles)
    prefix = build_features(candles.iloc[:300])
    pd.testing.assert_frame_equal(whole.iloc[:300], prefix)


def test_flat_zero_range_candles_give_finite_features():
    n = 120
    frame = pd.DataFrame(
        {
            "ts": pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC"),
            "open": 100.0, "high": 100.0, "low": 100.0, "close": 100.0, "volume": 5.0,
        }
    )
    features = build_features(frame).iloc[DEFAULT_FEATURE_SPEC.warmup_bars:]
    assert np.isfinite(features.to_numpy()).all()
    assert (features["rsi_14"] == 50.0).all()


def test_rsi_is_100_after_only_gains_and_0_after_only_losses():
    n = 60
    up = np.linspace(100, 160, n)
    ts = pd.date_range("2024-01-01", periods=n, freq="1h", tz="UTC")

    def frame(close):
        return pd.DataFrame({"ts": ts, "open": close, "high": close, "low": close, "close": close, "volume": 1.0})

    assert build_features(frame(up))["rsi_14"].iloc[-1] == pytest.approx(100.0)
    assert build_features(frame(up[::-1]))["rsi_14"].iloc[-1] == pytest.approx(0.0)


def test_spec_to_dict_is_canonical_json_and_round_trips():
    spec = FeatureSpec(return_windows=(1, 5), version="2")
    data = spec.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert FeatureSpec.from_dict(data) == spec
    assert spec.to_json() == FeatureSpec(return_windows=(1, 5), version="2").to_json()
    assert spec.to_json() != DEFAULT_FEATURE_SPEC.to_json()
    assert data["names"] == list(spec.names)


def test_a_different_spec_builds_its_own_columns(candles):
    spec = FeatureSpec(return_windows=(2,), volatility_windows=(10,), ma_windows=(5,))
    features = build_features(candles, spec)
    assert tuple(features.columns) == spec.names
    assert "vol_ratio" not in features.columns
    assert features.notna().all(axis=1).idxmax() == spec.warmup_bars


def test_spec_rejects_non_positive_windows():
    with pytest.raises(ValueError):
        FeatureSpec(return_windows=(0,))
    with pytest.raises(ValueError):
        FeatureSpec(volatility_windows=(1,))

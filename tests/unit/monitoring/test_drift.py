"""PSI drift: reference bins frozen at training time, compared against live values."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from alphaplus.monitoring.drift import (
    PsiCalibration,
    PsiResult,
    ReferenceBins,
    bin_counts,
    calibrate_threshold,
    feature_psi,
    max_psi,
    psi,
    psi_from_counts,
    reference_bins,
)
from alphaplus.core.errors import InvalidInput


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240601)


def test_psi_of_identical_distributions_is_near_zero(rng):
    ref = reference_bins(rng.normal(size=50_000))
    result = psi(ref, rng.normal(size=50_000))
    assert result.value is not None and result.value < 0.01
    assert result.n == 50_000 and "stable" in result.reason


def test_psi_of_a_clear_mean_shift_is_above_major_threshold(rng):
    ref = reference_bins(rng.normal(size=20_000))
    result = psi(ref, rng.normal(loc=1.0, size=5_000))
    assert result.value is not None and result.value > 0.25
    assert "major shift" in result.reason


def test_psi_of_a_variance_change_is_detected(rng):
    ref = reference_bins(rng.normal(size=20_000))
    result = psi(ref, rng.normal(scale=3.0, size=5_000))
    assert result.value is not None and result.value > 0.25


def test_psi_grows_with_the_size_of_the_shift(rng):
    ref = reference_bins(rng.normal(size=20_000))
    values = [psi(ref, rng.normal(loc=mu, size=10_000)).value for mu in (0.0, 0.25, 0.5, 1.0)]
    assert values == sorted(values)


def test_psi_is_none_below_the_minimum_sample_count(rng):
    ref = reference_bins(rng.normal(size=1_000))
    result = psi(ref, rng.normal(size=99), min_samples=100)
    assert result.value is None
    assert result.n == 99 and "only 99" in result.reason


def test_nan_and_infinite_live_values_are_ignored_and_counted(rng):
    ref = reference_bins(rng.normal(size=10_000))
    live = np.concatenate([rng.normal(size=1_000), [np.nan] * 30, [np.inf, -np.inf]])
    result = psi(ref, live)
    assert result.n == 1_000 and result.n_missing == 32
    assert result.value is not None and result.value < 0.05
    assert "32 missing" in result.reason


def test_nan_values_do_not_count_towards_the_minimum(rng):
    ref = reference_bins(rng.normal(size=1_000))
    result = psi(ref, np.concatenate([rng.normal(size=50), [np.nan] * 500]), min_samples=100)
    assert result.value is None and result.n == 50 and result.n_missing == 500


def test_reference_bins_leave_out_nan_training_values_and_count_them(rng):
    ref = reference_bins(np.concatenate([rng.normal(size=900), [np.nan] * 100]))
    assert ref.n == 900 and ref.n_missing == 100
    assert sum(ref.proportions) == pytest.approx(1.0)


def test_reference_bins_use_quantile_edges_with_open_outer_bins(rng):
    ref = reference_bins(rng.uniform(size=100_000), n_bins=10)
    assert ref.edges[0] == -math.inf and ref.edges[-1] == math.inf
    assert len(ref.proportions) == 10
    assert np.allclose(ref.proportions, 0.1, atol=0.002)
    assert np.allclose(ref.inner_edges, np.linspace(0.1, 0.9, 9), atol=0.01)


def test_tied_values_merge_bins_instead_of_creating_empty_ones(rng):
    values = np.concatenate([np.zeros(8_000), rng.normal(size=2_000)])  # 80% zeros
    ref = reference_bins(values, n_bins=10)
    assert len(set(ref.edges)) == len(ref.edges)
    assert len(ref.proportions) < 10
    assert min(ref.proportions) > 0.0
    live = np.concatenate([np.zeros(800), rng.normal(size=200)])
    assert psi(ref, live).value < 0.02


def test_a_constant_training_column_still_detects_any_change():
    ref = reference_bins(np.full(1_000, 3.0))
    assert ref.edges == (-math.inf, 3.0, math.inf)
    assert ref.proportions == (1.0, 0.0)
    assert psi(ref, np.full(500, 3.0)).value == pytest.approx(0.0)
    assert psi(ref, np.full(500, 4.0)).value > 0.25


def test_values_equal_to_an_edge_fall_in_the_bin_that_edge_closes():
    ref = ReferenceBins(edges=(-math.inf, 0.0, math.inf), proportions=(0.5, 0.5), n=2)
    assert list(ref.shares(np.array([0.0, 0.0, 1.0, 1.0]))) == [0.5, 0.5]


def test_an_empty_expected_bin_does_not_make_psi_infinite():
    ref = ReferenceBins(edges=(-math.inf, 0.0, 1.0, math.inf), proportions=(0.5, 0.5, 0.0), n=2)
    result = psi(ref, np.full(200, 5.0))
    assert result.value is not None and math.isfinite(result.value)


def test_reference_bins_round_trip_through_strict_json(rng):
    ref = reference_bins(rng.normal(size=5_000))
    text = json.dumps(ref.to_dict(), allow_nan=False)
    back = ReferenceBins.from_dict(json.loads(text))
    assert back == ref


def test_reference_bins_accept_null_outer_edges():
    back = ReferenceBins.from_dict({"edges": [None, 0.0, None], "proportions": [0.4, 0.6], "n": 10})
    assert back.edges == (-math.inf, 0.0, math.inf)


@pytest.mark.parametrize(
    "data",
    [
        {"edges": ["-inf", 1.0, 0.0, "inf"], "proportions": [0.3, 0.3, 0.4], "n": 1},
        {"edges": ["-inf", 0.0, "inf"], "proportions": [0.3, 0.3], "n": 1},
        {"edges": [0.0, 1.0, "inf"], "proportions": [0.5, 0.5], "n": 1},
        {"edges": ["-inf", None, 0.0, "inf"], "proportions": [0.3, 0.3, 0.4], "n": 1},
        {"proportions": [1.0], "n": 1},
    ],
)
def test_malformed_stored_bins_are_refused_with_a_clear_error(data):
    with pytest.raises(InvalidInput):
        ReferenceBins.from_dict(data)


def test_reference_bins_refuse_an_all_nan_column_and_too_few_bins():
    with pytest.raises(InvalidInput, match="no finite values"):
        reference_bins([np.nan, np.nan])
    with pytest.raises(InvalidInput, match="at least 2 bins"):
        reference_bins([1.0, 2.0], n_bins=1)


def test_non_numeric_values_are_refused():
    with pytest.raises(InvalidInput, match="numeric"):
        reference_bins(["a", "b"])


def test_feature_psi_covers_every_reference_feature_of_a_dataframe(rng):
    train = pd.DataFrame({"ret": rng.normal(size=5_000), "vol": rng.gamma(2.0, size=5_000)})
    refs = {col: reference_bins(train[col]) for col in train}
    live = pd.DataFrame({"ret": rng.normal(size=1_000), "vol": rng.gamma(2.0, size=1_000) + 2.0})
    results = feature_psi(refs, live)
    assert set(results) == {"ret", "vol"}
    assert results["ret"].value < 0.05
    assert results["vol"].value > 0.25
    assert max_psi(results) == ("vol", results["vol"].value)


def test_feature_psi_reports_a_missing_live_column_without_a_value(rng):
    refs = {"ret": reference_bins(rng.normal(size=1_000))}
    results = feature_psi(refs, {"other": rng.normal(size=1_000)})
    assert results["ret"].value is None and "absent" in results["ret"].reason


def test_feature_psi_handles_pandas_nullable_columns(rng):
    refs = {"x": reference_bins(rng.normal(size=1_000))}
    live = pd.DataFrame({"x": pd.array(list(rng.normal(size=300)) + [None] * 10, dtype="Float64")})
    result = feature_psi(refs, live)["x"]
    assert result.n == 300 and result.n_missing == 10


def test_max_psi_is_none_when_nothing_could_be_measured():
    assert max_psi({"a": PsiResult(value=None, n=3, n_missing=0, reason="too few")}) is None
    assert max_psi({}) is None


def test_psi_result_to_dict_is_strict_json(rng):
    ref = reference_bins(rng.normal(size=1_000))
    json.dumps(psi(ref, rng.normal(size=500)).to_dict(), allow_nan=False)
    json.dumps(psi(ref, rng.normal(size=5)).to_dict(), allow_nan=False)


def _random_walk_features(n: int, seed: int) -> pd.DataFrame:
    """Momentum and volatility over 20 bars of a random walk with constant volatility: nothing ever
    changes, but consecutive bars share 19 of their 20 returns."""
    r = pd.Series(np.random.default_rng(seed).standard_normal(n))
    return pd.DataFrame({"momentum": r.rolling(20).sum(), "volatility": r.rolling(20).std()}).dropna()


def test_serially_dependent_features_exceed_the_rule_of_thumb_but_not_their_calibrated_threshold():
    frame = _random_walk_features(40_000, seed=1)
    train, live = frame.iloc[:12_000], frame.iloc[12_000:]
    refs = {c: reference_bins(train[c]) for c in frame}
    calibration = calibrate_threshold(refs, train, window_bars=200)
    assert calibration is not None and calibration.windows == 60 and calibration.window_bars == 200
    windows = [live.iloc[i:i + 200] for i in range(0, len(live) - 199, 200)]
    worst = np.array([max(psi(refs[c], w[c]).value for c in frame) for w in windows])
    assert np.mean(worst > 0.25) > 0.5  # the fixed threshold cries drift on an unchanged market
    assert np.mean(worst > calibration.threshold) < 0.1
    shifted = live.iloc[:200].assign(volatility=live["volatility"].iloc[:200] * 1.6)
    assert max(psi(refs[c], shifted[c]).value for c in frame) > calibration.threshold


def test_too_few_training_rows_give_no_calibration_and_it_round_trips_through_json():
    frame = _random_walk_features(2_000, seed=2)
    refs = {c: reference_bins(frame[c]) for c in frame}
    assert calibrate_threshold(refs, frame.iloc[:300], window_bars=200) is None
    calibration = calibrate_threshold(refs, frame, window_bars=200)
    assert PsiCalibration.from_dict(json.loads(json.dumps(calibration.to_dict()))) == calibration
    assert PsiCalibration.from_dict(None) is None
    with pytest.raises(InvalidInput):
        PsiCalibration.from_dict({"window_bars": 200})


def test_psi_from_counts_equals_psi_of_the_values_and_counts_add_across_windows(rng):
    ref = reference_bins(rng.normal(size=10_000))
    a, b = rng.normal(0.5, size=300), rng.normal(0.5, size=200)
    pooled = [x + y for x, y in zip(bin_counts(ref, a), bin_counts(ref, b))]
    assert psi_from_counts(ref, pooled).value == pytest.approx(psi(ref, np.concatenate([a, b])).value)
    assert psi_from_counts(ref, bin_counts(ref, a), min_samples=400).value is None
    with pytest.raises(InvalidInput):
        psi_from_counts(ref, [1, 2, 3])

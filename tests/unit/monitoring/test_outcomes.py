"""Outcome resolution without a database: realized labels, window metrics, PSI and history records."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from alphaplus.monitoring.drift import reference_bins
from alphaplus.core.errors import InvalidInput
from alphaplus.ml.features import build_features
from alphaplus.ml.labels import make_labels
from alphaplus.market.synth import synth_candles
from alphaplus.monitoring.outcomes import (
    EVENT_COLUMNS,
    VersionContext,
    input_drift,
    latency_percentiles,
    one_per_bar,
    realized_labels,
    summarize_window,
    window_metrics,
)

UTC = timezone.utc
HORIZON = 12


@pytest.fixture(scope="module")
def candles() -> pd.DataFrame:
    return synth_candles(300, seed=11)


def test_realized_labels_equal_training_labels_where_the_horizon_has_matured(candles):
    bars = candles["ts"].iloc[[0, 50, 200, 287]]
    expected = make_labels(candles, HORIZON).iloc[[0, 50, 200, 287]].to_numpy()
    assert np.array_equal(realized_labels(bars, candles, HORIZON), expected)


def test_predictions_whose_horizon_has_not_matured_get_no_label(candles):
    last_bars = candles["ts"].iloc[-HORIZON:]
    assert np.isnan(realized_labels(last_bars, candles, HORIZON)).all()
    assert not np.isnan(realized_labels(candles["ts"].iloc[[-HORIZON - 1]], candles, HORIZON)).any()


def test_a_bar_absent_from_the_candles_gets_no_label(candles):
    between = [candles["ts"].iloc[10] + pd.Timedelta(minutes=30)]
    assert np.isnan(realized_labels(between, candles, HORIZON)).all()


def test_outcomes_count_candle_positions_across_gaps(candles):
    gappy = candles.drop(index=range(20, 25)).reset_index(drop=True)
    label = realized_labels([gappy["ts"].iloc[15]], gappy, 10)[0]
    assert label == float(gappy["close"].iloc[25] > gappy["close"].iloc[15])


def test_unsorted_candles_and_naive_timestamps_are_handled(candles):
    shuffled = candles.sample(frac=1.0, random_state=3)
    bars = candles["ts"].iloc[[5, 100]].dt.tz_convert(None)
    assert np.array_equal(realized_labels(bars, shuffled, HORIZON),
                          make_labels(candles, HORIZON).iloc[[5, 100]].to_numpy())


def test_window_metrics_from_confusion_counts():
    y_true = [1, 1, 1, 0, 0, 0, 0, 1]
    y_pred = [1, 1, 0, 0, 0, 1, 0, 1]
    m = window_metrics(y_true, y_pred, total_inferences=10, error_count=2, latencies_ms=[1.0] * 9 + [100.0])
    assert (m.n_samples, m.n_correct, m.true_positives, m.false_positives, m.false_negatives, m.true_negatives) == (
        8, 6, 3, 1, 1, 3)
    assert m.accuracy == pytest.approx(0.75)
    assert m.precision == pytest.approx(0.75) and m.recall == pytest.approx(0.75) and m.f1 == pytest.approx(0.75)
    assert m.error_rate == pytest.approx(0.2)
    assert m.latency_p50_ms == pytest.approx(1.0) and m.latency_p99_ms > 50


def test_a_window_without_matured_outcomes_has_no_quality_figures_but_keeps_error_rate():
    m = window_metrics([], [], total_inferences=4, error_count=1, latencies_ms=[2.0, 4.0])
    assert (m.n_samples, m.accuracy, m.f1) == (0, None, None)
    assert m.error_rate == pytest.approx(0.25) and m.latency_p50_ms == pytest.approx(3.0)


def test_window_metrics_refuse_immature_labels_and_impossible_counts():
    with pytest.raises(InvalidInput, match="matured outcomes only"):
        window_metrics([1.0, np.nan], [1, 0], total_inferences=2, error_count=0)
    with pytest.raises(InvalidInput, match="error_count"):
        window_metrics([], [], total_inferences=1, error_count=2)


def test_latency_percentiles_of_nothing_are_none():
    assert latency_percentiles([]) == (None, None, None)


def _context(features: pd.DataFrame, **kwargs) -> VersionContext:
    names = tuple(features.columns)
    refs = {n: reference_bins(features[n]).to_dict() for n in names}
    return VersionContext("m", 1, "trending", "BTCUSDT", timeframe="1h", label_horizon=HORIZON,
                          feature_names=names, psi_reference=refs, **kwargs)


def test_psi_is_near_zero_for_the_training_distribution_and_large_for_a_shift():
    features = build_features(synth_candles(3000, seed=5)).dropna()
    ctx = _context(features)
    same, worst = input_drift(ctx, features.to_numpy(dtype=np.float32).tolist())
    assert worst is not None and worst[1] < 0.01
    assert set(same) == set(features.columns)
    shifted = features.copy()
    shifted["rsi_14"] = shifted["rsi_14"] + 25.0
    drift, worst = input_drift(ctx, shifted.to_numpy().tolist())
    assert worst[0] == "rsi_14" and worst[1] > 0.25
    assert drift["rsi_14"]["value"] > 0.25 and drift["ret_1"]["value"] < 0.01


def test_psi_is_not_measured_on_too_few_values_or_without_a_reference():
    features = build_features(synth_candles(1000, seed=5)).dropna()
    drift, worst = input_drift(_context(features), features.head(20).to_numpy().tolist())
    assert worst is None and drift["ret_1"]["value"] is None
    assert input_drift(VersionContext("m", 1, "r", "s"), [[1.0]]) == ({}, None)


def test_a_window_is_summarized_per_version_and_source(candles):
    labels = make_labels(candles, HORIZON)
    features = build_features(candles).fillna(0.0)
    ctx = _context(features)
    rows = []
    for i in range(100, 120):  # matured: v1 right on 15 of 20
        truth = int(labels.iloc[i])
        rows.append(("m", 1, False, True, 1.0, candles["ts"].iloc[i], truth if i < 115 else 1 - truth,
                     features.iloc[i].tolist()))
    for i in range(len(candles) - 5, len(candles)):  # immature, and wrong if they counted
        rows.append(("m", 1, False, True, 1.0, candles["ts"].iloc[i], 1 - int(candles["close"].iloc[i] > 0),
                     features.iloc[i].tolist()))
    rows.append(("m", 1, False, False, 3.0, candles["ts"].iloc[130], None, None))
    rows.append(("m", 1, True, True, 2.0, candles["ts"].iloc[100], int(labels.iloc[100]), None))
    events = pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
    start = datetime(2025, 1, 1, tzinfo=UTC)
    records = summarize_window(events, {("m", 1): ctx}, {("BTCUSDT", "1h"): candles},
                               window_start=start, window_end=start + timedelta(hours=1), psi_window_bars=10)
    live, shadow = sorted(records, key=lambda r: r.source)
    assert (live.source, shadow.source) == ("live", "shadow")
    assert (live.metrics.n_samples, live.metrics.n_correct) == (20, 15)
    assert live.metrics.accuracy == pytest.approx(0.75)
    assert (live.metrics.total_inferences, live.metrics.error_count) == (26, 1)
    assert live.details["n_immature"] == 5 and live.details["n_unresolved"] == 0
    assert live.max_psi is not None and live.regime == "trending"
    assert (shadow.metrics.n_samples, shadow.metrics.accuracy, shadow.max_psi) == (1, 1.0, None)


def test_a_version_without_horizon_metadata_resolves_no_outcomes(candles):
    ctx = VersionContext("m", 1, "trending", "BTCUSDT")
    events = pd.DataFrame([("m", 1, False, True, 1.0, candles["ts"].iloc[10], 1, None)], columns=list(EVENT_COLUMNS))
    start = datetime(2025, 1, 1, tzinfo=UTC)
    (record,) = summarize_window(events, {("m", 1): ctx}, {}, window_start=start, window_end=start)
    assert record.metrics.n_samples == 0 and record.metrics.total_inferences == 1
    assert "lacks label_horizon" in record.details["outcomes"]


def test_without_a_window_start_each_record_starts_at_its_earliest_prediction(candles):
    ctx = VersionContext("m", 1, "trending", "BTCUSDT", timeframe="1h", label_horizon=HORIZON)
    first = datetime(2025, 1, 1, 9, 15, tzinfo=UTC)
    events = pd.DataFrame([("m", 1, False, True, 1.0, candles["ts"].iloc[i], 1, None, first + timedelta(minutes=i))
                           for i in (10, 11)], columns=[*EVENT_COLUMNS, "ts"])
    end = datetime(2025, 1, 2, tzinfo=UTC)
    (record,) = summarize_window(events, {("m", 1): ctx}, {("BTCUSDT", "1h"): candles}, window_start=None,
                                 window_end=end)
    assert (record.window_start, record.window_end) == (first + timedelta(minutes=10), end)


def _repeated_events(candles, labels, features, copies: int) -> pd.DataFrame:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    rows = []
    for i in range(100, 120):
        truth = int(labels.iloc[i])
        for k in range(copies):  # the first prediction of a bar is right, the repeats are wrong
            rows.append(("m", 1, False, True, 1.0, candles["ts"].iloc[i], truth if k == 0 else 1 - truth,
                         features.iloc[i].tolist(), start + timedelta(minutes=i - 100, milliseconds=k)))
    return pd.DataFrame(rows, columns=[*EVENT_COLUMNS, "ts"]).sample(frac=1.0, random_state=3)


def test_repeated_predictions_of_a_bar_count_once_with_the_first_prediction(candles):
    labels = make_labels(candles, HORIZON)
    features = build_features(candles).fillna(0.0)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    events = _repeated_events(candles, labels, features, copies=100)
    (record,) = summarize_window(events, {("m", 1): _context(features)}, {("BTCUSDT", "1h"): candles},
                                 window_start=start, window_end=start + timedelta(hours=1), psi_window_bars=10)
    assert (record.metrics.n_samples, record.metrics.n_correct) == (20, 20)
    assert record.metrics.total_inferences == 2_000  # every call still counts for the error rate
    assert record.details["n_repeated_predictions"] == 1_980 and record.details["psi_bars"] == 20
    assert sum(record.drift["ret_1"]["counts"]) == 20


def test_a_hundred_copies_of_one_bar_do_not_make_drift():
    features = build_features(synth_candles(3000, seed=5)).dropna()
    one_bar = [features.iloc[500].tolist()] * 100
    drift, worst = input_drift(_context(features), one_bar, min_samples=50)
    assert worst is not None and worst[1] > 5  # what counting every copy as a bar would conclude
    frame = pd.DataFrame({"bar_ts": [datetime(2025, 1, 1, tzinfo=UTC)] * 100, "x": range(100)})
    kept, repeats = one_per_bar(frame)
    assert (len(kept), repeats, int(kept["x"].iloc[0])) == (1, 99, 0)


def test_bars_predicted_before_the_window_are_left_to_their_earlier_window():
    frame = pd.DataFrame({"bar_ts": pd.to_datetime(["2025-01-01 00:00", "2025-01-01 01:00", None], utc=True),
                          "seen_before": [True, False, False]})
    kept, repeats = one_per_bar(frame)
    assert list(kept["bar_ts"].notna()) == [True, False] and repeats == 1


def test_psi_is_measured_over_earlier_windows_bars_once_there_are_enough():
    features = build_features(synth_candles(3000, seed=5)).dropna()
    ctx = _context(features)
    rows = features.iloc[:60].to_numpy().tolist()
    drift, worst = input_drift(ctx, rows, min_samples=200)
    assert worst is None and drift["ret_1"]["value"] is None and "only 60" in drift["ret_1"]["reason"]
    earlier, _ = input_drift(ctx, features.iloc[60:260].to_numpy().tolist(), min_samples=10)
    previous = {name: entry["counts"] for name, entry in earlier.items()}
    drift, worst = input_drift(ctx, rows, min_samples=200, previous=previous)
    assert worst is not None and drift["ret_1"]["n"] == 260
    assert drift["ret_1"]["counts"] == input_drift(ctx, rows, min_samples=1)[0]["ret_1"]["counts"]

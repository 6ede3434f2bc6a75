"""Training: purged time splits, deterministic LightGBM fits, the model bundle, real signal found."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaplus.ml.features import DEFAULT_FEATURE_SPEC, build_features
from alphaplus.ml.labels import make_labels
from alphaplus.market.synth import continue_candles, synth_candles
from alphaplus.ml.metrics import classification_metrics
from alphaplus.ml.regimes import classify_regimes
from alphaplus.ml.training import (
    DEFAULT_HYPERPARAMS,
    TrainedModel,
    bundle_model,
    predict_proba,
    time_split,
    train_classifier,
)

HORIZON = 12


def dataset(candles: pd.DataFrame, regime: str | None = None):
    X = build_features(candles)
    y = make_labels(candles, HORIZON)
    ok = X.notna().all(axis=1) & y.notna()
    if regime is not None:
        ok &= classify_regimes(candles) == regime
    return X[ok].reset_index(drop=True), y[ok].reset_index(drop=True)


@pytest.fixture(scope="module")
def trending_data():
    candles = synth_candles(8_000, seed=1)
    return candles, *dataset(candles, "trending")


def fit(X, y, seed=0, **kwargs):
    split = time_split(len(X), 0.6, 0.2, HORIZON)
    model = train_classifier(
        X.iloc[split.train], y.iloc[split.train], X.iloc[split.valid], y.iloc[split.valid], {}, seed, **kwargs
    )
    return split, bundle_model(model, DEFAULT_FEATURE_SPEC, horizon=HORIZON, hyperparams={}, seed=seed)


def test_split_parts_are_time_ordered_and_separated_by_the_purge_gap():
    split = time_split(1_000, 0.6, 0.2, purge=12)
    assert (split.train.start, split.train.stop) == (0, 600)
    assert (split.valid.start, split.valid.stop) == (612, 800)
    assert (split.holdout.start, split.holdout.stop) == (812, 1_000)
    assert split.sizes == (600, 188, 188)


def test_split_with_too_few_rows_or_bad_fractions_is_rejected():
    with pytest.raises(ValueError, match="too few"):
        time_split(30, 0.6, 0.2, purge=12)
    with pytest.raises(ValueError):
        time_split(1_000, 0.8, 0.3, purge=0)


def test_two_trainings_with_same_data_and_seed_give_the_same_model_text(trending_data):
    _, X, y = trending_data
    _, first = fit(X, y, seed=7)
    _, second = fit(X, y, seed=7)
    assert first.model.model_text == second.model.model_text
    assert first == second


def test_thread_count_does_not_change_the_trees(trending_data):
    _, X, y = trending_data
    _, one = fit(X, y, seed=7, n_jobs=1)
    _, two = fit(X, y, seed=7, n_jobs=2)
    # The model text also records num_threads among its parameters, so compare the trees themselves.
    assert one.model.booster_.dump_model()["tree_info"] == two.model.booster_.dump_model()["tree_info"]


def test_a_different_seed_gives_a_different_model(trending_data):
    _, X, y = trending_data
    _, a = fit(X, y, seed=1)
    _, b = fit(X, y, seed=2)
    assert a.model.booster_.model_to_string() != b.model.booster_.model_to_string()


def test_model_finds_the_trend_signal_on_holdout_and_loses_it_when_the_market_shifts(trending_data):
    candles, X, y = trending_data
    split, trained = fit(X, y)
    holdout = classification_metrics(y.iloc[split.holdout], predict_proba(trained, X.iloc[split.holdout]))
    X_new, y_new = dataset(continue_candles(candles, 4_000, seed=101), "trending")
    shifted = classification_metrics(y_new, predict_proba(trained, X_new))
    assert holdout["roc_auc"] > 0.6
    assert shifted["roc_auc"] < holdout["roc_auc"] - 0.05


def test_shuffled_labels_give_near_chance_holdout_accuracy(trending_data):
    _, X, y = trending_data
    shuffled = pd.Series(np.random.default_rng(0).permutation(y.to_numpy()))
    split, trained = fit(X, shuffled)
    metrics = classification_metrics(shuffled.iloc[split.holdout], predict_proba(trained, X.iloc[split.holdout]))
    assert 0.4 < metrics["roc_auc"] < 0.6


def test_the_bundle_predicts_exactly_what_the_fitted_lightgbm_classifier_predicts(trending_data):
    _, X, y = trending_data
    split = time_split(len(X), 0.6, 0.2, HORIZON)
    model = train_classifier(X.iloc[split.train], y.iloc[split.train], X.iloc[split.valid], y.iloc[split.valid],
                             {}, seed=5)
    trained = bundle_model(model, DEFAULT_FEATURE_SPEC, horizon=HORIZON, seed=5)
    assert isinstance(trained, TrainedModel)
    assert trained.label_mapping == {0: "not_up", 1: "up"}
    assert trained.feature_names == DEFAULT_FEATURE_SPEC.names
    assert trained.model.best_iteration == model.best_iteration_
    rows = X.iloc[split.holdout]
    np.testing.assert_array_equal(trained.model.predict_proba(rows), model.predict_proba(rows))


def test_predict_proba_matches_columns_by_name_and_names_missing_ones(trending_data):
    _, X, y = trending_data
    _, trained = fit(X, y)
    rows = X.iloc[:50]
    reordered = rows[list(reversed(rows.columns))].assign(extra=1.0)
    proba = predict_proba(trained, reordered)
    np.testing.assert_array_equal(proba, predict_proba(trained, rows))
    assert proba.dtype == np.float64 and ((proba >= 0) & (proba <= 1)).all()
    with pytest.raises(ValueError, match="rsi_14"):
        predict_proba(trained, rows.drop(columns=["rsi_14"]))


def test_caller_params_cannot_switch_off_determinism(trending_data):
    _, X, y = trending_data
    split = time_split(len(X), 0.6, 0.2, HORIZON)
    model = train_classifier(
        X.iloc[split.train], y.iloc[split.train], X.iloc[split.valid], y.iloc[split.valid],
        {"deterministic": False, "n_estimators": 20, "random_state": 99}, seed=3,
    )
    params = model.get_params()
    assert params["deterministic"] is True and params["random_state"] == 3
    assert params["n_estimators"] == 20
    assert "n_estimators" in DEFAULT_HYPERPARAMS


def test_training_rejects_unknown_labels_and_single_class_data(trending_data):
    _, X, y = trending_data
    with_nan = y.astype(float).copy()
    with_nan.iloc[0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        train_classifier(X, with_nan, X, y)
    with pytest.raises(ValueError, match="single class"):
        train_classifier(X, pd.Series(np.ones(len(X))), X, y)
    with pytest.raises(ValueError, match="rows"):
        train_classifier(X, y.iloc[:-1], X, y)

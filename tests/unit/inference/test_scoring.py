"""Serving scores with LightGBM's Booster entry points and gets exactly what training-time scoring gets."""

from __future__ import annotations

import numpy as np

from alphaplus.inference.scoring import scorer_for
from alphaplus.ml.features import DEFAULT_FEATURE_SPEC
from alphaplus.ml.training import bundle_model, predict_proba, train_classifier
from tests.db.trained_versions import train_small, training_frame


def test_one_row_and_stacked_rows_score_exactly_as_predict_proba():
    trained, X, _ = train_small(5, n_estimators=40)
    expected = predict_proba(trained, X)
    scorer = scorer_for(trained)
    rows = X[list(trained.feature_names)].to_numpy()
    assert np.array_equal(scorer.many(rows), expected)
    assert np.array_equal(np.array([scorer.one(r) for r in rows[:300]]), expected[:300])


def test_a_model_stopped_early_is_scored_at_its_best_iteration():
    X, y = training_frame(3)
    model = train_classifier(X.iloc[:1200], y.iloc[:1200], X.iloc[1200:1800], y.iloc[1200:1800],
                             {"n_estimators": 300, "learning_rate": 0.05}, 0, n_jobs=1, early_stopping_rounds=20)
    trained = bundle_model(model, DEFAULT_FEATURE_SPEC, horizon=12)
    assert 0 < model.booster_.best_iteration < 300, "the fixture must stop early"
    scorer = scorer_for(trained)
    rows = X.iloc[1800:][list(trained.feature_names)].to_numpy()
    assert np.array_equal(scorer.many(rows), predict_proba(trained, X.iloc[1800:]))
    assert scorer.one(rows[0]) == predict_proba(trained, X.iloc[[1800]])[0]


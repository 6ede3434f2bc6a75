"""Metrics: plain JSON-safe floats, one-class safety, the documented signal P&L, correctness vectors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from alphaplus.ml.metrics import classification_metrics, correct_vector, signal_pnl


def test_metrics_of_a_known_case():
    y = [1, 0, 1, 1, 0]
    p = [0.9, 0.2, 0.4, 0.7, 0.6]
    m = classification_metrics(y, p)
    assert m["n"] == 5
    assert m["accuracy"] == pytest.approx(0.6)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)
    assert m["roc_auc"] == pytest.approx(5 / 6)
    assert m["class_balance"] == pytest.approx(0.6)
    assert m["log_loss"] > 0


def test_metrics_dict_is_json_safe_plain_python():
    rng = np.random.default_rng(0)
    m = classification_metrics(rng.integers(0, 2, 100), rng.random(100), forward_returns=rng.normal(0, 0.01, 100))
    assert json.loads(json.dumps(m, allow_nan=False)) == m
    assert all(v is None or type(v) in (int, float) for v in m.values())


def test_roc_auc_is_none_and_log_loss_finite_when_only_one_class_is_present():
    m = classification_metrics([1, 1, 1], [0.9, 1.0, 0.0])
    assert m["roc_auc"] is None
    assert m["log_loss"] is not None and np.isfinite(m["log_loss"])
    assert m["class_balance"] == 1.0


def test_threshold_decides_positive_predictions():
    y, p = [1, 0], [0.55, 0.45]
    assert classification_metrics(y, p, threshold=0.5)["accuracy"] == 1.0
    assert classification_metrics(y, p, threshold=0.6)["accuracy"] == 0.5


def test_signal_is_long_above_threshold_and_flat_otherwise():
    pnl = signal_pnl([0.8, 0.3, 0.6], [0.02, 0.05, -0.01])
    assert pnl["signal_pnl"] == pytest.approx(0.01)
    assert pnl["signal_trades"] == 2
    assert pnl["signal_exposure"] == pytest.approx(2 / 3)
    assert pnl["signal_hit_rate"] == pytest.approx(0.5)
    assert pnl["buy_and_hold_pnl"] == pytest.approx(0.06)


def test_short_below_makes_low_probabilities_short():
    pnl = signal_pnl([0.8, 0.3, 0.45], [0.02, -0.05, 0.01], short_below=0.4)
    assert pnl["signal_pnl"] == pytest.approx(0.02 + 0.05)


def test_unknown_forward_returns_are_skipped_in_the_pnl():
    m = classification_metrics([1, 0, 1], [0.9, 0.1, 0.9], forward_returns=[0.01, np.nan, np.nan])
    assert m["signal_pnl"] == pytest.approx(0.01)
    assert m["signal_trades"] == 1


def test_mismatched_or_empty_inputs_are_rejected():
    with pytest.raises(ValueError):
        classification_metrics([1, 0], [0.5])
    with pytest.raises(ValueError):
        classification_metrics([], [])
    with pytest.raises(ValueError):
        classification_metrics([1, np.nan], [0.5, 0.5])


def test_correct_vector_marks_each_sample():
    assert correct_vector([1, 0, 1, 0], [1, 1, 0, 0]).tolist() == [True, False, False, True]
    assert correct_vector(np.array([1.0, 0.0]), [1, 0]).dtype == bool
    with pytest.raises(ValueError):
        correct_vector([1, 0], [1])

"""Promotion gate: skill over no-skill references, the champion test, sample minimums in outcomes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from alphaplus.core.errors import InvalidInput
from alphaplus.core.settings import Settings
from alphaplus.promotion.config import gate_policy
from alphaplus.promotion.gate import Evaluation, GatePolicy, decide_promotion, unscored

H = 12
N = 1200  # 100 independent 12-bar outcomes
FAST = GatePolicy(bootstrap_reps=299)


def market(n: int = N, seed: int = 0, drift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Overlapping 12-bar direction labels of a random walk, and each row's standardised future move."""
    steps = np.random.default_rng(seed).standard_normal(n + H) + drift
    path = np.concatenate([[0.0], np.cumsum(steps)])
    move = (path[H : H + n] - path[:n]) / np.sqrt(H)
    return (move > 0).astype(int), move


def skilled(move: np.ndarray, strength: float = 1.0, seed: int = 1) -> np.ndarray:
    """Probabilities that know part of the future move (a real edge)."""
    noise = np.random.default_rng(seed).standard_normal(len(move))
    return 1 / (1 + np.exp(-(strength * move + noise)))


def evaluation(y: np.ndarray, p, prior: float = 0.5, **kw) -> Evaluation:
    return Evaluation(y=y, proba=np.broadcast_to(np.asarray(p, dtype=float), y.shape), horizon=H,
                      training_prior=prior, **kw)


# --- one source of defaults ----------------------------------------------------------------------


def test_gate_policy_defaults_are_the_settings_defaults(monkeypatch):
    for key in list(__import__("os").environ):
        if key.upper().startswith("ALPHAPLUS_GATE_"):
            monkeypatch.delenv(key)
    assert GatePolicy() == gate_policy(Settings())


def test_a_setting_from_the_environment_reaches_the_policy(monkeypatch):
    monkeypatch.setenv("ALPHAPLUS_GATE_MIN_OUTCOMES", "77")
    monkeypatch.setenv("ALPHAPLUS_GATE_MIN_ROC_AUC", "0.55")
    policy = gate_policy(Settings())
    assert policy.min_outcomes == 77 and dict(policy.floors) == {"roc_auc": 0.55}


def test_invalid_policy_values_are_refused_with_their_name():
    with pytest.raises(InvalidInput, match="skill metric"):
        GatePolicy(skill_metric="accuracy")
    with pytest.raises(InvalidInput, match="resampling"):
        GatePolicy(resampling="jackknife")
    with pytest.raises(InvalidInput, match="alpha"):
        GatePolicy(alpha=0.7)


# --- sample minimum in independent outcomes -------------------------------------------------------


def test_too_few_independent_outcomes_need_review_whatever_the_rows_say():
    y, move = market(n=300)  # 300 rows, but only 25 independent 12-bar outcomes
    d = decide_promotion(evaluation(y, skilled(move, 5.0)), None, FAST)
    assert d.outcome == "needs_review"
    assert "300 unseen rows = 25 independent 12-bar outcomes" in d.reasons[0] and "30 needed" in d.reasons[0]


def test_an_unscored_decision_needs_review_and_says_why():
    d = unscored("no rows are unseen by v3", has_champion=True)
    assert (d.outcome, d.reasons, d.n, d.tests) == ("needs_review", ("no rows are unseen by v3",), 0, ())


# --- skill over the no-skill references ---------------------------------------------------------


def test_a_first_model_with_a_real_edge_is_promoted_with_its_evidence():
    y, move = market(seed=2)
    d = decide_promotion(evaluation(y, skilled(move)), None, FAST)
    assert d.outcome == "promote", d.reasons
    assert d.reasons[0].startswith("no champion yet; beats the no-skill references")
    assert "1200 unseen rows = 100 independent 12-bar outcomes, effective n" in d.reasons[-1]
    assert {t.name for t in d.tests} >= {"ROC AUC above 0.5", "accuracy above always up"}
    assert d.decisive is not None and d.decisive.significant and d.n_effective < N


def test_a_model_that_always_says_up_does_not_beat_always_up_and_is_rejected():
    y, _ = market(seed=3, drift=0.05)
    d = decide_promotion(evaluation(y, 0.9, prior=0.56), None, FAST)
    assert d.outcome == "reject"
    text = " ".join(d.reasons)
    assert "does not beat always up: accuracy" in text and "no ranking skill" in text


def test_a_model_worse_than_always_up_in_a_rising_market_is_rejected_with_both_accuracies():
    y, move = market(seed=4, drift=0.08)
    # Ranks a little, but says "down" far too often: accuracy below always-up's.
    p = 1 / (1 + np.exp(-(0.3 * move - 0.6 + np.random.default_rng(0).standard_normal(N))))
    d = decide_promotion(evaluation(y, p, prior=0.56), None, FAST)
    assert d.outcome == "reject"
    line = next(r for r in d.reasons if "always up" in r)
    ours, theirs = (np.mean((p > 0.5) == y), np.mean(y == 1))
    assert f"accuracy {ours:.3f} vs {theirs:.3f}" in line


def test_noise_has_no_ranking_skill_and_is_rejected():
    y, _ = market(seed=5)
    noise = np.random.default_rng(9).random(N)
    d = decide_promotion(evaluation(y, noise), None, FAST)
    assert d.outcome == "reject"
    assert any(r.startswith("no ranking skill: ROC AUC") for r in d.reasons)


def test_an_overconfident_model_with_log_loss_worse_than_the_prior_is_rejected():
    y, move = market(seed=6)
    p = np.where(skilled(move, 0.6) > 0.5, 0.999, 0.001)  # right more often than not, but certain
    d = decide_promotion(evaluation(y, p), None, FAST)
    assert d.outcome == "reject"
    assert any("the training prior (0.500 up): log loss" in r for r in d.reasons)


def test_the_significant_skill_rule_asks_more_than_the_positive_one():
    y, move = market(seed=7)
    p = skilled(move, 0.35)
    positive = decide_promotion(evaluation(y, p), None, FAST)
    strict = decide_promotion(evaluation(y, p), None, GatePolicy(bootstrap_reps=299, skill_rule="significant"))
    skill = next(t for t in positive.tests if "training prior" in t.name)
    assert skill.estimate > 0 and not skill.significant
    assert positive.outcome != strict.outcome == "reject"


def test_walk_forward_folds_reject_an_edge_found_in_one_stretch_only():
    y, move = market(seed=8)
    p = skilled(move, 3.0)
    p[N // 3 :] = 0.3  # after the first third: always "down"
    d = decide_promotion(evaluation(y, p), None, GatePolicy(bootstrap_reps=299, walk_forward_folds=3))
    assert d.outcome == "reject"
    assert any(r.startswith("walk-forward: beats the best constant predictor in 1 of 3") for r in d.reasons)


def test_an_optional_floor_rejects_by_name():
    y, move = market(seed=2)
    d = decide_promotion(evaluation(y, skilled(move)), None, GatePolicy(bootstrap_reps=299, floors={"roc_auc": 0.99}))
    assert d.outcome == "reject" and "roc_auc" in d.reasons[0] and "0.990" in d.reasons[0]


def test_a_floor_missed_by_a_hair_prints_two_different_numbers():
    y, move = market(seed=2)
    ev = evaluation(y, skilled(move))
    auc = ev.metrics["roc_auc"]
    d = decide_promotion(ev, None, GatePolicy(bootstrap_reps=299, floors={"roc_auc": auc + 0.0003}))
    shown = d.reasons[0].removeprefix("roc_auc ").split(" is below the floor of ")
    assert d.outcome == "reject" and len(shown) == 2 and shown[0] != shown[1]
    assert float(shown[0]) < float(shown[1])


# --- the champion -----------------------------------------------------------------------------------


def test_a_clearly_better_challenger_replaces_the_champion():
    y, move = market(seed=10)
    d = decide_promotion(evaluation(y, skilled(move, 3.0)), evaluation(y, skilled(move, 0.5, seed=2)), FAST)
    assert d.outcome == "promote", d.reasons
    assert d.decisive.name == "accuracy better than the champion's" and d.decisive.significant
    assert d.deltas["accuracy"] > 0


def test_a_challenger_the_champion_clearly_beats_is_rejected():
    y, move = market(seed=11)
    d = decide_promotion(evaluation(y, skilled(move, 0.8)), evaluation(y, skilled(move, 4.0, seed=2)),
                         GatePolicy(bootstrap_reps=299, max_degradation=1.0))
    assert d.outcome == "reject"
    assert d.reasons[0].startswith("the champion is significantly better: accuracy")


def test_an_improvement_the_test_cannot_confirm_goes_to_review():
    y, move = market(seed=12)
    champion = skilled(move, 1.0, seed=3)
    challenger = np.clip(champion + np.random.default_rng(4).normal(0, 0.01, N), 0, 1)
    d = decide_promotion(evaluation(y, challenger), evaluation(y, champion), FAST)
    if d.deltas["accuracy"] > 0:
        assert d.outcome == "needs_review" and "is not a significant improvement" in d.reasons[0]
    else:
        assert d.outcome == "reject" and "the champion stays" in d.reasons[0]


def test_with_a_loss_as_primary_metric_a_lower_loss_is_the_improvement():
    y, move = market(seed=17)
    d = decide_promotion(evaluation(y, skilled(move, 3.0)), evaluation(y, skilled(move, 0.5, seed=2)),
                         GatePolicy(bootstrap_reps=299, primary_metric="log_loss"))
    assert d.relative_improvement > 0 and d.deltas["log_loss"] < 0
    assert d.outcome == "promote", d.reasons
    assert d.decisive.name == "log_loss better than the champion's"


def test_a_challenger_losing_more_auc_than_allowed_is_rejected():
    y, move = market(seed=13)
    d = decide_promotion(evaluation(y, skilled(move, 1.0)), evaluation(y, skilled(move, 3.0, seed=5)),
                         GatePolicy(bootstrap_reps=299, max_degradation=0.01))
    assert d.outcome == "reject"
    assert any(r.startswith("roc_auc fell from") for r in d.reasons)


def test_models_scored_on_different_windows_are_refused():
    y, move = market(seed=14)
    other, _ = market(seed=15)
    with pytest.raises(InvalidInput, match="same unseen window"):
        decide_promotion(evaluation(y, skilled(move)), evaluation(other, skilled(move)), FAST)


# --- records ------------------------------------------------------------------------------------


def test_a_decision_is_reproducible_and_json_safe():
    y, move = market(seed=16)
    ch, cp = evaluation(y, skilled(move, 2.0)), evaluation(y, skilled(move, 1.0, seed=7))
    a, b = decide_promotion(ch, cp, FAST), decide_promotion(ch, cp, FAST)
    assert a.to_dict() == b.to_dict()
    record = json.loads(json.dumps(a.to_dict(), allow_nan=False))
    assert record["n_outcomes"] == 100 and record["resampling"]["method"] == "stationary"
    assert {t["name"] for t in record["tests"]} >= {"ROC AUC above 0.5", "accuracy better than the champion's"}


def test_evaluations_refuse_probabilities_outside_zero_and_one():
    with pytest.raises(InvalidInput, match="probabilities"):
        Evaluation(y=[0, 1], proba=[0.2, 1.2], horizon=1, training_prior=0.5)

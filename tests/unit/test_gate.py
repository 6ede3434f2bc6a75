"""Promotion gate: each rule on its own, then the order in which they apply."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from alphaplus.core.errors import InvalidInput
from alphaplus.promotion.gate import Evaluation, GatePolicy, decide_promotion, mcnemar_exact

N = 1000


def paired(n: int = N, *, both: int, only_challenger: int, only_champion: int) -> tuple[np.ndarray, np.ndarray]:
    """Correctness vectors with exact concordant / discordant counts."""
    ch = np.zeros(n, dtype=bool)
    cp = np.zeros(n, dtype=bool)
    ch[:both] = cp[:both] = True
    ch[both : both + only_challenger] = True
    cp[both + only_challenger : both + only_challenger + only_champion] = True
    return ch, cp


def metrics(f1: float, roc_auc: float = 0.60, accuracy: float = 0.60, **more: float) -> dict[str, float]:
    return {"f1": f1, "roc_auc": roc_auc, "accuracy": accuracy, **more}


def clearly_better() -> tuple[Evaluation, Evaluation]:
    ch, cp = paired(both=500, only_challenger=120, only_champion=60)
    return (
        Evaluation(metrics=metrics(0.62, accuracy=0.62), correct=ch),
        Evaluation(metrics=metrics(0.56, accuracy=0.56), correct=cp),
    )


# --- McNemar -----------------------------------------------------------------------------------


def test_mcnemar_counts_discordant_pairs_in_each_direction():
    a = [True, True, False, False, True]
    b = [True, False, True, False, False]
    b_count, c_count, p = mcnemar_exact(a, b)
    assert (b_count, c_count) == (2, 1)
    assert 0.0 < p <= 1.0


def test_mcnemar_without_discordant_pairs_has_p_value_one():
    assert mcnemar_exact([True, False], [True, False]) == (0, 0, 1.0)


def test_mcnemar_matches_the_exact_binomial_tail():
    # 10 vs 0 discordant: two-sided p = 2 * 0.5**10.
    ch, cp = paired(100, both=50, only_challenger=10, only_champion=0)
    _, _, p = mcnemar_exact(ch, cp)
    assert p == pytest.approx(2 * 0.5**10)


def test_mcnemar_refuses_vectors_of_different_length():
    with pytest.raises(InvalidInput, match="same length"):
        mcnemar_exact([True, False], [True])


# --- rule 1: sample minimum --------------------------------------------------------------------


def test_too_few_evaluation_samples_needs_review_even_for_a_great_model():
    ch, cp = paired(150, both=100, only_challenger=40, only_champion=0)
    d = decide_promotion(
        Evaluation(metrics=metrics(0.9), correct=ch), Evaluation(metrics=metrics(0.5), correct=cp), GatePolicy()
    )
    assert d.outcome == "needs_review"
    assert "150" in d.reasons[0] and "200" in d.reasons[0]


def test_too_few_samples_needs_review_for_the_first_model_of_a_slot():
    d = decide_promotion(Evaluation(metrics=metrics(0.9), n=50), None)
    assert d.outcome == "needs_review"


# --- rule 2: floors ----------------------------------------------------------------------------


@pytest.mark.parametrize("metric,value", [("f1", 0.44), ("roc_auc", 0.49)])
def test_a_missed_floor_rejects_the_first_model(metric, value):
    m = metrics(0.60)
    m[metric] = value
    d = decide_promotion(Evaluation(metrics=m, n=N), None)
    assert d.outcome == "reject"
    assert any(metric in r and "below the floor" in r for r in d.reasons)


def test_a_missed_floor_rejects_even_a_challenger_far_better_than_the_champion():
    ch, cp = paired(both=300, only_challenger=200, only_champion=0)
    d = decide_promotion(
        Evaluation(metrics=metrics(0.40), correct=ch), Evaluation(metrics=metrics(0.20), correct=cp)
    )
    assert d.outcome == "reject"


def test_a_missing_or_nan_floor_metric_rejects():
    assert decide_promotion(Evaluation(metrics={"f1": 0.6}, n=N), None).outcome == "reject"
    d = decide_promotion(Evaluation(metrics=metrics(0.6, roc_auc=math.nan), n=N), None)
    assert d.outcome == "reject"


def test_first_model_meeting_every_floor_is_promoted():
    d = decide_promotion(Evaluation(metrics=metrics(0.50), n=N), None)
    assert d.outcome == "promote"
    assert d.promoted and not d.has_champion
    assert d.mcnemar is None and d.relative_improvement is None


def test_floors_come_from_the_policy():
    policy = GatePolicy(floors={"f1": 0.70})
    assert decide_promotion(Evaluation(metrics=metrics(0.65), n=N), None, policy).outcome == "reject"


# --- rule 4: degradation -----------------------------------------------------------------------


def test_a_secondary_metric_degrading_beyond_tolerance_rejects():
    ch, cp = clearly_better()
    challenger = Evaluation(metrics=metrics(0.62, roc_auc=0.57), correct=ch.correct)
    champion = Evaluation(metrics=metrics(0.56, roc_auc=0.60), correct=cp.correct)
    d = decide_promotion(challenger, champion)
    assert d.outcome == "reject"
    assert any("roc_auc fell from 0.600 to 0.570" in r for r in d.reasons)
    assert d.deltas["roc_auc"] == pytest.approx(-0.03)


def test_a_secondary_metric_degrading_within_tolerance_is_allowed():
    ch, cp = clearly_better()
    challenger = Evaluation(metrics=metrics(0.62, roc_auc=0.585), correct=ch.correct)
    champion = Evaluation(metrics=metrics(0.56, roc_auc=0.60), correct=cp.correct)
    assert decide_promotion(challenger, champion).outcome == "promote"


def test_per_metric_tolerance_overrides_the_default():
    ch, cp = clearly_better()
    challenger = Evaluation(metrics=metrics(0.62, roc_auc=0.585), correct=ch.correct)
    champion = Evaluation(metrics=metrics(0.56, roc_auc=0.60), correct=cp.correct)
    policy = GatePolicy(max_degradation_by_metric={"roc_auc": 0.005})
    assert decide_promotion(challenger, champion, policy).outcome == "reject"


def test_a_metric_that_is_nan_for_the_champion_is_skipped_and_named():
    ch, cp = clearly_better()
    challenger = Evaluation(metrics=metrics(0.62, precision=0.6), correct=ch.correct)
    champion = Evaluation(metrics=metrics(0.56, precision=math.nan), correct=cp.correct)
    d = decide_promotion(challenger, champion)
    assert d.outcome == "promote"
    assert any("precision could not be compared" in r for r in d.reasons)


# --- rule 5: significantly worse ---------------------------------------------------------------


def test_a_challenger_significantly_less_often_right_is_rejected():
    # Metrics claim an f1 gain, but the paired rows say the challenger is worse.
    ch, cp = paired(both=500, only_challenger=40, only_champion=100)
    d = decide_promotion(
        Evaluation(metrics=metrics(0.60), correct=ch), Evaluation(metrics=metrics(0.58), correct=cp)
    )
    assert d.outcome == "reject"
    assert d.mcnemar is not None and d.mcnemar.p_value < 0.05
    assert any("significantly less often right" in r for r in d.reasons)


# --- rule 6: minimum improvement ---------------------------------------------------------------


def test_a_challenger_whose_primary_metric_is_lower_is_rejected():
    ch, cp = paired(both=500, only_challenger=50, only_champion=50)
    d = decide_promotion(
        Evaluation(metrics=metrics(0.575), correct=ch), Evaluation(metrics=metrics(0.58), correct=cp)
    )
    assert d.outcome == "reject"
    assert any("champion stays" in r for r in d.reasons)


def test_an_improvement_below_the_required_minimum_is_rejected():
    ch, cp = clearly_better()
    policy = GatePolicy(min_improvement=0.20)  # +10.7% achieved
    d = decide_promotion(ch, cp, policy)
    assert d.outcome == "reject"
    assert d.relative_improvement == pytest.approx(0.06 / 0.56)


# --- rule 7: significance ----------------------------------------------------------------------


def test_an_improvement_that_is_not_significant_needs_review_by_default():
    ch, cp = paired(both=500, only_challenger=55, only_champion=50)
    d = decide_promotion(
        Evaluation(metrics=metrics(0.60), correct=ch), Evaluation(metrics=metrics(0.58), correct=cp)
    )
    assert d.outcome == "needs_review"
    assert d.mcnemar is not None and d.mcnemar.p_value >= 0.05
    assert any("not below 0.05" in r for r in d.reasons)


@pytest.mark.parametrize("choice", ["promote", "reject"])
def test_what_an_insignificant_improvement_leads_to_is_a_policy_choice(choice):
    ch, cp = paired(both=500, only_challenger=55, only_champion=50)
    d = decide_promotion(
        Evaluation(metrics=metrics(0.60), correct=ch),
        Evaluation(metrics=metrics(0.58), correct=cp),
        GatePolicy(on_insignificant=choice),
    )
    assert d.outcome == choice


def test_without_per_sample_correctness_significance_is_untestable_and_needs_review():
    d = decide_promotion(Evaluation(metrics=metrics(0.62), n=N), Evaluation(metrics=metrics(0.56), n=N))
    assert d.outcome == "needs_review"
    assert d.mcnemar is None
    assert any("could not be tested" in r for r in d.reasons)


# --- rule 8 and reporting ----------------------------------------------------------------------


def test_a_significantly_better_challenger_with_no_degradation_is_promoted():
    ch, cp = clearly_better()
    d = decide_promotion(ch, cp)
    assert d.outcome == "promote"
    assert d.mcnemar is not None
    assert (d.mcnemar.b, d.mcnemar.c, d.mcnemar.statistic) == (120, 60, 60)
    assert d.mcnemar.p_value < 0.001
    assert d.deltas["f1"] == pytest.approx(0.06)


def test_decision_to_dict_is_strict_json():
    ch, cp = clearly_better()
    champion = Evaluation(metrics={**cp.metrics, "precision": 0.0}, correct=cp.correct)
    challenger = Evaluation(metrics={**ch.metrics, "precision": math.inf}, correct=ch.correct)
    d = decide_promotion(challenger, champion)
    text = json.dumps(d.to_dict(), allow_nan=False)
    back = json.loads(text)
    assert back["outcome"] == d.outcome
    assert back["mcnemar"]["b"] == 120
    assert back["policy"]["floors"] == {"f1": 0.45, "roc_auc": 0.50}


def test_models_scored_on_different_windows_are_refused():
    with pytest.raises(InvalidInput, match="same out-of-sample window"):
        decide_promotion(Evaluation(metrics=metrics(0.6), n=500), Evaluation(metrics=metrics(0.6), n=400))
    with pytest.raises(InvalidInput, match="same out-of-sample window"):
        decide_promotion(
            Evaluation(metrics=metrics(0.6), n=500, window="a"), Evaluation(metrics=metrics(0.6), n=500, window="b")
        )


def test_evaluation_needs_a_consistent_sample_count():
    with pytest.raises(InvalidInput):
        Evaluation(metrics={}, correct=[True, False], n=3)
    with pytest.raises(InvalidInput):
        Evaluation(metrics={})


def test_evaluation_freezes_its_inputs():
    src = {"f1": 0.6}
    correct = np.array([True, False])
    e = Evaluation(metrics=src, correct=correct)
    src["f1"] = 0.1
    correct[0] = False
    assert e.metrics["f1"] == 0.6 and bool(e.correct[0]) is True
    with pytest.raises(TypeError):
        e.metrics["f1"] = 0.2  # type: ignore[index]

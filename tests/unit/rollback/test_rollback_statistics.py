"""Statistics of the rollback decision, pinned on constructed cases (known values, p-values, intervals)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from alphaplus.core.errors import InvalidInput
from alphaplus.rollback.statistics import (
    NOT_UP,
    UP,
    Confusion,
    Estimate,
    accuracy_skill,
    balanced_accuracy_skill,
    drop_test,
    error_rate_test,
    holm,
    holm_adjusted,
)

# 100 outcomes: 50 up (30 caught), 50 not up (35 caught).
CASE = Confusion(tp=30, fp=15, fn=20, tn=35)


def test_confusion_counts_derive_accuracy_and_balanced_accuracy():
    assert (CASE.n, CASE.correct, CASE.positives, CASE.negatives) == (100, 65, 50, 50)
    assert CASE.accuracy == pytest.approx(0.65) and CASE.balanced_accuracy == pytest.approx(0.65)
    assert Confusion(tp=5, fn=3).balanced_accuracy is None  # no outcome went down
    assert CASE + CASE == Confusion(60, 30, 40, 70)
    with pytest.raises(InvalidInput):
        Confusion(tp=-1)


def test_counts_are_rebuilt_from_the_metrics_training_stores():
    stored = {"n": 100, "accuracy": 0.65, "recall": 0.6, "class_balance": 0.5, "positive_rate": 0.45}
    assert Confusion.from_metrics(stored) == CASE
    assert Confusion.from_metrics({**stored, **CASE.to_dict(), "recall": 0.1}) == CASE  # explicit counts win
    assert Confusion.from_metrics({**stored, "accuracy": 0.80}) is None  # numbers that do not fit together
    assert Confusion.from_metrics({"accuracy": 0.6}) is None and Confusion.from_metrics(None) is None


def test_balanced_accuracy_skill_and_its_variance():
    est = balanced_accuracy_skill(CASE)
    assert est.value == pytest.approx(0.15)
    assert est.variance == pytest.approx((0.6 * 0.4 / 50 + 0.7 * 0.3 / 50) / 4)


def test_accuracy_skill_is_measured_against_the_constant_reference_on_the_same_outcomes():
    up = accuracy_skill(CASE, UP)  # always-up is right on the 50 up outcomes
    assert up.value == pytest.approx(0.65 - 0.50)
    # Per outcome +1 (35 times: model right, reference wrong), -1 (20 times), 0 otherwise.
    assert up.variance == pytest.approx((0.55 - 0.15**2) / 100)
    down = accuracy_skill(CASE, NOT_UP)
    assert down.value == pytest.approx((30 - 15) / 100)


def test_a_constant_predictor_has_no_skill_by_either_measure():
    always_up = Confusion(tp=56, fp=44, fn=0, tn=0)
    assert accuracy_skill(always_up, UP) == Estimate(0.0, 0.0)
    assert balanced_accuracy_skill(always_up).value == pytest.approx(0.0)


def test_drop_test_adds_both_variances_times_their_design_effects():
    live, base = Estimate(0.0, 0.0025), Estimate(0.05, 0.0004)
    t = drop_test("balanced_accuracy_skill", live, 400, 4.0, base, 2_000, 4.0)
    se = math.sqrt(0.0025 * 4 + 0.0004 * 4)
    assert t.statistic == pytest.approx(-0.05 / se)
    assert t.p_value == pytest.approx(stats.norm.cdf(-0.05 / se))
    assert (t.n, t.n_effective, t.reference_n, t.reference_n_effective) == (400, 100.0, 2_000, 500.0)
    assert t.relative_drop == pytest.approx(1.0)


def test_the_baseline_own_uncertainty_and_the_overlap_weaken_the_same_drop():
    live = balanced_accuracy_skill(Confusion(520, 480, 480, 520))  # skill 0.02 on 2,000 outcomes
    precise = balanced_accuracy_skill(Confusion(5_750, 4_250, 4_250, 5_750))  # skill 0.075 on 20,000
    rough = balanced_accuracy_skill(Confusion(115, 85, 85, 115))  # the same skill on 400
    assert precise.value == pytest.approx(rough.value)
    a = drop_test("balanced_accuracy_skill", live, 2_000, 1.0, precise, 20_000, 1.0)
    b = drop_test("balanced_accuracy_skill", live, 2_000, 1.0, rough, 400, 1.0)
    assert a.p_value < b.p_value
    c = drop_test("balanced_accuracy_skill", live, 2_000, 12.0, precise, 20_000, 12.0)
    assert c.p_value > a.p_value and c.n_effective == pytest.approx(2_000 / 12)


def test_error_rate_test_is_the_exact_binomial_tail():
    t = error_rate_test(16, 100, 0.10)
    assert t.p_value == pytest.approx(stats.binom.sf(15, 100, 0.10))
    assert t.live == pytest.approx(0.16) and t.n == 100
    assert error_rate_test(0, 500, 0.10).p_value == 1.0
    with pytest.raises(InvalidInput):
        error_rate_test(5, 0, 0.1)


def test_holm_adjusts_the_smallest_p_by_the_family_size_and_keeps_order():
    assert holm_adjusted([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm_adjusted([0.5]) == [0.5] and holm_adjusted([]) == []
    tests = holm([drop_test("accuracy_skill", Estimate(0, 0.01), 10, 1, Estimate(0, 0.01), 10, 1)] * 2)
    assert all(t.adjusted_p == pytest.approx(1.0) for t in tests)


def test_two_metrics_or_ed_at_alpha_each_alarm_twice_as_often_as_holm():
    rng = np.random.default_rng(0)
    p = rng.random((20_000, 2))  # two independent metrics, both null
    or_each = np.mean((p < 0.05).any(axis=1))
    with_holm = np.mean([min(holm_adjusted(list(row))) < 0.05 for row in p])
    assert or_each == pytest.approx(0.0975, abs=0.006)
    assert with_holm == pytest.approx(0.05, abs=0.005)

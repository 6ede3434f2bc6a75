"""Evidence from overlapping outcomes: effective sample size, block-bootstrap tests, no-skill references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm
from sklearn import metrics as skm

from alphaplus.ml.evidence import (
    Resampler,
    TestResult,
    block_length,
    compare,
    compare_samples,
    effective_sample_size,
    independent_outcomes,
    interval_above,
    metric_value,
    no_skill_references,
    non_overlapping_rows,
    skill_score,
)


def overlapping_labels(n: int, horizon: int, seed: int) -> np.ndarray:
    """Direction labels of a random walk over ``horizon`` bars: neighbours share horizon - 1 steps."""
    steps = np.random.default_rng(seed).standard_normal(n + horizon)
    path = np.concatenate([[0.0], np.cumsum(steps)])
    return (path[horizon : horizon + n] - path[:n] > 0).astype(int)


# --- counting independent outcomes ---------------------------------------------------------------


def test_independent_outcomes_count_whole_horizons_only():
    assert independent_outcomes(500, 12) == 41
    assert independent_outcomes(500, 1) == 500
    assert independent_outcomes(11, 12) == 0


def test_non_overlapping_rows_are_one_horizon_apart():
    assert non_overlapping_rows(30, 12).tolist() == [0, 12, 24]
    assert non_overlapping_rows(30, 12, offset=5).tolist() == [5, 17, 29]


def test_a_horizon_below_one_bar_is_refused():
    with pytest.raises(ValueError, match="horizon"):
        independent_outcomes(100, 0)


def test_block_length_never_falls_below_the_floor_times_the_horizon():
    iid = np.random.default_rng(0).standard_normal(2000)
    assert block_length(iid, 12, floor=2.0) >= 24
    assert block_length(iid, 1, floor=1.0) >= 1


def test_block_length_grows_with_the_persistence_of_the_data():
    rng = np.random.default_rng(1)
    iid = rng.standard_normal(3000)
    persistent = np.convolve(rng.standard_normal(3100), np.ones(100) / 100, mode="valid")[:3000]
    assert block_length(persistent, 1, floor=1.0) > 5 * block_length(iid, 1, floor=1.0)


# --- effective sample size ---------------------------------------------------------------------


def test_independent_rows_are_worth_about_their_number():
    y = np.random.default_rng(2).integers(0, 2, 3000).astype(float)
    rs = Resampler.draw(len(y), horizon=1, series=y, method="stationary", reps=999, block_floor=1.0, seed=0)
    assert effective_sample_size(y, rs) == pytest.approx(3000, rel=0.2)


def test_overlapping_labels_are_worth_far_fewer_independent_outcomes():
    y = overlapping_labels(3000, 12, seed=3).astype(float)
    rs = Resampler.draw(len(y), horizon=12, series=y, method="stationary", reps=999, seed=0)
    n_eff = effective_sample_size(y, rs)
    # The variance of a mean of 12-bar overlapping signs is ~2/3 x 12 times the iid one: n_eff ~ n/8.
    assert 3000 / 20 < n_eff < 3000 / 4


def test_non_overlapping_subsampling_keeps_one_row_per_horizon():
    y = overlapping_labels(1200, 12, seed=4).astype(float)
    rs = Resampler.draw(len(y), horizon=12, method="subsample", reps=999, seed=0)
    assert len(rs.rows) == 100
    assert effective_sample_size(y, rs) == pytest.approx(100, rel=0.2)


def test_the_same_seed_draws_the_same_resamples():
    a = Resampler.draw(300, horizon=5, reps=50, seed=9)
    b = Resampler.draw(300, horizon=5, reps=50, seed=9)
    assert np.array_equal(a.indices, b.indices)
    assert not np.array_equal(a.indices, Resampler.draw(300, horizon=5, reps=50, seed=10).indices)


# --- metrics -----------------------------------------------------------------------------------


def test_metrics_agree_with_scikit_learn():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 400)
    p = np.clip(0.5 + 0.3 * (y - 0.5) + 0.25 * rng.standard_normal(400), 0.01, 0.99)
    pred = (p > 0.5).astype(int)
    assert metric_value("accuracy", y, p) == pytest.approx(skm.accuracy_score(y, pred))
    assert metric_value("balanced_accuracy", y, p) == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert metric_value("mcc", y, p) == pytest.approx(skm.matthews_corrcoef(y, pred))
    assert metric_value("roc_auc", y, p) == pytest.approx(skm.roc_auc_score(y, p))
    assert metric_value("log_loss", y, p) == pytest.approx(skm.log_loss(y, p))
    assert metric_value("brier", y, p) == pytest.approx(skm.brier_score_loss(y, p))


def test_auc_handles_tied_scores_like_scikit_learn():
    y = np.array([0, 1, 0, 1, 1, 0, 1, 0])
    p = np.array([0.2, 0.2, 0.5, 0.5, 0.9, 0.9, 0.9, 0.1])
    assert metric_value("roc_auc", y, p) == pytest.approx(skm.roc_auc_score(y, p))


def test_an_unknown_metric_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown metric 'f2'"):
        metric_value("f2", [0, 1], [0.2, 0.8])


# --- tests with known answers ------------------------------------------------------------------


def test_a_model_right_on_every_row_beats_one_wrong_on_every_row_at_the_smallest_p_value():
    y = np.tile([0, 1], 200)
    rs = Resampler.draw(len(y), horizon=12, reps=199, seed=0)
    result = compare("accuracy", y, y.astype(float), 1.0 - y, rs)
    assert result.estimate == 1.0
    assert result.p_value == pytest.approx(1 / 200)
    assert (result.ci_low, result.ci_high) == (1.0, 1.0)
    assert result.significant


def test_on_independent_rows_the_bootstrap_p_value_matches_the_normal_test():
    rng = np.random.default_rng(6)
    n = 4000
    y = rng.integers(0, 2, n)
    right_a = rng.random(n) < 0.53
    right_b = rng.random(n) < 0.50
    p_a = np.where(right_a, y, 1 - y).astype(float)
    p_b = np.where(right_b, y, 1 - y).astype(float)
    d = right_a.astype(float) - right_b
    z = d.mean() / (d.std(ddof=1) / math.sqrt(n))
    rs = Resampler.draw(n, horizon=1, series=d, reps=1999, block_floor=1.0, seed=0)
    result = compare("accuracy", y, p_a, p_b, rs)
    assert result.estimate == pytest.approx(d.mean())
    assert result.p_value == pytest.approx(norm.sf(z), abs=0.015)
    assert result.n_effective == pytest.approx(n, rel=0.15)


def test_loss_differences_are_oriented_so_positive_means_better():
    y = np.tile([0, 1], 300)
    good = np.where(y == 1, 0.7, 0.3)
    rs = Resampler.draw(len(y), horizon=1, reps=199, seed=0)
    assert compare("log_loss", y, good, 0.5, rs).estimate > 0
    assert compare("log_loss", y, 0.5, good, rs).estimate < 0


def test_a_perfect_ranking_has_an_auc_interval_of_one():
    y = np.tile([0, 0, 1, 1], 100)
    rs = Resampler.draw(len(y), horizon=4, reps=199, seed=0)
    result = interval_above("roc_auc", y, y * 0.6 + 0.2, rs, null=0.5)
    assert (result.estimate, result.ci_low, result.ci_high) == (1.0, 1.0, 1.0)
    assert result.significant


def test_no_skill_scores_give_an_auc_interval_around_one_half():
    y = overlapping_labels(2000, 12, seed=7)
    noise = np.random.default_rng(8).random(2000)
    result = interval_above("roc_auc", y, noise, Resampler.draw(2000, horizon=12, reps=499, seed=0), null=0.5)
    assert result.ci_low < 0.5 < result.ci_high
    assert not result.significant


def test_overlap_widens_the_interval_that_rows_taken_as_independent_would_give():
    y = overlapping_labels(2000, 12, seed=11)
    # Always-up is right exactly when the label is up: its hits overlap as the labels do.
    as_iid = Resampler.draw(2000, horizon=1, reps=499, block_floor=1.0, seed=0)
    iid = interval_above("accuracy", y, 1.0, as_iid, null=0.5)
    blocks = interval_above("accuracy", y, 1.0, Resampler.draw(2000, horizon=12, reps=499, seed=0), null=0.5)
    assert as_iid.block == 1.0
    assert blocks.ci_high - blocks.ci_low > 2 * (iid.ci_high - iid.ci_low)
    assert blocks.n_effective < iid.n_effective / 3


def test_two_no_skill_rules_on_a_random_walk_are_rarely_told_apart():
    """The size of the paired test on overlapping labels stays near its level (McNemar's is ~40%)."""
    significant = 0
    runs = 40
    for seed in range(runs):
        path = np.cumsum(np.random.default_rng(100 + seed).standard_normal(700))
        y = (path[112:612] - path[100:600] > 0).astype(int)
        momentum = 1 / (1 + np.exp(-(path[100:600] - path[95:595])))
        reversal = 1 / (1 + np.exp((path[100:600] - path[88:588]) / 2))
        rs = Resampler.draw(500, horizon=12, reps=299, seed=seed)
        significant += compare("accuracy", y, momentum, reversal, rs, alpha=0.025).significant
        significant += compare("accuracy", y, reversal, momentum, rs, alpha=0.025).significant
    assert significant / runs <= 0.15


def test_two_independent_samples_match_the_two_sample_normal_test():
    rng = np.random.default_rng(12)
    n = 3000
    y_a, y_b = rng.integers(0, 2, n), rng.integers(0, 2, n)
    right_a, right_b = rng.random(n) < 0.55, rng.random(n) < 0.52
    p_a = np.where(right_a, y_a, 1 - y_a).astype(float)
    p_b = np.where(right_b, y_b, 1 - y_b).astype(float)
    rs_a = Resampler.draw(n, horizon=1, reps=1999, block_floor=1.0, seed=1)
    rs_b = Resampler.draw(n, horizon=1, reps=1999, block_floor=1.0, seed=2)
    result = compare_samples("accuracy", (y_a, p_a, rs_a), (y_b, p_b, rs_b))
    diff = right_a.mean() - right_b.mean()
    se = math.sqrt(right_a.var(ddof=1) / n + right_b.var(ddof=1) / n)
    assert result.estimate == pytest.approx(diff)
    assert result.p_value == pytest.approx(norm.sf(diff / se), abs=0.015)
    assert result.n == 2 * n and result.n_effective == pytest.approx(2 * n, rel=0.15)


def test_a_sample_of_overlapping_outcomes_widens_the_two_sample_interval():
    y_live = overlapping_labels(1200, 12, seed=13)
    y_base = overlapping_labels(1200, 12, seed=14)
    as_rows = [Resampler.draw(1200, horizon=1, reps=499, block_floor=1.0, seed=s) for s in (1, 2)]
    as_blocks = [Resampler.draw(1200, horizon=12, reps=499, seed=s) for s in (1, 2)]
    narrow = compare_samples("accuracy", (y_live, 1.0, as_rows[0]), (y_base, 1.0, as_rows[1]))
    wide = compare_samples("accuracy", (y_live, 1.0, as_blocks[0]), (y_base, 1.0, as_blocks[1]))
    assert wide.ci_high - wide.ci_low > 2 * (narrow.ci_high - narrow.ci_low)


def test_labels_and_probabilities_of_different_lengths_are_refused():
    rs = Resampler.draw(10, horizon=1, reps=9, seed=0)
    with pytest.raises(ValueError, match="one value per label"):
        compare("accuracy", [0, 1] * 5, [0.5] * 9, 0.5, rs)
    with pytest.raises(ValueError, match="resamples are of 10 rows"):
        compare("accuracy", [0, 1] * 6, [0.5] * 12, 0.5, rs)


# --- no-skill references and skill -------------------------------------------------------------


def test_an_up_majority_makes_always_up_the_only_hard_reference():
    refs = {r.name: r.probability for r in no_skill_references(0.56)}
    assert refs == {"always_up": 1.0, "training_prior": 0.56}


def test_a_down_majority_adds_the_majority_class():
    refs = {r.name: r.probability for r in no_skill_references(0.40)}
    assert refs == {"always_up": 1.0, "majority_class": 0.0, "training_prior": 0.40}


def test_the_prior_itself_has_no_skill_and_a_sharper_true_model_has_some():
    y = np.tile([1, 1, 1, 0], 100)
    assert skill_score("log_loss", y, np.full(len(y), 0.75), 0.75) == pytest.approx(0.0)
    assert skill_score("brier", y, np.where(y == 1, 0.9, 0.2), 0.75) > 0.5
    assert skill_score("log_loss", y, np.full(len(y), 0.4), 0.75) < 0


def test_skill_is_defined_for_losses_only():
    with pytest.raises(ValueError, match="losses"):
        skill_score("accuracy", [0, 1], [0.5, 0.5], 0.5)


def test_an_interval_bound_just_below_the_null_never_prints_as_the_null():
    result = TestResult("ROC AUC above 0.5", "roc_auc", 0.53, 0.5, 0.49996, 0.5604, 0.06, 0.05, 900, 300.0, 1.5)
    assert result.interval_text() == "90% interval [+0.49996, +0.560]"

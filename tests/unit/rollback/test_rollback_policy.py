"""Rollback assessment: loss of edge against the holdout baseline, looks and cooldown in outcomes,
error rate, drift, history."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from alphaplus.core.errors import InvalidInput
from alphaplus.rollback.baseline import Baseline
from alphaplus.rollback.policy import (
    LiveWindow,
    RollbackAssessment,
    RollbackPolicy,
    SlotHistory,
    assess_rollback_needs,
    next_history,
    ready_to_assess,
    record_rollback,
)
from alphaplus.rollback.statistics import Confusion

T0 = datetime(2025, 3, 1, tzinfo=UTC)
DAY = timedelta(days=1)
H = 12
# Holdout: 4,000 hourly outcomes, accuracy 0.55 on balanced labels (skill 0.05 by both measures),
# worth 4,000 / 7 independent outcomes (what the block bootstrap finds for a persistent signal).
BASE = Baseline(confusion=Confusion(1_100, 900, 900, 1_100), n_effective=4_000 / 7, label_horizon=H)
POLICY = RollbackPolicy()
LOOK = POLICY.look_outcomes * H  # outcome rows per look


def block(i: int, *, n: int = LOOK, acc: float = 0.55, errors: int = 0, inferences: int | None = None,
          psi: float | None = None, psi_threshold: float | None = None, counts: bool = True) -> LiveWindow:
    """Live evidence number ``i`` (5 days of hourly bars) with balanced labels and exact accuracy."""
    correct = round(acc * n)
    tp, fp = correct // 2, (n - correct) // 2
    fn = n - correct - fp
    return LiveWindow(
        window_start=T0 + i * 5 * DAY, window_end=T0 + (i + 1) * 5 * DAY, n=n,
        n_correct=None if counts else correct,
        true_positives=tp if counts else None, false_positives=fp if counts else None,
        false_negatives=fn if counts else None, error_count=errors,
        total_inferences=n + errors if inferences is None else inferences, max_psi=psi, psi_threshold=psi_threshold,
        label_horizon=H,
    )


def run(blocks: list[LiveWindow], *, policy: RollbackPolicy = POLICY, baseline: Baseline = BASE,
        history: SlotHistory | None = None) -> tuple[list[RollbackAssessment], SlotHistory]:
    """Assess blocks in order, carrying the history as the service does."""
    history = history or SlotHistory()
    out = []
    for b in blocks:
        a = assess_rollback_needs(baseline, b, history, policy, b.window_end)
        history = next_history(history, a, b.window_end)
        out.append(a)
    return out, history


# --- evidence counted in outcomes --------------------------------------------------------------


def test_a_block_short_of_a_look_tests_nothing_and_says_what_is_missing():
    small = block(0, n=60, inferences=60)
    assert not ready_to_assess(None, small, POLICY, H)
    a = assess_rollback_needs(BASE, small, None, POLICY, T0)
    assert a.status == "insufficient_evidence" and a.tests == () and not a.look
    assert "60 live outcomes since the last look; a look needs 120 (10 independent outcomes of 12 bars)" in a.reasons[0]


def test_the_edge_is_first_tested_when_the_window_holds_min_outcomes_independent_outcomes():
    assessments, history = run([block(i) for i in range(4)])
    assert [a.look for a in assessments] == [True] * 4
    tested = [any(t.metric != "error_rate" for t in a.tests) for a in assessments]
    assert tested == [False, False, True, True]  # 30 independent outcomes = 360 rows = 3 looks
    assert "the edge is tested from 30 independent outcomes" in " ".join(assessments[0].reasons)
    assert len(history.looks) == 4 and history.pending.n == 0


def test_live_skill_equal_to_the_holdout_skill_is_healthy():
    assessments, history = run([block(i) for i in range(6)])
    assert assessments[-1].status == "healthy" and not any(a.should_rollback for a in assessments)
    assert history.consecutive_count == 0
    assert "healthy: no clear loss of edge against the holdout baseline" == assessments[-1].reasons[-1]


def test_a_lost_edge_is_confirmed_in_consecutive_looks_then_rolled_back():
    assessments, _ = run([block(i, acc=0.35) for i in range(4)])
    # Look 1 tests nothing (too few outcomes, too few calls); look 2 checks errors; look 3 tests the edge.
    assert [a.status for a in assessments] == ["insufficient_evidence", "healthy", "triggered_pending", "rollback"]
    last = assessments[-1]
    assert last.should_rollback and last.triggers == ("performance_degradation",)
    assert "confirmed in 2 consecutive looks: roll back" in last.reasons[-1]
    assert "a clear loss of edge" in " ".join(last.reasons)


def test_time_to_detect_is_a_number_of_outcomes_not_of_assessments_or_hours():
    # The same outcomes in many small blocks or in few large ones: the rollback comes at the same look.
    small, _ = run([block(i, n=40, acc=0.35) for i in range(12)])
    first = next(i for i, a in enumerate(small) if a.should_rollback)
    assert (first + 1) * 40 == 4 * LOOK


def test_the_assessment_records_n_n_effective_the_test_its_statistic_and_p_value():
    a = run([block(i, acc=0.35) for i in range(4)])[0][-1]
    s = a.summary()
    assert s["n"] == 4 * LOOK and s["n_effective"] == pytest.approx(4 * LOOK / 7)
    assert s["test"] == "balanced_accuracy_skill: two-sample z, overlap-corrected"
    assert s["statistic"] < -2 and 0 < s["p_value"] < 0.05
    d = json.loads(json.dumps(a.to_dict(), allow_nan=False))
    assert d["p_value"] == s["p_value"] and [t["metric"] for t in d["tests"]][:1] == ["balanced_accuracy_skill"]


def test_several_skills_are_tested_together_with_holm():
    both = RollbackPolicy(skill_metrics=("balanced_accuracy_skill", "accuracy_skill"))
    a = run([block(i, acc=0.40) for i in range(3)], policy=both)[0][-1]
    skills = sorted((t for t in a.tests if t.metric != "error_rate"), key=lambda t: t.p_value)
    assert len(skills) == 2
    assert skills[0].adjusted_p == pytest.approx(2 * skills[0].p_value)


def test_a_drop_smaller_than_performance_drop_never_rolls_back_however_clear():
    huge = Baseline(confusion=Confusion(110_000, 90_000, 90_000, 110_000), n_effective=400_000, label_horizon=H)
    policy = RollbackPolicy(performance_drop=0.5)
    assessments, _ = run([block(i, n=40_000, acc=0.54) for i in range(6)], baseline=huge, policy=policy)
    assert all(a.status == "healthy" for a in assessments)  # a 20% drop of skill, clear but under 50%
    assert "by less than the 50% that counts" in " ".join(assessments[-1].reasons)


def test_the_holdout_own_uncertainty_makes_the_same_live_drop_inconclusive():
    tiny = Baseline(confusion=Confusion(33, 27, 27, 33), n_effective=120 / 7, label_horizon=H)  # 0.55 on 120
    assessments, _ = run([block(i, acc=0.45) for i in range(8)], baseline=tiny)
    assert not any(a.should_rollback for a in assessments)
    assessments, _ = run([block(i, acc=0.45) for i in range(8)])
    assert any(a.should_rollback for a in assessments)


def test_overlapping_labels_make_the_same_rows_worth_less():
    no_overlap = Baseline(confusion=BASE.confusion, n_effective=4_000, label_horizon=1)
    blocks = [block(i, acc=0.47) for i in range(3)]
    clear = assess_rollback_needs(no_overlap, block(3, n=3 * LOOK, acc=0.47), None, POLICY, T0)
    overlapped = run(blocks)[0][-1]
    assert clear.decisive.p_value < overlapped.decisive.p_value
    assert clear.decisive.n_effective == 3 * LOOK and overlapped.decisive.n_effective == pytest.approx(3 * LOOK / 7)


def test_without_a_measured_effective_size_rows_divided_by_the_horizon_count():
    assert Baseline(confusion=BASE.confusion, label_horizon=H).design_effect(H) == H
    assert BASE.design_effect(H) == pytest.approx(7)


def test_a_healthy_look_clears_the_streak_and_a_pending_one_holds_it():
    assessments, _ = run([block(0, acc=0.30), block(1, acc=0.30), block(2, acc=0.30), block(3, acc=0.95)])
    assert [a.consecutive_count for a in assessments] == [0, 0, 1, 0]
    assert assessments[-1].status == "healthy"
    between = [block(i, acc=0.30) for i in range(3)] + [block(3, n=40, acc=0.60)]
    assessments, history = run(between)
    assert assessments[-1].status == "triggered_pending" and history.consecutive_count == 1
    assert "neither confirmed nor cleared until the next look" in assessments[-1].reasons[-1]
    errors_only = block(4, n=0, inferences=200)  # an error check between looks does not clear the edge
    a = assess_rollback_needs(BASE, errors_only, history, POLICY, T0 + 30 * DAY)
    assert a.status == "triggered_pending" and a.carry.consecutive_count == 1


def test_the_test_window_rolls_over_the_last_window_looks():
    _, history = run([block(i) for i in range(POLICY.window_looks + 5)])
    assert len(history.looks) == POLICY.window_looks
    assert sum(e.n for e in history.looks) == POLICY.window_looks * LOOK


# --- baselines ----------------------------------------------------------------------------------


def test_the_baseline_is_the_holdout_never_the_validation_set():
    holdout = {**Confusion(1_100, 900, 900, 1_100).to_dict(), "n_effective": 500.0, "label_horizon": 12,
               "reference_class": 1}
    validation = {"n": 1_000, "accuracy": 0.61, "recall": 0.6, "class_balance": 0.5, "positive_rate": 0.49}
    b = Baseline.from_stored({"holdout": holdout, "train": {"class_balance": 0.5}}, validation)
    assert b.source == "holdout" and b.confusion.accuracy == pytest.approx(0.55) and b.n_effective == 500.0


def test_versions_stored_without_holdout_counts_fall_back_to_validation_and_say_why():
    validation = {"n": 1_000, "accuracy": 0.60, "recall": 0.6, "class_balance": 0.5, "positive_rate": 0.5}
    b = Baseline.from_stored({"train": {"class_balance": 0.4}}, validation)
    assert b.source == "validation" and b.reference_class == 0
    a = run([block(i) for i in range(3)], baseline=b)[0][-1]
    assert any("validation metrics are the baseline" in r for r in a.reasons)
    none = Baseline.from_stored({}, {})
    a = run([block(i, errors=0, inferences=100) for i in range(3)], baseline=none)[0][-1]
    assert "cannot be tested" in " ".join(a.reasons) and not a.should_rollback


def test_live_windows_without_confusion_counts_cannot_test_the_edge():
    a = run([block(i, acc=0.2, counts=False) for i in range(4)])[0][-1]
    assert not a.should_rollback and "carry no confusion counts" in " ".join(a.reasons)


# --- errors, drift, manual ----------------------------------------------------------------------


def test_a_persistent_error_rate_rolls_back_after_consecutive_checks():
    blocks = [block(i, n=0, errors=40, inferences=200) for i in range(2)]
    assessments, _ = run(blocks)
    assert [a.status for a in assessments] == ["triggered_pending", "rollback"]
    assert assessments[-1].triggers == ("error_rate",)
    assert "20.0% of 400 inference calls failed" in " ".join(assessments[-1].reasons)


def test_too_few_inference_calls_make_no_error_check():
    a = assess_rollback_needs(BASE, block(0, n=0, errors=50, inferences=100), None, POLICY, T0)
    assert a.status == "insufficient_evidence" and a.triggers == ()


def test_drift_alone_never_rolls_back_and_uses_the_version_calibrated_threshold():
    assessments, history = run([block(i, psi=2.5, psi_threshold=1.2) for i in range(8)])
    assert not any(a.should_rollback for a in assessments)
    assert all(a.triggers == ("drift",) and a.severity == "medium" for a in assessments[2:])
    assert "threshold 1.20" in " ".join(assessments[-1].reasons) and "retrain on recent data" in " ".join(
        assessments[-1].reasons)
    a = assess_rollback_needs(BASE, block(0, psi=0.9, psi_threshold=1.2), None, POLICY, T0)
    assert "drift" not in a.triggers  # above the rule of thumb, below this version's calibration
    assert "drift" in assess_rollback_needs(BASE, block(0, psi=0.3), None, POLICY, T0).triggers


def test_skill_below_zero_is_critical_and_drift_raises_a_confirmed_loss_one_step():
    a = run([block(i, acc=0.30) for i in range(4)])[0][-1]
    assert a.should_rollback and a.severity == "critical"  # worse than no skill at all
    strong = Baseline(confusion=Confusion(1_300, 700, 700, 1_300), n_effective=4_000 / 7, label_horizon=H)
    plain = next(a for a in run([block(i, acc=0.52) for i in range(8)], baseline=strong)[0] if a.should_rollback)
    drifted = next(a for a in run([block(i, acc=0.52, psi=3.0) for i in range(8)], baseline=strong)[0]
                   if a.should_rollback)
    assert (plain.severity, drifted.severity) == ("high", "critical") and drifted.risk > plain.risk


def test_a_manual_request_rolls_back_at_once_even_without_evidence_or_in_cooldown():
    history = record_rollback(SlotHistory(), 7, T0)
    w = LiveWindow(window_end=T0 + DAY, n=10, n_correct=9)
    a = assess_rollback_needs(BASE, w, history, POLICY, T0 + DAY, manual_reason="exchange changed tick size")
    assert a.should_rollback and a.status == "rollback" and "manual" in a.triggers and a.confidence == 1.0
    assert "exchange changed tick size" in a.reasons[0]


# --- cooldown in outcomes -----------------------------------------------------------------------


def test_the_cooldown_lasts_a_number_of_outcomes_however_long_they_take():
    history = record_rollback(SlotHistory(), 7, T0)
    need = POLICY.cooldown_outcomes * H  # 480 outcomes
    slow = [LiveWindow(window_start=T0 + i * 30 * DAY, window_end=T0 + (i + 1) * 30 * DAY, n=LOOK,
                       true_positives=20, false_positives=40, false_negatives=40, total_inferences=LOOK,
                       label_horizon=H) for i in range(need // LOOK - 1)]
    assessments, history = run(slow, history=history)
    assert all(a.status == "cooldown" and not a.should_rollback for a in assessments)  # months, too few outcomes
    assert "automatic rollbacks resume after 480 outcomes or inference calls" in assessments[-1].reasons[-1]
    after, _ = run([block(i, acc=0.30) for i in range(20, 24)], history=history)
    assert after[0].status != "cooldown" and any(a.should_rollback for a in after)


def test_record_rollback_starts_the_cooldown_clears_the_stint_and_bars_the_version():
    _, history = run([block(i, acc=0.35) for i in range(3)])
    after = record_rollback(history, 9, T0 + 20 * DAY)
    assert after.consecutive_count == 0 and after.looks == () and after.pending.n == 0
    assert after.last_rollback_at == T0 + 20 * DAY and after.rolled_back_for_cause == {9: T0 + 20 * DAY}
    assert record_rollback(history, 9, T0, for_cause=False).rolled_back_for_cause == {}


# --- history and inputs -------------------------------------------------------------------------


def test_slot_history_round_trips_through_strict_json_and_reads_the_older_format():
    _, history = run([block(i, acc=0.35, errors=1) for i in range(3)] + [block(3, n=50)])
    history = record_rollback(history, 4, T0 + 30 * DAY)
    history, _ = run([block(7, n=50)], history=history)[1], None
    back = SlotHistory.from_dict(json.loads(json.dumps(history.to_dict(), allow_nan=False)))
    assert back == history
    old = {"consecutive_count": 2, "evidence": {"windows": 2, "n": 10}, "recent_statuses": ["healthy"]}
    assert SlotHistory.from_dict(old).consecutive_count == 2
    assert SlotHistory.from_dict(None) == SlotHistory()
    with pytest.raises(InvalidInput):
        SlotHistory.from_dict({"looks": [{"n": "many"}]})


def test_live_window_refuses_inconsistent_counts_and_derives_them_from_outcomes():
    with pytest.raises(InvalidInput):
        LiveWindow(window_end=T0, n=10, n_correct=11)
    with pytest.raises(InvalidInput):
        LiveWindow(window_end=T0, error_count=5, total_inferences=4)
    with pytest.raises(InvalidInput):
        LiveWindow(window_end=T0, n=10, true_positives=8, false_positives=2, false_negatives=2)
    w = LiveWindow.from_outcomes([1, 1, 0, 0, 1], [1, 0, 1, 0, 1], window_end=T0, error_count=1)
    assert (w.n, w.n_correct, w.confusion, w.total_inferences) == (5, 3, Confusion(2, 1, 1, 1), 6)


def test_policy_refuses_nonsense_settings():
    for bad in (dict(performance_drop=1.5), dict(consecutive=0), dict(confidence=1.0), dict(look_outcomes=0),
                dict(min_outcomes=500), dict(market_shift_share=0.0), dict(skill_metrics=("f1",)),
                dict(skill_metrics=())):
        with pytest.raises(InvalidInput):
            RollbackPolicy(**bad)


# --- simulated streams with overlapping labels ------------------------------------------------


def simulated_blocks(seed: int, edge: float, looks: int) -> list[LiveWindow]:
    """Hourly outcomes of a model reading a persistent signal, labels over 12 bars (they overlap)."""
    rng = np.random.default_rng(seed)
    n = looks * LOOK
    signal = np.zeros(n + H)
    for t in range(1, n + H):
        signal[t] = 0.8 * signal[t - 1] + 0.6 * rng.standard_normal()
    returns = np.r_[0.0, edge * signal[:-1]] + rng.standard_normal(n + H)
    csum = np.r_[0.0, np.cumsum(returns)]
    y = (csum[np.arange(n) + 1 + H] - csum[np.arange(n) + 1] > 0).astype(int)
    pred = (signal[:n] > 0).astype(int)
    return [LiveWindow.from_outcomes(y[i * LOOK:(i + 1) * LOOK], pred[i * LOOK:(i + 1) * LOOK],
                                     window_start=T0 + i * 5 * DAY, window_end=T0 + (i + 1) * 5 * DAY, label_horizon=H)
            for i in range(looks)]


def test_a_healthy_model_on_overlapping_labels_is_not_rolled_back_over_a_simulated_year():
    # edge 0.125 gives accuracy ~0.55 on this stream, the holdout baseline's.
    for seed in range(3):
        assessments, _ = run(simulated_blocks(seed, 0.125, looks=73))
        assert not any(a.should_rollback for a in assessments)


def test_an_edge_that_turned_against_the_model_is_rolled_back_within_the_simulated_year():
    for seed in range(3):
        assessments, _ = run(simulated_blocks(100 + seed, -0.125, looks=73))
        assert any(a.should_rollback for a in assessments)


def test_a_streak_held_over_never_decides_a_rollback_without_a_new_confirming_test():
    # No version could be restored: the streak is kept, but only the next confirming look decides again.
    assessments, history = run([block(i, acc=0.30) for i in range(4)])
    assert assessments[-1].should_rollback
    a = assess_rollback_needs(BASE, block(4, n=50, inferences=50), history, POLICY, T0 + 30 * DAY)
    assert not a.should_rollback and a.status == "triggered_pending"
    a = assess_rollback_needs(BASE, block(4, acc=0.30), history, POLICY, T0 + 30 * DAY)
    assert a.should_rollback


def test_a_falling_market_does_not_make_a_sound_model_lose_its_edge():
    # Holdout in a rising market (58% up): always-down was poor there, so accuracy over that constant
    # reference looked large. Live the market falls (26% up): always-down nearly matches any model,
    # yet the model still tells up from down as well as before (balanced accuracy).
    up_market = Baseline(confusion=Confusion(480, 146, 131, 294), n_effective=97, label_horizon=H,
                         reference_class=0)
    falling = [LiveWindow(window_start=T0 + i * 5 * DAY, window_end=T0 + (i + 1) * 5 * DAY, n=425,
                          true_positives=80, false_positives=80, false_negatives=30, label_horizon=H)
               for i in range(4)]
    assessments, _ = run(falling, baseline=up_market)
    assert all(a.status == "healthy" for a in assessments[2:])
    both = RollbackPolicy(skill_metrics=("balanced_accuracy_skill", "accuracy_skill"))
    flagged, _ = run(falling, baseline=up_market, policy=both)
    assert any("performance_degradation" in a.triggers for a in flagged)  # what accuracy skill would say

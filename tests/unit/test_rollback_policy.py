"""Rollback policy: triggers, evidence, anti-flapping, and the choice of a safe rollback target."""

from __future__ import annotations

import enum
import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from alphaplus.core.errors import InvalidInput
from alphaplus.rollback.policy import (
    Baseline,
    Evidence,
    LiveWindow,
    RollbackAssessment,
    RollbackPolicy,
    SlotHistory,
    assess_rollback_needs,
    next_history,
    record_rollback,
)
from alphaplus.rollback.target import Candidate, choose_rollback_target

T0 = datetime(2025, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
BASE = Baseline(accuracy=0.60, f1=0.60)
POLICY = RollbackPolicy()


def window(
    i: int = 0,
    *,
    n: int = 500,
    acc: float = 0.60,
    f1: float | None = None,
    errors: int = 0,
    inferences: int | None = None,
    psi: float | None = None,
    counts: bool = True,
) -> LiveWindow:
    """Hour ``i`` of live evidence with exact accuracy; F1 confusion counts built to match ``f1``."""
    n_correct = round(acc * n)
    f1 = acc if f1 is None else f1
    tp = fp = fn = None
    if counts:
        # Choose tp, fp = fn with 2tp / (2tp + fp + fn) == f1 and everything within n.
        wrong = n - n_correct
        fp = fn = wrong // 2
        tp = max(1, round(f1 * (fp + fn) / (2 * (1 - f1)))) if f1 < 1 else n_correct
        tp = min(tp, n - fp - fn)
    return LiveWindow(
        window_start=T0 + i * HOUR,
        window_end=T0 + (i + 1) * HOUR,
        n=n,
        n_correct=n_correct,
        true_positives=tp,
        false_positives=fp,
        false_negatives=fn,
        f1=None if counts else f1,
        error_count=errors,
        total_inferences=n + errors if inferences is None else inferences,
        max_psi=psi,
    )


def run(windows: list[LiveWindow], *, policy: RollbackPolicy = POLICY, baseline: Baseline = BASE,
        history: SlotHistory | None = None) -> tuple[list[RollbackAssessment], SlotHistory]:
    """Assess windows in order, carrying the history as a caller would."""
    history = history or SlotHistory()
    out = []
    for w in windows:
        a = assess_rollback_needs(baseline, w, history, policy, w.window_end)
        history = next_history(history, a, w.window_end)
        out.append(a)
    return out, history


# --- inputs -------------------------------------------------------------------------------------


def test_baseline_prefers_early_live_metrics_once_they_have_enough_samples():
    b = Baseline(accuracy=0.65, f1=0.64, live_accuracy=0.58, live_f1=0.57, live_samples=500)
    assert b.reference(200) == (0.58, 0.57, "early live")
    assert Baseline(accuracy=0.65, f1=0.64, live_accuracy=0.58, live_samples=50).reference(200) == (
        0.65, 0.64, "validation"
    )
    assert Baseline(accuracy=0.65, f1=0.64, live_accuracy=0.58, live_samples=500).reference(200) == (
        0.58, 0.64, "early live"
    )


def test_a_version_bad_from_its_first_live_window_is_not_its_own_baseline():
    # Early live accuracy already 30% under validation: using it as the yardstick would hide the
    # problem for as long as the version serves, so validation stays the baseline.
    b = Baseline(accuracy=0.70, f1=0.70, live_accuracy=0.49, live_f1=0.66, live_samples=1_000)
    assert b.reference(200, 0.15) == (0.70, 0.66, "early live")
    assert Baseline(accuracy=0.70, f1=0.70, live_accuracy=0.49, live_samples=1_000).reference(200, 0.15) == (
        0.70, 0.70, "validation"
    )


def test_assessment_against_early_live_baseline_says_so():
    b = Baseline(accuracy=0.70, f1=0.70, live_accuracy=0.60, live_f1=0.60, live_samples=1_000)
    a = assess_rollback_needs(b, window(acc=0.58), None, POLICY, T0)
    assert a.status == "healthy" and a.baseline_source == "early live"
    assert "early live baseline" in a.reasons[-1]


def test_live_window_derives_accuracy_and_f1_from_counts():
    w = LiveWindow(window_end=T0, n=100, n_correct=60, true_positives=30, false_positives=20, false_negatives=20)
    assert w.accuracy == pytest.approx(0.6)
    assert w.f1 == pytest.approx(60 / 100)


def test_live_window_refuses_inconsistent_counts():
    with pytest.raises(InvalidInput):
        LiveWindow(window_end=T0, n=10, n_correct=11)
    with pytest.raises(InvalidInput):
        LiveWindow(window_end=T0, n=10, n_correct=5, accuracy=0.7)
    with pytest.raises(InvalidInput):
        LiveWindow(window_end=T0, error_count=5, total_inferences=4)
    with pytest.raises(InvalidInput):
        LiveWindow(window_end=T0, n=10, n_correct=5, true_positives=8, false_positives=2, false_negatives=2)


def test_live_window_from_outcomes_counts_the_confusion_matrix():
    w = LiveWindow.from_outcomes([1, 1, 0, 0, 1], [1, 0, 1, 0, 1], window_end=T0, error_count=1)
    assert (w.n, w.n_correct, w.confusion, w.total_inferences) == (5, 3, (2, 1, 1), 6)
    assert w.f1 == pytest.approx(4 / 6)


def test_policy_refuses_nonsense_thresholds():
    with pytest.raises(InvalidInput):
        RollbackPolicy(performance_drop=1.5)
    with pytest.raises(InvalidInput):
        RollbackPolicy(consecutive=0)
    with pytest.raises(InvalidInput):
        RollbackPolicy(confidence=1.0)


# --- single-window triggers ------------------------------------------------------------------


def test_a_healthy_window_is_healthy_with_no_triggers():
    a = assess_rollback_needs(BASE, window(acc=0.58), None, POLICY, T0)
    assert (a.status, a.should_rollback, a.triggers) == ("healthy", False, ())
    assert (a.severity, a.consecutive_count) == ("low", 0)
    assert a.confidence < 0.05 and a.evidence is None


def test_an_accuracy_drop_beyond_threshold_triggers_performance_degradation():
    a = assess_rollback_needs(BASE, window(acc=0.45, f1=0.60), None, POLICY, T0)
    assert a.triggers == ("performance_degradation",)
    assert a.status == "triggered_pending" and a.consecutive_count == 1 and not a.should_rollback
    assert a.degradation == pytest.approx(0.25)
    assert any("accuracy 0.450 is 25% below" in r for r in a.reasons)


def test_an_accuracy_drop_within_threshold_does_not_trigger():
    a = assess_rollback_needs(BASE, window(acc=0.52, f1=0.60), None, POLICY, T0)
    assert a.status == "healthy" and a.triggers == ()
    assert a.degradation == pytest.approx(0.08 / 0.6)


def test_an_f1_drop_triggers_even_when_accuracy_holds():
    a = assess_rollback_needs(BASE, window(acc=0.60, f1=0.40), None, POLICY, T0)
    assert a.triggers == ("performance_degradation",)
    assert a.details["f1_p_value"] < 0.05


def test_an_f1_drop_without_confusion_counts_is_reported_as_untestable_and_never_rolls_back():
    windows = [window(i, acc=0.60, f1=0.40, counts=False) for i in range(6)]
    assessments, _ = run(windows)
    assert all(a.status == "triggered_pending" for a in assessments)
    assert not any(a.should_rollback for a in assessments)
    assert any("cannot be tested statistically" in r for r in assessments[0].reasons)


def test_an_error_rate_above_threshold_triggers():
    a = assess_rollback_needs(BASE, window(errors=80, inferences=500), None, POLICY, T0)
    assert a.triggers == ("error_rate",)
    assert any("16.0% of 500 inference calls failed" in r for r in a.reasons)


def test_an_error_rate_on_too_few_inferences_does_not_trigger():
    w = LiveWindow(window_end=T0, n=0, error_count=50, total_inferences=100)
    a = assess_rollback_needs(BASE, w, None, POLICY, T0)
    assert a.triggers == () and a.status == "insufficient_evidence"


def test_persistent_error_rate_rolls_back_after_n_assessments():
    assessments, _ = run([window(i, errors=100, inferences=600) for i in range(3)])
    assert [a.status for a in assessments] == ["triggered_pending", "triggered_pending", "rollback"]


def test_drift_alone_never_rolls_back_but_raises_severity_and_advises_retraining():
    assessments, history = run([window(i, psi=2.5) for i in range(20)])
    assert not any(a.should_rollback for a in assessments)
    assert all(a.status == "healthy" and a.triggers == ("drift",) for a in assessments)
    assert assessments[0].severity == "medium"
    assert any("retrain on recent data" in r for r in assessments[0].reasons)
    assert history.consecutive_count == 0


def test_drift_below_its_threshold_is_not_a_trigger():
    a = assess_rollback_needs(BASE, window(psi=0.2), None, POLICY, T0)
    assert a.triggers == ()


def test_drift_together_with_degradation_raises_severity():
    plain = assess_rollback_needs(BASE, window(acc=0.48), None, POLICY, T0)
    drifted = assess_rollback_needs(BASE, window(acc=0.48, psi=0.4), None, POLICY, T0)
    assert plain.severity == "high" and drifted.severity == "critical"
    assert drifted.triggers == ("performance_degradation", "drift")
    assert drifted.risk > plain.risk


def test_a_drop_twice_the_threshold_is_critical():
    a = assess_rollback_needs(BASE, window(acc=0.40), None, POLICY, T0)
    assert a.severity == "critical"


def test_confidence_grows_with_the_amount_of_evidence():
    small = assess_rollback_needs(BASE, window(n=200, acc=0.48), None, POLICY, T0)
    large = assess_rollback_needs(BASE, window(n=2_000, acc=0.48), None, POLICY, T0)
    assert 0.0 <= small.confidence < large.confidence <= 1.0
    assert large.details["accuracy_upper_bound"] < small.details["accuracy_upper_bound"]


# --- sample minimum ---------------------------------------------------------------------------


def test_below_min_samples_is_insufficient_evidence_and_never_rolls_back():
    assessments, _ = run([window(i, n=150, acc=0.20) for i in range(10)])
    assert all(a.status == "insufficient_evidence" and not a.should_rollback for a in assessments)
    assert "only 150 labelled outcomes" in assessments[0].reasons[0]


def test_an_insufficient_window_neither_confirms_nor_clears_a_pending_streak():
    ws = [window(0, acc=0.40), window(1, acc=0.40), window(2, n=100, acc=0.60), window(3, acc=0.40)]
    assessments, _ = run(ws)
    assert [a.consecutive_count for a in assessments] == [1, 2, 2, 3]
    statuses = [a.status for a in assessments]
    assert statuses == ["triggered_pending", "triggered_pending", "insufficient_evidence", "rollback"]


# --- consecutive rule ---------------------------------------------------------------------------


def test_a_trigger_must_persist_for_n_consecutive_assessments():
    assessments, _ = run([window(i, acc=0.42) for i in range(3)])
    assert [a.consecutive_count for a in assessments] == [1, 2, 3]
    assert [a.should_rollback for a in assessments] == [False, False, True]
    assert any("persisted for 3 consecutive" in r for r in assessments[-1].reasons)


def test_a_healthy_assessment_resets_the_streak():
    ws = [window(0, acc=0.42), window(1, acc=0.42), window(2, acc=0.60), window(3, acc=0.42), window(4, acc=0.42)]
    assessments, _ = run(ws)
    assert [a.consecutive_count for a in assessments] == [1, 2, 0, 1, 2]
    assert not any(a.should_rollback for a in assessments)


def test_the_number_of_consecutive_assessments_is_a_policy_setting():
    assessments, _ = run([window(0, acc=0.42)], policy=RollbackPolicy(consecutive=1))
    assert assessments[0].should_rollback


def test_a_persistent_drop_that_is_not_yet_significant_keeps_watching_until_it_is():
    # 19% drop on 200 outcomes per window: each window alone is inconclusive, the pool becomes clear.
    assessments, _ = run([window(i, n=200, acc=0.485) for i in range(12)])
    statuses = [a.status for a in assessments]
    assert statuses[:3] == ["triggered_pending"] * 3
    assert "not yet statistically clear" in " ".join(assessments[2].reasons)
    assert "rollback" in statuses
    confidences = [a.confidence for a in assessments]
    assert confidences == sorted(confidences)


def test_streak_windows_are_pooled_only_when_they_do_not_overlap():
    disjoint, _ = run([window(i, acc=0.42) for i in range(3)])
    assert disjoint[-1].evidence.windows == 3 and disjoint[-1].evidence.n == 1_500
    overlapping = [window(0, acc=0.42)] + [
        LiveWindow(window_start=T0, window_end=T0 + (i + 1) * HOUR, n=500, n_correct=210, total_inferences=500)
        for i in range(1, 3)
    ]
    assessments, _ = run(overlapping)
    assert assessments[-1].evidence.windows == 1


# --- cooldown, manual, history -----------------------------------------------------------------


def test_no_automatic_rollback_during_the_cooldown_after_a_rollback():
    history = record_rollback(SlotHistory(), 7, T0)
    ws = [window(i, acc=0.30) for i in range(5)]  # hours 1..5 after the rollback
    assessments, history = run(ws, history=history)
    assert all(a.status == "cooldown" and not a.should_rollback for a in assessments)
    assert all(a.consecutive_count == 0 for a in assessments)
    assert "automatic rollbacks pause until" in assessments[0].reasons[-1]


def test_counting_starts_afresh_once_the_cooldown_is_over():
    history = record_rollback(SlotHistory(), 7, T0)
    assessments, _ = run([window(i, acc=0.30) for i in range(6, 9)], history=history)
    assert [a.status for a in assessments] == ["triggered_pending", "triggered_pending", "rollback"]


def test_a_manual_request_rolls_back_at_once_even_without_evidence_or_during_cooldown():
    history = record_rollback(SlotHistory(), 7, T0)
    w = LiveWindow(window_end=T0 + HOUR, n=10, n_correct=9)
    a = assess_rollback_needs(BASE, w, history, POLICY, T0 + HOUR, manual_reason="exchange changed tick size")
    assert a.should_rollback and a.status == "rollback"
    assert "manual" in a.triggers and a.confidence == 1.0
    assert "exchange changed tick size" in a.reasons[0]


def test_next_history_carries_the_streak_and_bounded_recent_statuses():
    _, history = run([window(i, acc=0.42) for i in range(2)])
    assert history.consecutive_count == 2 and history.evidence.windows == 2
    assert history.recent_statuses == ("triggered_pending", "triggered_pending")
    assert history.last_assessed_at == T0 + 2 * HOUR
    _, long = run([window(i) for i in range(30)])
    assert len(long.recent_statuses) == 20


def test_slot_history_round_trips_through_strict_json():
    _, history = run([window(i, acc=0.42) for i in range(2)])
    history = record_rollback(history, 4, T0 + 2 * HOUR)
    later = T0 + 4 * HOUR
    history = next_history(history, assess_rollback_needs(BASE, window(3, acc=0.42), history, POLICY, later), later)
    back = SlotHistory.from_dict(json.loads(json.dumps(history.to_dict(), allow_nan=False)))
    assert back == history
    assert SlotHistory.from_dict(None) == SlotHistory()


def test_record_rollback_starts_cooldown_clears_the_streak_and_bars_the_version():
    _, history = run([window(i, acc=0.42) for i in range(2)])
    after = record_rollback(history, 9, T0 + 3 * HOUR)
    assert after.consecutive_count == 0 and after.evidence is None
    assert after.last_rollback_at == T0 + 3 * HOUR
    assert after.rolled_back_for_cause == {9: T0 + 3 * HOUR}
    assert record_rollback(history, 9, T0, for_cause=False).rolled_back_for_cause == {}


def test_naive_datetimes_are_taken_as_utc():
    history = SlotHistory(last_rollback_at=datetime(2025, 3, 1, 0, 0))
    a = assess_rollback_needs(BASE, window(acc=0.3), history, POLICY, datetime(2025, 3, 1, 1, 0))
    assert a.status == "cooldown"


def test_assessment_to_dict_is_strict_json():
    a = assess_rollback_needs(BASE, window(acc=0.42, psi=0.3), None, POLICY, T0)
    d = json.loads(json.dumps(a.to_dict(), allow_nan=False))
    assert d["status"] == "triggered_pending" and d["triggers"] == ["performance_degradation", "drift"]
    assert d["evidence"]["n"] == 500


def test_evidence_round_trips_without_confusion_counts():
    ev = Evidence.of(window(counts=False))
    assert ev.confusion is None
    assert Evidence.from_dict(json.loads(json.dumps(ev.to_dict()))) == ev


# --- simulation ---------------------------------------------------------------------------------


def simulated_window(rng: np.random.Generator, i: int, accuracy: float, *, error_rate: float = 0.01) -> LiveWindow:
    """A window of binomially noisy outcomes of a balanced binary classifier with the given accuracy."""
    n = int(rng.integers(300, 1_001))
    y = rng.random(n) < 0.5
    right = rng.random(n) < accuracy
    pred = np.where(right, y, ~y)
    inferences = n + int(rng.integers(0, 200))
    return LiveWindow.from_outcomes(
        y.astype(int), pred.astype(int),
        window_start=T0 + i * HOUR, window_end=T0 + (i + 1) * HOUR,
        error_count=int(rng.binomial(inferences, error_rate)), total_inferences=inferences,
        max_psi=float(rng.gamma(2.0, 0.02)),  # healthy drift noise, mostly < 0.1
    )


def simulate(accuracy: float, cycles: int, seed: int, policy: RollbackPolicy = POLICY) -> list[int]:
    """Cycle numbers (1-based) at which a rollback was decided."""
    rng = np.random.default_rng(seed)
    baseline = Baseline(accuracy=0.58, f1=0.58)
    history = SlotHistory()
    rollbacks = []
    for i in range(cycles):
        w = simulated_window(rng, i, accuracy)
        a = assess_rollback_needs(baseline, w, history, policy, w.window_end)
        history = next_history(history, a, w.window_end)
        if a.should_rollback:
            rollbacks.append(i + 1)
            history = record_rollback(history, 1, w.window_end)
    return rollbacks


def test_noisy_but_healthy_metrics_over_1000_cycles_never_roll_back():
    assert simulate(0.58, 1_000, seed=11) == []


@pytest.mark.parametrize("seed", range(20))
def test_a_real_25_percent_degradation_is_rolled_back_within_n_or_n_plus_one_cycles(seed):
    rollbacks = simulate(0.58 * 0.75, POLICY.consecutive + 1, seed=seed)
    assert rollbacks and rollbacks[0] in (POLICY.consecutive, POLICY.consecutive + 1)


# --- candidate choice ---------------------------------------------------------------------------


def cand(version: int, **kw) -> Candidate:
    defaults = dict(status="rollback_candidate", artifact_verified=True, validation_metrics={"f1": 0.55})
    return Candidate(version=version, **{**defaults, **kw})


def choose(cands: list[Candidate], current: int = 10, **kw):
    return choose_rollback_target(cands, current, POLICY, T0, **kw)


def excluded_reasons(choice, version: int) -> str:
    row = next(r for r in choice.ranking if r.version == version)
    assert not row.eligible and row.rank is None
    return " ".join(row.reasons)


@pytest.mark.parametrize(
    "bad,words",
    [
        (dict(status="failed", validation_metrics={"f1": 0.99}), "marked failed"),
        (dict(quarantined=True, validation_metrics={"f1": 0.99}), "quarantined"),
        (dict(artifact_verified=False, validation_metrics={"f1": 0.99}), "did not verify"),
        (dict(status="staging", validation_metrics={"f1": 0.99}), "status is 'staging'"),
        (dict(status="production", validation_metrics={"f1": 0.99}), "status is 'production'"),
    ],
)
def test_an_unsafe_version_is_never_chosen_however_good_it_looks(bad, words):
    choice = choose([cand(1, served_production_without_incident=True, **bad), cand(2)])
    assert choice.target == 2
    assert words in excluded_reasons(choice, 1)


def test_the_version_being_rolled_back_is_never_its_own_target():
    choice = choose([cand(10, validation_metrics={"f1": 0.99}), cand(3)], current=10)
    assert choice.target == 3
    assert "being rolled back" in excluded_reasons(choice, 10)


def test_a_version_rolled_back_for_cause_cannot_return_within_the_no_return_window():
    recent = cand(5, served_production_without_incident=True, rolled_back_for_cause_at=T0 - timedelta(days=2))
    choice = choose([recent, cand(4)])
    assert choice.target == 4
    assert "barred until" in excluded_reasons(choice, 5)


def test_a_version_rolled_back_for_cause_long_ago_is_eligible_again():
    old = cand(5, served_production_without_incident=True, rolled_back_for_cause_at=T0 - timedelta(days=8))
    assert choose([old, cand(4)]).target == 5


def test_the_slot_history_also_bars_recently_rolled_back_versions():
    history = record_rollback(SlotHistory(), 5, T0 - HOUR)
    choice = choose([cand(5, served_production_without_incident=True), cand(4)], history=history)
    assert choice.target == 4


def test_no_eligible_version_means_no_target():
    choice = choose([cand(1, status="failed"), cand(2, quarantined=True), cand(10)])
    assert choice.target is None
    assert choice.reason.startswith("no safe candidate")
    assert len(choice.ranking) == 3 and not any(r.eligible for r in choice.ranking)
    assert choose([]).target is None


def test_versions_that_served_production_without_incident_come_first():
    choice = choose([cand(1, validation_metrics={"f1": 0.70}), cand(2, served_production_without_incident=True)])
    assert choice.target == 2


def test_live_performance_with_enough_samples_outranks_validation_scores():
    live = cand(1, live_metrics={"f1": 0.52}, live_samples=800)
    paper = cand(2, validation_metrics={"f1": 0.70})
    choice = choose([live, paper])
    assert choice.target == 1
    assert choice.ranking[0].score_source == "live" and choice.ranking[1].score_source == "validation"


def test_live_metrics_on_too_few_samples_fall_back_to_validation():
    thin = cand(1, live_metrics={"f1": 0.90}, live_samples=50, validation_metrics={"f1": 0.50})
    choice = choose([thin, cand(2, validation_metrics={"f1": 0.60})])
    assert choice.target == 2
    assert any("only 50 live outcomes" in r for r in choice.ranking[1].reasons)


def test_a_better_score_wins_within_the_same_tier():
    choice = choose([cand(1, validation_metrics={"f1": 0.58}), cand(2, validation_metrics={"f1": 0.61})])
    assert [r.version for r in choice.ranking] == [2, 1]
    assert [r.rank for r in choice.ranking] == [1, 2]


def test_ties_go_to_the_most_recent_production_service_then_the_newest_version():
    a = cand(1, last_production_end=T0 - timedelta(days=1))
    b = cand(2, last_production_end=T0 - timedelta(days=3))
    c = cand(3)
    assert [r.version for r in choose([a, b, c]).ranking] == [1, 2, 3]
    assert choose([cand(2), cand(3)]).target == 3


def test_lifecycle_enum_statuses_are_accepted():
    class Status(enum.Enum):
        ARCHIVED = "archived"
        FAILED = "failed"

    choice = choose([cand(1, status=Status.FAILED), cand(2, status=Status.ARCHIVED)])
    assert choice.target == 2


def test_random_candidate_sets_never_yield_an_unsafe_target():
    rng = np.random.default_rng(5)
    statuses = ["staging", "canary", "production", "rollback_candidate", "archived", "failed"]
    for _ in range(500):
        cands = [
            Candidate(
                version=v,
                status=str(rng.choice(statuses)),
                quarantined=bool(rng.random() < 0.3),
                artifact_verified=bool(rng.random() < 0.7),
                validation_metrics={"f1": float(rng.random())},
                live_metrics={"f1": float(rng.random())} if rng.random() < 0.5 else None,
                live_samples=int(rng.integers(0, 1_000)),
                served_production_without_incident=bool(rng.random() < 0.5),
                rolled_back_for_cause_at=T0 - timedelta(days=float(rng.uniform(0, 14))) if rng.random() < 0.3 else None,
            )
            for v in range(1, int(rng.integers(1, 8)))
        ]
        current = int(rng.integers(1, 8))
        choice = choose_rollback_target(cands, current, POLICY, T0)
        if choice.target is None:
            continue
        chosen = next(c for c in cands if c.version == choice.target)
        assert chosen.status in ("rollback_candidate", "archived")
        assert not chosen.quarantined and chosen.artifact_verified and chosen.version != current
        assert chosen.rolled_back_for_cause_at is None or T0 - chosen.rolled_back_for_cause_at >= POLICY.no_return


def test_candidate_choice_to_dict_is_strict_json():
    choice = choose([cand(1, validation_metrics={}), cand(2, status="failed")])
    d = json.loads(json.dumps(choice.to_dict(), allow_nan=False))
    assert d["target"] == 1 and d["ranking"][0]["score"] is None

"""Rollback target choice: never an unsafe version; ranked on live, then holdout (never validation
first) skill."""

from __future__ import annotations

import enum
import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import numpy as np
import pytest

from alphaplus.rollback.inputs import candidate
from alphaplus.rollback.policy import RollbackPolicy, SlotHistory, record_rollback
from alphaplus.rollback.statistics import Confusion
from alphaplus.rollback.target import Candidate, choose_rollback_target

T0 = datetime(2025, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
POLICY = RollbackPolicy()
M = POLICY.ranking_metric


def cand(version: int, **kw) -> Candidate:
    defaults = dict(status="rollback_candidate", artifact_verified=True, baseline_metrics={M: 0.05})
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
        (dict(status="failed", baseline_metrics={M: 0.30}), "marked failed"),
        (dict(quarantined=True, baseline_metrics={M: 0.30}), "quarantined"),
        (dict(artifact_verified=False, baseline_metrics={M: 0.30}), "did not verify"),
        (dict(status="staging", baseline_metrics={M: 0.30}), "status is 'staging'"),
        (dict(status="production", baseline_metrics={M: 0.30}), "status is 'production'"),
    ],
)
def test_an_unsafe_version_is_never_chosen_however_good_it_looks(bad, words):
    choice = choose([cand(1, served_production_without_incident=True, **bad), cand(2)])
    assert choice.target == 2
    assert words in excluded_reasons(choice, 1)


def test_the_version_being_rolled_back_is_never_its_own_target():
    choice = choose([cand(10, baseline_metrics={M: 0.30}), cand(3)], current=10)
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


def test_the_no_return_window_is_counted_on_the_clock_of_the_slot_history():
    # A replay decides at simulated times while the database stamps its events with the real time: the
    # event looks recent, the history (kept at the service's clock) says eight days ago.
    history = record_rollback(SlotHistory(), 5, T0 - timedelta(days=8))
    far = cand(5, served_production_without_incident=True, rolled_back_for_cause_at=T0 + timedelta(days=700))
    assert choose([far, cand(4)], history=history).target == 5
    recent = record_rollback(SlotHistory(), 5, T0 - timedelta(days=2))
    assert choose([far, cand(4)], history=recent).target == 4


def test_no_eligible_version_means_no_target():
    choice = choose([cand(1, status="failed"), cand(2, quarantined=True), cand(10)])
    assert choice.target is None
    assert choice.reason.startswith("no safe candidate")
    assert len(choice.ranking) == 3 and not any(r.eligible for r in choice.ranking)
    assert choose([]).target is None


def test_a_no_candidate_reason_names_each_excluded_version_and_why_rather_than_pointing_elsewhere():
    choice = choose([cand(1, status="failed"), cand(2, quarantined=True), cand(10)], current=10)
    assert "see ranking" not in choice.reason
    assert "version 2: it is quarantined" in choice.reason and "version 1: it is marked failed" in choice.reason
    only_itself = choose([cand(10)], current=10)
    assert only_itself.reason == "no safe candidate: the slot has no other version to restore"


def test_versions_that_served_production_without_incident_come_first():
    choice = choose([cand(1, baseline_metrics={M: 0.20}), cand(2, served_production_without_incident=True)])
    assert choice.target == 2


def test_live_performance_with_enough_independent_outcomes_outranks_holdout_scores():
    live = cand(1, live_metrics={M: 0.02}, live_samples=800, label_horizon=12)
    paper = cand(2, baseline_metrics={M: 0.20})
    choice = choose([live, paper])
    assert choice.target == 1
    assert choice.ranking[0].score_source == "live" and choice.ranking[1].score_source == "holdout"


def test_live_metrics_on_too_few_independent_outcomes_fall_back_to_holdout():
    thin = cand(1, live_metrics={M: 0.40}, live_samples=300, label_horizon=12, baseline_metrics={M: 0.02})
    choice = choose([thin, cand(2, baseline_metrics={M: 0.06})])
    assert choice.target == 2  # 300 rows of a 12-bar horizon are 25 independent outcomes, fewer than 30
    assert any("only 300 live outcomes (need 360)" in r for r in choice.ranking[1].reasons)


def test_a_better_score_wins_within_the_same_tier():
    choice = choose([cand(1, baseline_metrics={M: 0.04}), cand(2, baseline_metrics={M: 0.07})])
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
                baseline_metrics={M: float(rng.random())},
                live_metrics={M: float(rng.random())} if rng.random() < 0.5 else None,
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
    choice = choose([cand(1, baseline_metrics={}), cand(2, status="failed")])
    d = json.loads(json.dumps(choice.to_dict(), allow_nan=False))
    assert d["target"] == 1 and d["ranking"][0]["score"] is None


def _record(version: int, *, holdout: dict | None, validation: dict) -> SimpleNamespace:
    totals = SimpleNamespace(n=0, windows=0, confusion=None, label_horizon=None)
    return SimpleNamespace(
        version=version, status="rollback_candidate", quarantine_reason=None, recent=totals,
        training_metrics={"holdout": holdout} if holdout else {}, validation_metrics=validation,
        served_production=False, rolled_back_for_cause_at=None, last_production_end=None,
    )


def test_candidates_are_ranked_on_holdout_skill_not_on_the_rosier_validation_scores():
    # v1: validation 0.70 but holdout 0.51 (validation chose its early-stopping iteration); v2: 0.56 on both.
    v1 = _record(1, holdout=Confusion(51, 49, 49, 51).to_dict(),
                 validation={"n": 200, "accuracy": 0.70, "recall": 0.7, "class_balance": 0.5, "positive_rate": 0.5})
    v2 = _record(2, holdout=Confusion(56, 44, 44, 56).to_dict(),
                 validation={"n": 200, "accuracy": 0.56, "recall": 0.56, "class_balance": 0.5, "positive_rate": 0.5})
    choice = choose_rollback_target([candidate(v1, True), candidate(v2, True)], 10, POLICY, T0)
    assert choice.target == 2 and choice.ranking[0].score_source == "holdout"
    assert choice.ranking[0].score == pytest.approx(0.06)


def test_a_version_stored_without_holdout_is_ranked_on_validation_and_says_so():
    old = _record(3, holdout=None,
                  validation={"n": 200, "accuracy": 0.60, "recall": 0.6, "class_balance": 0.5, "positive_rate": 0.5})
    choice = choose_rollback_target([candidate(old, True)], 10, POLICY, T0)
    assert choice.target == 3 and choice.ranking[0].score_source == "validation"
    assert "validation balanced_accuracy_skill +0.100" in choice.reason

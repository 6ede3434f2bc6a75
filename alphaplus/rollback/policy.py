"""Rollback policy: decide from live evidence whether a slot's production model must be rolled back.

One assessment takes the live evidence that arrived since the previous one and the slot's history;
it never touches the database, so a caller persists ``next_history(...)`` between runs.

Loss of edge (trigger ``performance_degradation``)
- Skill is measured over no-skill references on the same outcomes: balanced accuracy over 0.5, and
  accuracy over the version's constant reference (its training window's majority class).  The
  baseline is the version's HOLDOUT outcomes (never the validation set, which chose the early-stopping
  iteration); versions registered without holdout counts fall back to validation, and say so.
- Evidence is counted in independent outcomes: rows / label horizon.  Every ``look_outcomes`` of new
  outcomes make a look; a look tests the rolling window of the last ``window_looks`` looks, once it
  holds ``min_outcomes``.
- The test is two-sample: live skill vs holdout skill, with both sides' variances inflated by the
  version's design effect (holdout rows / effective holdout size, measured by block bootstrap at
  training), so the baseline's own uncertainty and the overlap of labels count.
- A look confirms a loss of edge when a skill's Holm-adjusted one-sided p-value is below
  ``1 - confidence`` AND its point estimate fell by at least ``performance_drop`` (relative) of the
  baseline skill.  ``consecutive`` confirming looks in a row roll back.

Errors (trigger ``error_rate``): every ``min_inferences`` inference calls make an error check, an exact
binomial test of the failed share (pooled over the error streak) above ``error_rate``; ``consecutive``
confirming checks in a row roll back.  The skill metrics, tested together on the same outcomes, form
one Holm family at ``1 - confidence``; the error test asks another question of other data (calls,
against a fixed limit) and has its own level.

Drift (``drift``): the largest feature PSI over the latest distinct bars at or above the version's
threshold calibrated at training (else ``psi``).  Drift ALONE NEVER ROLLS BACK: inputs moved, which an
older version trained on older data would suffer too; the remedy is retraining.  It raises severity.

Manual: an operator's request (``manual_reason``) rolls back at once, bypassing evidence, streaks and
cooldown, but never the safety rules of ``choose_rollback_target``.

Cooldown: after any rollback of the slot, automatic rollbacks pause until ``cooldown_outcomes``
independent outcomes (or as many horizons of inference calls) have arrived.

Rule order: manual -> cooldown -> rollback (a streak reached ``consecutive``) -> triggered_pending (a
trigger confirmed now, or before and not yet cleared by a test) -> insufficient_evidence (nothing could
be tested) -> healthy.  ``market_shift`` is set by the service,
which sees every slot of a run (``alphaplus.rollback.market``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType

from alphaplus.rollback.baseline import Baseline
from alphaplus.rollback.config import RollbackPolicy
from alphaplus.rollback.state import (
    Evidence,
    LiveWindow,
    RollbackAssessment,
    Severity,
    SlotHistory,
    Status,
    TriggerType,
    as_utc,
    json_float,
)
from alphaplus.rollback.statistics import MetricTest, error_rate_test, holm, skill_drop_tests
from alphaplus.rollback.wording import findings_reasons, verdict_reason

__all__ = [
    "Baseline", "Evidence", "LiveWindow", "RollbackAssessment", "RollbackPolicy", "SlotHistory",
    "assess_rollback_needs", "next_history", "record_rollback", "ready_to_assess",
]

_SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high", "critical")
# Weights turn severity into the 0..1 risk score dashboards sort by.
_SEVERITY_WEIGHT = {"low": 0.1, "medium": 0.4, "high": 0.7, "critical": 1.0}


def horizon_of(baseline: Baseline, live: LiveWindow) -> int:
    """Bars per label: the live windows' (from the version's metadata), else the baseline's, else 1."""
    return max(1, int(live.label_horizon or baseline.label_horizon or 1))


def ready_to_assess(history: SlotHistory | None, live: LiveWindow, policy: RollbackPolicy, horizon: int) -> bool:
    """True when ``live`` completes a look or an error check; otherwise a caller should wait for more."""
    history = history or SlotHistory()
    pending = history.pending + live.evidence
    return pending.n >= policy.look_outcomes * horizon or pending.inferences >= policy.min_inferences


@dataclass(frozen=True)
class _Findings:
    """What the tests of one assessment established."""

    tests: tuple[MetricTest, ...]
    edge_tested: bool
    edge_confirmed: bool
    errors_tested: bool
    errors_confirmed: bool
    window: Evidence
    degradation: float | None


def _material(t: MetricTest, policy: RollbackPolicy) -> bool:
    """A statistically clear drop also has to be large: ``performance_drop`` of a positive baseline
    skill (any drop when the baseline had none); an error rate has to reach the limit."""
    if t.metric == "error_rate":
        return t.live >= t.reference
    drop = t.relative_drop
    return drop >= policy.performance_drop if drop is not None else t.live < t.reference


def _edge_tests(baseline: Baseline, window: Evidence, horizon: int, policy: RollbackPolicy) -> list[MetricTest]:
    if baseline.confusion is None or window.confusion is None:
        return []
    return skill_drop_tests(window.confusion, baseline.confusion, baseline.reference_class,
                            baseline.design_effect(horizon), policy.skill_metrics)


def _test(baseline: Baseline, history: SlotHistory, pending: Evidence, calls: Evidence, policy: RollbackPolicy,
          horizon: int) -> tuple[_Findings, bool, bool]:
    """Run the tests that are due; returns the findings, whether a look and an error check happened."""
    look = pending.n >= policy.look_outcomes * horizon
    window = Evidence.pool((*history.looks, pending)[-policy.window_looks:] if look else history.looks)
    testable = look and window.n >= policy.min_outcomes * horizon
    edge = _edge_tests(baseline, window, horizon, policy) if testable else []
    check = calls.inferences >= policy.min_inferences
    pooled_calls = history.error_evidence + calls if history.error_streak else calls
    errors = [error_rate_test(pooled_calls.errors, pooled_calls.inferences, policy.error_rate)] if check else []
    tests = (*holm(edge), *holm(errors))
    confirmed = [t for t in tests if t.adjusted_p is not None and t.adjusted_p < policy.alpha and _material(t, policy)]
    drops = [t.relative_drop for t in tests if t.metric != "error_rate" and t.relative_drop is not None]
    findings = _Findings(
        tests=tests, edge_tested=bool(edge), edge_confirmed=any(t.metric != "error_rate" for t in confirmed),
        errors_tested=check, errors_confirmed=any(t.metric == "error_rate" for t in confirmed),
        window=window, degradation=max(drops) if drops else None,
    )
    return findings, look, check


def _carry(history: SlotHistory, f: _Findings, pending: Evidence, calls: Evidence, since: Evidence,
           look: bool, check: bool, policy: RollbackPolicy, in_cooldown: bool) -> SlotHistory:
    """Streaks, the rolling window and the not yet consumed evidence after this assessment."""
    edge_streak = history.consecutive_count
    if f.edge_tested:
        edge_streak = edge_streak + 1 if f.edge_confirmed and not in_cooldown else 0
    error_streak, error_evidence = history.error_streak, history.error_evidence
    if f.errors_tested:
        streaking = f.errors_confirmed and not in_cooldown
        error_streak = error_streak + 1 if streaking else 0
        pooled = history.error_evidence + calls if history.error_streak else calls
        error_evidence = pooled if streaking else Evidence()
    looks = (*history.looks, pending.counts_only())[-policy.window_looks:] if look else history.looks
    rest = calls.calls_only() if not check else Evidence()
    left = (Evidence() if look else pending.outcomes_only()) + rest
    return replace(history, consecutive_count=edge_streak, error_streak=error_streak, looks=looks, pending=left,
                   error_evidence=error_evidence, since_rollback=since)


def _cooled(since: Evidence, horizon: int, policy: RollbackPolicy) -> bool:
    need = policy.cooldown_outcomes * horizon
    return since.n >= need or since.inferences >= need


def assess_rollback_needs(
    baseline: Baseline,
    live: LiveWindow,
    history: SlotHistory | None,
    policy: RollbackPolicy | None,
    now: datetime,
    *,
    manual_reason: str | None = None,
) -> RollbackAssessment:
    """Assess the live evidence of a slot since its last assessment; see the module docstring."""
    policy = policy or RollbackPolicy()
    history = history or SlotHistory()
    now = as_utc(now)
    horizon = horizon_of(baseline, live)
    block = live.evidence
    pending = history.pending.outcomes_only() + block.outcomes_only()
    calls = history.pending.calls_only() + block.calls_only()
    since = history.since_rollback + block if history.last_rollback_at is not None else Evidence()
    in_cooldown = history.last_rollback_at is not None and not _cooled(since, horizon, policy)

    f, look, check = _test(baseline, history, pending, calls, policy, horizon)
    carry = _carry(history, f, pending, calls, since, look, check, policy, in_cooldown)
    threshold = live.psi_threshold if live.psi_threshold is not None else policy.psi
    drift = live.max_psi is not None and live.max_psi >= threshold
    triggers: list[TriggerType] = []
    if f.edge_confirmed:
        triggers.append("performance_degradation")
    if f.errors_confirmed:
        triggers.append("error_rate")
    if drift:
        triggers.append("drift")

    reasons = findings_reasons(baseline, f.tests, f.window, pending, calls, policy, horizon, look, check,
                               live, threshold, drift, fired=bool(f.edge_confirmed or f.errors_confirmed))
    status, should = _verdict(history, carry, f, policy, manual_reason, in_cooldown)
    reasons = verdict_reason(reasons, status, history, carry, since, policy, horizon, manual_reason, baseline,
                             f.tests)
    confidence = 1.0 if manual_reason is not None else max(
        (1.0 - t.adjusted_p for t in f.tests if t.adjusted_p is not None), default=0.0)
    severity = _severity(f, drift, manual_reason is not None, policy)
    risk = _SEVERITY_WEIGHT[severity] * max(confidence, 0.5 if drift else 0.0)
    if manual_reason is not None:
        triggers.append("manual")
    details = {
        "max_psi": live.max_psi, "psi_threshold": threshold, "error_rate": live.error_rate,
        "live_accuracy": live.accuracy, "horizon": float(horizon),
        "design_effect": baseline.design_effect(horizon),
        **{f"{t.metric}_live": t.live for t in f.tests}, **{f"{t.metric}_baseline": t.reference for t in f.tests},
    }
    return RollbackAssessment(
        should_rollback=should, status=status, triggers=tuple(triggers), severity=severity,
        confidence=float(min(max(confidence, 0.0), 1.0)), risk=float(min(risk, 1.0)), degradation=f.degradation,
        consecutive_count=max(carry.consecutive_count, carry.error_streak), reasons=tuple(reasons),
        evidence=f.window if f.edge_tested else None, baseline_source=baseline.source, tests=f.tests, look=look,
        carry=carry, details=MappingProxyType({k: json_float(v) for k, v in details.items()}),
    )


def _verdict(history: SlotHistory, carry: SlotHistory, f: _Findings, policy: RollbackPolicy, manual_reason: str | None,
             in_cooldown: bool) -> tuple[Status, bool]:
    if manual_reason is not None:
        return "rollback", True
    if in_cooldown:
        return "cooldown", False
    # A rollback is decided by a test that just confirmed the streak, never by a streak held over.
    if (f.edge_confirmed and carry.consecutive_count >= policy.consecutive) or (
            f.errors_confirmed and carry.error_streak >= policy.consecutive):
        return "rollback", True
    held = (carry.consecutive_count and not f.edge_tested) or (carry.error_streak and not f.errors_tested)
    if f.edge_confirmed or f.errors_confirmed or held:
        return "triggered_pending", False  # confirmed now, or confirmed before and not yet cleared
    if not (f.edge_tested or f.errors_tested):
        return "insufficient_evidence", False
    return "healthy", False


def _severity(f: _Findings, drift: bool, manual: bool, policy: RollbackPolicy) -> Severity:
    level = 2 if (f.edge_confirmed or f.errors_confirmed or manual) else 0
    # Two symptoms at once, skill below no skill at all, or twice the error limit is critical.
    below_zero = any(t.metric != "error_rate" and t.live < 0 and t.adjusted_p is not None
                     and t.adjusted_p < policy.alpha for t in f.tests)
    double_errors = any(t.metric == "error_rate" and t.live >= 2 * policy.error_rate for t in f.tests)
    if (f.edge_confirmed and f.errors_confirmed) or (f.edge_confirmed and below_zero) or (
            f.errors_confirmed and double_errors):
        level = 3
    if drift:
        level = min(level + 1, 3)
    return _SEVERITIES[level]


def next_history(history: SlotHistory | None, assessment: RollbackAssessment, now: datetime, *,
                 keep: int = 20) -> SlotHistory:
    """The slot history to persist after ``assessment`` (streaks, test window, recent statuses)."""
    history = history or SlotHistory()
    return replace(
        history, **{name: getattr(assessment.carry, name) for name in SlotHistory.EVIDENCE_FIELDS},
        recent_statuses=(*history.recent_statuses, assessment.status)[-keep:], last_assessed_at=as_utc(now),
    )


def record_rollback(history: SlotHistory | None, rolled_back_version: int, now: datetime, *,
                    for_cause: bool = True) -> SlotHistory:
    """The slot history after ``rolled_back_version`` was taken out of production: starts the cooldown
    (counted in outcomes from here), clears the evidence of the old stint and, when it was for cause,
    bars the version from returning for a while."""
    history = (history or SlotHistory()).new_stint()
    barred = dict(history.rolled_back_for_cause)
    if for_cause:
        barred[int(rolled_back_version)] = as_utc(now)
    return replace(history, since_rollback=Evidence(), last_rollback_at=as_utc(now), rolled_back_for_cause=barred)

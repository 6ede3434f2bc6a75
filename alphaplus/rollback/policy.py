"""Rollback policy: decide from live evidence whether a slot's production model must be rolled back.

One assessment looks at one live window of the production version and the slot's history; it never
touches the database, so a caller persists ``next_history(...)`` between runs.

Triggers
- performance_degradation: live accuracy or F1 at least ``performance_drop`` (relative) below the
  baseline.  The baseline is the version's early live metrics when they have ``min_samples``
  outcomes (they share live label noise and class balance), otherwise its validation metrics.
- error_rate: failed inferences / all inferences at or above ``error_rate``.
- drift: the window's largest feature PSI at or above ``psi``.  Drift ALONE NEVER ROLLS BACK: it says
  inputs moved, not that outcomes got worse, and an older version was trained on even older data, so
  the remedy is retraining.  Drift raises severity by one step and is reported with that advice.
- manual: an operator's request (``manual_reason``); rolls back at once, bypassing sample minimums,
  the consecutive rule and the cooldown, but never the safety rules of ``choose_rollback_target``.

Evidence and anti-flapping
- A window below ``min_samples`` labelled outcomes cannot trigger a performance rollback (nor can
  fewer than ``min_samples`` inferences trigger on errors): status ``insufficient_evidence``, and a
  pending streak is neither confirmed nor cleared.
- A trigger must fire in ``consecutive`` consecutive assessments.  The windows of the streak are pooled
  (when they do not overlap: ``window_start`` at or after the previous ``window_end``), and the rollback
  also needs the pooled drop to be statistically clear: the one-sided exact (Clopper-Pearson) upper
  bound of live accuracy at ``confidence`` must lie below baseline * (1 - performance_drop); likewise for
  F1 (via its Jaccard form, a binomial proportion, when the window has confusion counts) or the lower
  bound of the error rate above ``error_rate``.  Pooling gives power: a real drop is confirmed after
  ``consecutive`` windows even when one window alone is too small to prove it, while noise has to beat
  both the per-window point check ``consecutive`` times in a row and the pooled test.
- After any rollback of the slot, automatic rollbacks pause for ``cooldown`` (status ``cooldown``; the
  streak restarts from zero, since windows then may still mix the old version's predictions).
- Rule order: manual -> cooldown -> triggered (rollback if streak >= consecutive and significant, else
  triggered_pending) -> insufficient_evidence -> healthy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
# scipy.special's kernels give the same values as scipy.stats' distributions ~40x faster, which
# matters when thousands of slots are assessed per run.
from scipy.special import bdtr, bdtrc, betaincinv

from alphaplus.core.errors import InvalidInput

TriggerType = Literal["performance_degradation", "error_rate", "drift", "manual"]
Status = Literal["healthy", "insufficient_evidence", "triggered_pending", "rollback", "cooldown"]
Severity = Literal["low", "medium", "high", "critical"]

_SEVERITIES: tuple[Severity, ...] = ("low", "medium", "high", "critical")
# Weights turn severity into the 0..1 risk score dashboards sort by.
_SEVERITY_WEIGHT = {"low": 0.1, "medium": 0.4, "high": 0.7, "critical": 1.0}


def as_utc(dt: datetime | None) -> datetime | None:
    """Naive datetimes are taken as UTC so naive and aware values compare."""
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def _iso(dt: datetime | None) -> str | None:
    return None if dt is None else as_utc(dt).isoformat()


def _parse_dt(value: Any) -> datetime | None:
    if value is None:
        return None
    return as_utc(value if isinstance(value, datetime) else datetime.fromisoformat(str(value)))


def json_float(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


@dataclass(frozen=True, kw_only=True)
class RollbackPolicy:
    """Thresholds of the rollback assessment; the settings object constructs one from ``ALPHAPLUS_ROLLBACK_*``.

    performance_drop: relative drop of accuracy or F1 vs the baseline that counts as degradation.
    error_rate: share of failed inferences that counts as a trigger.
    psi: largest feature PSI that counts as drift (a warning; see module docstring).
    min_samples: labelled outcomes (for performance) or inferences (for errors) a window needs before
        it can trigger; also the live/shadow samples a candidate needs to be ranked on live metrics.
    confidence: one-sided confidence level the pooled drop must reach before a rollback.
    consecutive: consecutive assessments a trigger must persist for.
    cooldown: pause of automatic rollbacks after any rollback of the slot.
    no_return: how long a version rolled back for cause may not be chosen as a target again.
    ranking_metric: metric used to rank rollback candidates.
    eligible_statuses: lifecycle statuses a rollback target may have.
    """

    performance_drop: float = 0.15
    error_rate: float = 0.10
    psi: float = 0.25
    min_samples: int = 200
    confidence: float = 0.95
    consecutive: int = 3
    cooldown: timedelta = timedelta(hours=6)
    no_return: timedelta = timedelta(days=7)
    ranking_metric: str = "f1"
    eligible_statuses: tuple[str, ...] = ("rollback_candidate", "archived")

    def __post_init__(self) -> None:
        if not 0.0 < self.performance_drop < 1.0:
            raise InvalidInput(f"performance_drop must be between 0 and 1 (got {self.performance_drop})")
        if not 0.0 < self.error_rate < 1.0:
            raise InvalidInput(f"error_rate must be between 0 and 1 (got {self.error_rate})")
        if not 0.5 <= self.confidence < 1.0:
            raise InvalidInput(f"confidence must be in [0.5, 1) (got {self.confidence})")
        if self.consecutive < 1:
            raise InvalidInput(f"consecutive must be at least 1 (got {self.consecutive})")
        object.__setattr__(self, "eligible_statuses", tuple(self.eligible_statuses))

    @property
    def alpha(self) -> float:
        """One-sided significance level matching ``confidence``."""
        return 1.0 - self.confidence

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe snapshot for audit rows."""
        return {
            "performance_drop": self.performance_drop,
            "error_rate": self.error_rate,
            "psi": self.psi,
            "min_samples": self.min_samples,
            "confidence": self.confidence,
            "consecutive": self.consecutive,
            "cooldown_seconds": self.cooldown.total_seconds(),
            "no_return_seconds": self.no_return.total_seconds(),
            "ranking_metric": self.ranking_metric,
        }


@dataclass(frozen=True, kw_only=True)
class Baseline:
    """What the production version is expected to achieve: validation metrics, and optionally its
    early live metrics (``live_samples`` outcomes), which are preferred once there are enough."""

    accuracy: float | None = None
    f1: float | None = None
    live_accuracy: float | None = None
    live_f1: float | None = None
    live_samples: int = 0

    def reference(self, min_samples: int, max_drop: float = 1.0) -> tuple[float | None, float | None, str]:
        """(accuracy, f1, source) to compare live windows against.

        Early live metrics correct for a steady gap between validation and live (no false alarms
        from it), but a version that is bad from its first window must not become its own yardstick:
        an early live value already more than ``max_drop`` below validation is not used.
        """
        if self.live_samples < min_samples or (self.live_accuracy is None and self.live_f1 is None):
            return self.accuracy, self.f1, "validation"
        acc, acc_live = self._pick(self.accuracy, self.live_accuracy, max_drop)
        f1, f1_live = self._pick(self.f1, self.live_f1, max_drop)
        return acc, f1, "early live" if (acc_live or f1_live) else "validation"

    @staticmethod
    def _pick(validation: float | None, live: float | None, max_drop: float) -> tuple[float | None, bool]:
        if live is None:
            return validation, False
        if validation is not None and live < validation * (1.0 - max_drop):
            return validation, False
        return live, True


@dataclass(frozen=True, kw_only=True)
class LiveWindow:
    """Live evidence of the production version over one window.

    n / n_correct: labelled outcomes and how many predictions were right (accuracy is derived).
    f1: positive-class F1 (same definition as the baseline); derived from the confusion counts when
        omitted.  The counts (true/false positives, false negatives) let the F1 drop be tested.
    error_count / total_inferences: failed vs all inference calls.
    max_psi: largest feature PSI of the window, None when not measured.
    window_start / window_end: consecutive windows must not overlap for their counts to be pooled.
    """

    window_end: datetime
    window_start: datetime | None = None
    n: int = 0
    n_correct: int = 0
    accuracy: float | None = None
    f1: float | None = None
    true_positives: int | None = None
    false_positives: int | None = None
    false_negatives: int | None = None
    error_count: int = 0
    total_inferences: int = 0
    max_psi: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "window_end", as_utc(self.window_end))
        object.__setattr__(self, "window_start", as_utc(self.window_start))
        if self.n < 0 or not 0 <= self.n_correct <= self.n:
            raise InvalidInput(f"need 0 <= n_correct <= n (got n_correct={self.n_correct}, n={self.n})")
        if self.total_inferences < 0 or not 0 <= self.error_count <= self.total_inferences:
            raise InvalidInput(
                f"need 0 <= error_count <= total_inferences (got {self.error_count} of {self.total_inferences})"
            )
        derived = self.n_correct / self.n if self.n else None
        if self.accuracy is not None and derived is not None and abs(self.accuracy - derived) > 1e-6:
            raise InvalidInput(f"accuracy {self.accuracy} disagrees with {self.n_correct}/{self.n} correct")
        object.__setattr__(self, "accuracy", derived if derived is not None else self.accuracy)
        counts = self.confusion
        if counts is not None:
            tp, fp, fn = counts
            if min(counts) < 0 or tp + fp + fn > self.n:
                raise InvalidInput(f"confusion counts tp={tp} fp={fp} fn={fn} do not fit {self.n} outcomes")
            if self.f1 is None and tp + fp + fn > 0:
                object.__setattr__(self, "f1", 2 * tp / (2 * tp + fp + fn))

    @property
    def confusion(self) -> tuple[int, int, int] | None:
        """(tp, fp, fn) when all three are known."""
        c = (self.true_positives, self.false_positives, self.false_negatives)
        return None if any(v is None for v in c) else (int(c[0]), int(c[1]), int(c[2]))

    @property
    def error_rate(self) -> float | None:
        """Failed share of inference calls."""
        return self.error_count / self.total_inferences if self.total_inferences else None

    @classmethod
    def from_outcomes(
        cls,
        y_true: Sequence[Any] | np.ndarray,
        y_pred: Sequence[Any] | np.ndarray,
        *,
        window_end: datetime,
        window_start: datetime | None = None,
        error_count: int = 0,
        total_inferences: int | None = None,
        max_psi: float | None = None,
        positive_label: Any = 1,
    ) -> LiveWindow:
        """Window from realised labels and predictions; ``total_inferences`` defaults to the outcomes plus errors."""
        t = np.asarray(y_true)
        p = np.asarray(y_pred)
        if t.shape != p.shape or t.ndim != 1:
            raise InvalidInput(f"labels and predictions must have the same length (got {t.size} and {p.size})")
        pos_t, pos_p = t == positive_label, p == positive_label
        return cls(
            window_end=window_end,
            window_start=window_start,
            n=int(t.size),
            n_correct=int(np.count_nonzero(t == p)),
            true_positives=int(np.count_nonzero(pos_t & pos_p)),
            false_positives=int(np.count_nonzero(~pos_t & pos_p)),
            false_negatives=int(np.count_nonzero(pos_t & ~pos_p)),
            error_count=error_count,
            total_inferences=int(t.size) + error_count if total_inferences is None else total_inferences,
            max_psi=max_psi,
        )


@dataclass(frozen=True, kw_only=True)
class Evidence:
    """Counts pooled over the windows of a trigger streak (confusion counts None once any window lacked them)."""

    windows: int = 0
    n: int = 0
    n_correct: int = 0
    confusion: tuple[int, int, int] | None = (0, 0, 0)
    errors: int = 0
    inferences: int = 0
    start: datetime | None = None
    end: datetime | None = None

    @classmethod
    def of(cls, w: LiveWindow) -> Evidence:
        """Evidence of one window."""
        return cls().add(w)

    def add(self, w: LiveWindow) -> Evidence:
        """This evidence plus window ``w``."""
        conf = None
        if self.confusion is not None and w.confusion is not None:
            conf = tuple(a + b for a, b in zip(self.confusion, w.confusion))
        return Evidence(
            windows=self.windows + 1,
            n=self.n + w.n,
            n_correct=self.n_correct + w.n_correct,
            confusion=conf,  # type: ignore[arg-type]
            errors=self.errors + w.error_count,
            inferences=self.inferences + w.total_inferences,
            start=self.start if self.windows else w.window_start,
            end=w.window_end,
        )

    def continues_with(self, w: LiveWindow) -> bool:
        """True when ``w`` starts at or after this evidence ends, so pooling counts nothing twice."""
        return self.end is not None and w.window_start is not None and w.window_start >= self.end

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "windows": self.windows, "n": self.n, "n_correct": self.n_correct,
            "confusion": None if self.confusion is None else list(self.confusion),
            "errors": self.errors, "inferences": self.inferences,
            "start": _iso(self.start), "end": _iso(self.end),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Evidence:
        """Inverse of ``to_dict``."""
        conf = d.get("confusion")
        return cls(
            windows=int(d.get("windows", 0)), n=int(d.get("n", 0)), n_correct=int(d.get("n_correct", 0)),
            confusion=None if conf is None else (int(conf[0]), int(conf[1]), int(conf[2])),
            errors=int(d.get("errors", 0)), inferences=int(d.get("inferences", 0)),
            start=_parse_dt(d.get("start")), end=_parse_dt(d.get("end")),
        )


@dataclass(frozen=True, kw_only=True)
class SlotHistory:
    """What an assessment needs to remember about a slot between runs (persist ``to_dict``).

    consecutive_count: assessments in a row in which a rollback trigger fired.
    evidence: counts pooled over that streak (None when there is no streak).
    recent_statuses: statuses of the last assessments, oldest first.
    rolled_back_for_cause: version -> when it was rolled back because of a problem.
    """

    consecutive_count: int = 0
    evidence: Evidence | None = None
    recent_statuses: tuple[str, ...] = ()
    last_assessed_at: datetime | None = None
    last_rollback_at: datetime | None = None
    rolled_back_for_cause: Mapping[int, datetime] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        object.__setattr__(self, "last_assessed_at", as_utc(self.last_assessed_at))
        object.__setattr__(self, "last_rollback_at", as_utc(self.last_rollback_at))
        object.__setattr__(
            self, "rolled_back_for_cause",
            MappingProxyType({int(v): as_utc(t) for v, t in self.rolled_back_for_cause.items()}),
        )
        object.__setattr__(self, "recent_statuses", tuple(self.recent_statuses))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "consecutive_count": self.consecutive_count,
            "evidence": None if self.evidence is None else self.evidence.to_dict(),
            "recent_statuses": list(self.recent_statuses),
            "last_assessed_at": _iso(self.last_assessed_at),
            "last_rollback_at": _iso(self.last_rollback_at),
            "rolled_back_for_cause": {str(v): _iso(t) for v, t in self.rolled_back_for_cause.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> SlotHistory:
        """Inverse of ``to_dict``; None or {} is a slot with no history."""
        if not d:
            return cls()
        try:
            ev = d.get("evidence")
            return cls(
                consecutive_count=int(d.get("consecutive_count", 0)),
                evidence=None if ev is None else Evidence.from_dict(ev),
                recent_statuses=tuple(d.get("recent_statuses", ())),
                last_assessed_at=_parse_dt(d.get("last_assessed_at")),
                last_rollback_at=_parse_dt(d.get("last_rollback_at")),
                rolled_back_for_cause={int(v): _parse_dt(t) for v, t in (d.get("rolled_back_for_cause") or {}).items()},
            )
        except (TypeError, ValueError, IndexError) as e:
            raise InvalidInput(f"stored slot history is malformed: {e!r}") from e


@dataclass(frozen=True, kw_only=True)
class RollbackAssessment:
    """The verdict on one slot, with the numbers behind it.

    triggers: every condition that fired in this window (drift included, though alone it never rolls back).
    confidence: 0..1, how sure the statistics are that a rollback-worthy problem exists (1 - p-value of
        the strongest one-sided test; pooled over the streak); 1.0 for a manual request.
    risk: 0..1 ordering key for dashboards, severity weight x confidence (drift counts as 0.5).
    degradation: largest relative drop of accuracy or F1 vs the baseline in this window (negative when
        live beats the baseline; None when there were no live metrics).
    evidence: pooled streak counts to carry into the next assessment.
    """

    should_rollback: bool
    status: Status
    triggers: tuple[TriggerType, ...]
    severity: Severity
    confidence: float
    risk: float
    degradation: float | None
    consecutive_count: int
    reasons: tuple[str, ...]
    evidence: Evidence | None = None
    baseline_source: str = "validation"
    details: Mapping[str, float | None] = field(default_factory=lambda: MappingProxyType({}))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form for rollback_events and audit rows."""
        return {
            "should_rollback": self.should_rollback,
            "status": self.status,
            "triggers": list(self.triggers),
            "severity": self.severity,
            "confidence": json_float(self.confidence),
            "risk": json_float(self.risk),
            "degradation": json_float(self.degradation),
            "consecutive_count": self.consecutive_count,
            "reasons": list(self.reasons),
            "evidence": None if self.evidence is None else self.evidence.to_dict(),
            "baseline_source": self.baseline_source,
            "details": {k: json_float(v) for k, v in self.details.items()},
        }


# --- statistics ---------------------------------------------------------------------------------


def _upper_bound(k: int, n: int, confidence: float) -> float:
    """One-sided exact (Clopper-Pearson) upper confidence bound of a binomial proportion."""
    return 1.0 if k >= n else float(betaincinv(k + 1, n - k, confidence))


def _lower_bound(k: int, n: int, confidence: float) -> float:
    """One-sided exact (Clopper-Pearson) lower confidence bound of a binomial proportion."""
    return 0.0 if k <= 0 else float(betaincinv(k, n - k + 1, 1.0 - confidence))


def _relative_drop(reference: float | None, live: float | None) -> float | None:
    if reference is None or live is None or not (math.isfinite(reference) and reference > 0 and math.isfinite(live)):
        return None
    return (reference - live) / reference


@dataclass(frozen=True)
class _Test:
    """One one-sided test on pooled counts: p-value of 'no problem' and the bound that was compared."""

    p_value: float
    bound: float
    limit: float

    @property
    def confidence(self) -> float:
        return 1.0 - self.p_value


def _accuracy_test(ev: Evidence, ref_acc: float | None, policy: RollbackPolicy) -> _Test | None:
    if ref_acc is None or ev.n < policy.min_samples or not ref_acc > 0:
        return None
    limit = ref_acc * (1.0 - policy.performance_drop)
    # P(X <= k | accuracy == limit): small when even the best plausible accuracy is under the limit.
    p = float(bdtr(ev.n_correct, ev.n, limit))
    return _Test(p, _upper_bound(ev.n_correct, ev.n, policy.confidence), limit)


def _f1_test(ev: Evidence, ref_f1: float | None, policy: RollbackPolicy) -> _Test | None:
    if ref_f1 is None or ev.confusion is None or ev.n < policy.min_samples or not 0 < ref_f1 <= 1:
        return None
    tp, fp, fn = ev.confusion
    m = tp + fp + fn
    if m == 0:
        return None
    # F1 = 2J / (1 + J) with J = tp / (tp + fp + fn), a binomial proportion given m; the map is
    # monotone, so bounds and tests on J carry over to F1 exactly.
    limit = ref_f1 * (1.0 - policy.performance_drop)
    j_limit = limit / (2.0 - limit)
    j_up = _upper_bound(tp, m, policy.confidence)
    return _Test(float(bdtr(tp, m, j_limit)), 2 * j_up / (1 + j_up), limit)


def _error_test(ev: Evidence, policy: RollbackPolicy) -> _Test | None:
    if ev.inferences < policy.min_samples:
        return None
    # P(X >= errors | rate == threshold): small when even the lowest plausible rate is above it.
    p = float(bdtrc(ev.errors - 1, ev.inferences, policy.error_rate))
    return _Test(p, _lower_bound(ev.errors, ev.inferences, policy.confidence), policy.error_rate)


# --- assessment ---------------------------------------------------------------------------------


def assess_rollback_needs(
    baseline: Baseline,
    live: LiveWindow,
    history: SlotHistory | None,
    policy: RollbackPolicy | None,
    now: datetime,
    *,
    manual_reason: str | None = None,
) -> RollbackAssessment:
    """Assess one live window of a slot's production version; see the module docstring for the rules."""
    policy = policy or RollbackPolicy()
    history = history or SlotHistory()
    now = as_utc(now)
    ref_acc, ref_f1, source = baseline.reference(policy.min_samples, policy.performance_drop)
    thr = policy.performance_drop
    reasons: list[str] = []

    # --- this window on its own: point estimates decide whether a trigger fired -----------------
    perf_evaluable = live.n >= policy.min_samples
    err_evaluable = live.total_inferences >= policy.min_samples
    acc_drop = _relative_drop(ref_acc, live.accuracy)
    f1_drop = _relative_drop(ref_f1, live.f1)
    drops = [d for d in (acc_drop, f1_drop) if d is not None]
    degradation = max(drops) if drops else None
    perf_fired = perf_evaluable and any(d >= thr for d in drops)
    err_rate = live.error_rate
    err_fired = err_evaluable and err_rate is not None and err_rate >= policy.error_rate
    drift_fired = live.max_psi is not None and live.max_psi >= policy.psi
    fired = perf_fired or err_fired

    triggers: list[TriggerType] = []
    if perf_fired:
        triggers.append("performance_degradation")
    if err_fired:
        triggers.append("error_rate")
    if drift_fired:
        triggers.append("drift")

    # --- streak and pooled evidence --------------------------------------------------------------
    in_cooldown = history.last_rollback_at is not None and now - history.last_rollback_at < policy.cooldown
    prev = history.consecutive_count
    prev_ev = history.evidence if prev > 0 else None
    hold = not fired and not perf_evaluable and prev > 0  # too little data: neither confirm nor clear
    if in_cooldown:
        count, evidence = 0, None
    elif fired or hold:
        count = prev + 1 if fired else prev
        evidence = prev_ev.add(live) if prev_ev is not None and prev_ev.continues_with(live) else Evidence.of(live)
    else:
        count, evidence = 0, None
    tested = evidence if evidence is not None else Evidence.of(live)
    acc_t = _accuracy_test(tested, ref_acc, policy)
    f1_t = _f1_test(tested, ref_f1, policy)
    err_t = _error_test(tested, policy)
    perf_sig = any(t is not None and t.p_value < policy.alpha for t in (acc_t, f1_t))
    err_sig = err_t is not None and err_t.p_value < policy.alpha
    confidence = max((t.confidence for t in (acc_t, f1_t, err_t) if t is not None), default=0.0)

    # --- plain-word findings ----------------------------------------------------------------------
    pooled = "" if tested.windows <= 1 else f" over the last {tested.windows} windows ({tested.n} outcomes)"
    if not perf_evaluable:
        reasons.append(
            f"only {live.n} labelled outcomes in this window (need {policy.min_samples}) to judge accuracy or F1"
        )
    else:
        for name, ref, value, drop, test in (
            ("accuracy", ref_acc, live.accuracy, acc_drop, acc_t),
            ("F1", ref_f1, live.f1, f1_drop, f1_t),
        ):
            if drop is None:
                continue
            if drop >= thr:
                msg = f"{name} {value:.3f} is {drop:.0%} below the {source} baseline {ref:.3f} (limit {thr:.0%})"
                if test is None:
                    msg += "; the window has no confusion counts, so this drop cannot be tested statistically"
                elif test.p_value < policy.alpha:
                    msg += (
                        f"; even the {policy.confidence:.0%} upper bound {test.bound:.3f}{pooled} is under "
                        f"{test.limit:.3f}, so the drop is real"
                    )
                else:
                    msg += (
                        f"; not yet statistically clear (upper bound {test.bound:.3f}{pooled} "
                        f"vs limit {test.limit:.3f})"
                    )
                reasons.append(msg)
    if err_fired and err_t is not None:
        reasons.append(
            f"{err_rate:.1%} of {live.total_inferences} inference calls failed (limit {policy.error_rate:.0%})"
            + ("" if err_t.p_value < policy.alpha else "; not yet statistically clear")
        )
    if drift_fired:
        reasons.append(
            f"live inputs drifted from the training data (largest PSI {live.max_psi:.2f}, limit {policy.psi:.2f}): "
            + (
                "it makes the problem above more severe"
                if fired
                else "retrain on recent data; drift alone does not roll back"
            )
        )

    # --- verdict ------------------------------------------------------------------------------------
    should = False
    if manual_reason is not None:
        status: Status = "rollback"
        should = True
        triggers.append("manual")
        confidence = 1.0
        reasons.insert(0, f"manual rollback requested: {manual_reason}")
    elif in_cooldown:
        status = "cooldown"
        until = history.last_rollback_at + policy.cooldown
        reasons.append(
            f"the slot was rolled back at {history.last_rollback_at:%Y-%m-%d %H:%M} UTC; automatic rollbacks "
            f"pause until {until:%Y-%m-%d %H:%M} UTC"
        )
    elif fired:
        if count >= policy.consecutive and (perf_sig or err_sig):
            status, should = "rollback", True
            reasons.append(f"the problem persisted for {count} consecutive assessments: roll back")
        else:
            status = "triggered_pending"
            if count < policy.consecutive:
                reasons.append(
                    f"problem seen in {count} of the {policy.consecutive} consecutive assessments "
                    "needed before a rollback"
                )
            else:
                reasons.append(
                    f"problem persisted for {count} assessments but is not yet statistically clear; watching"
                )
    elif not perf_evaluable:
        status = "insufficient_evidence"
        if prev > 0:
            reasons.append(f"a pending problem ({prev} assessments) is neither confirmed nor cleared by this window")
    else:
        status = "healthy"
        parts = [f"{n} {v:.3f}" for n, v in (("accuracy", live.accuracy), ("F1", live.f1)) if v is not None]
        msg = f"{' and '.join(parts)} within {thr:.0%} of the {source} baseline" if parts else "no performance metrics"
        if err_rate is not None:
            msg += f"; {err_rate:.1%} of inference calls failed"
        reasons.append(msg)

    severity = _severity(
        perf_fired=perf_fired, err_fired=err_fired, drift_fired=drift_fired, manual=manual_reason is not None,
        degradation=degradation, err_rate=err_rate, policy=policy,
    )
    risk = _SEVERITY_WEIGHT[severity] * max(confidence, 0.5 if drift_fired else 0.0)
    details = {
        "reference_accuracy": ref_acc, "reference_f1": ref_f1,
        "live_accuracy": live.accuracy, "live_f1": live.f1,
        "accuracy_drop": acc_drop, "f1_drop": f1_drop, "error_rate": err_rate, "max_psi": live.max_psi,
        "accuracy_upper_bound": None if acc_t is None else acc_t.bound,
        "accuracy_p_value": None if acc_t is None else acc_t.p_value,
        "f1_upper_bound": None if f1_t is None else f1_t.bound,
        "f1_p_value": None if f1_t is None else f1_t.p_value,
        "error_rate_lower_bound": None if err_t is None else err_t.bound,
        "error_rate_p_value": None if err_t is None else err_t.p_value,
    }
    return RollbackAssessment(
        should_rollback=should, status=status, triggers=tuple(triggers), severity=severity,
        confidence=float(min(max(confidence, 0.0), 1.0)), risk=float(min(risk, 1.0)), degradation=degradation,
        consecutive_count=count, reasons=tuple(reasons), evidence=evidence, baseline_source=source,
        details=MappingProxyType(details),
    )


def _severity(
    *, perf_fired: bool, err_fired: bool, drift_fired: bool, manual: bool,
    degradation: float | None, err_rate: float | None, policy: RollbackPolicy,
) -> Severity:
    level = 0
    if perf_fired or err_fired or manual:
        level = 2
    # Twice the threshold, or two independent symptoms at once, is critical.
    if (
        (perf_fired and err_fired)
        or (perf_fired and degradation is not None and degradation >= 2 * policy.performance_drop)
        or (err_fired and err_rate is not None and err_rate >= 2 * policy.error_rate)
    ):
        level = 3
    if drift_fired:
        level = min(level + 1, 3)
    return _SEVERITIES[level]


def next_history(
    history: SlotHistory | None, assessment: RollbackAssessment, now: datetime, *, keep: int = 20
) -> SlotHistory:
    """The slot history to persist after ``assessment`` (streak count, pooled evidence, recent statuses)."""
    history = history or SlotHistory()
    return replace(
        history,
        consecutive_count=assessment.consecutive_count,
        evidence=assessment.evidence,
        recent_statuses=(*history.recent_statuses, assessment.status)[-keep:],
        last_assessed_at=as_utc(now),
    )


def record_rollback(
    history: SlotHistory | None, rolled_back_version: int, now: datetime, *, for_cause: bool = True
) -> SlotHistory:
    """The slot history after ``rolled_back_version`` was taken out of production: starts the cooldown,
    clears the streak and, when it was for cause, bars the version from returning for a while."""
    history = history or SlotHistory()
    barred = dict(history.rolled_back_for_cause)
    if for_cause:
        barred[int(rolled_back_version)] = as_utc(now)
    return replace(
        history, consecutive_count=0, evidence=None, last_rollback_at=as_utc(now), rolled_back_for_cause=barred
    )

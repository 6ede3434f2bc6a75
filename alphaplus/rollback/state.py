"""What a rollback assessment reads and remembers: its policy, the version's baseline, a block of live
evidence, the slot's history between runs, and the verdict.  Plain frozen dataclasses, JSON round trips.

Counting is in outcomes, not wall time: ``look_outcomes``, ``min_outcomes`` and ``cooldown_outcomes``
are independent outcomes, i.e. outcome rows divided by the version's label horizon (12 hourly rows
make one 12-hour outcome that shares no bar with the next).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, ClassVar, Literal

import numpy as np

from alphaplus.core.errors import InvalidInput
from alphaplus.rollback.statistics import UP, Confusion, MetricTest

TriggerType = Literal["performance_degradation", "error_rate", "drift", "manual"]
Status = Literal["healthy", "insufficient_evidence", "triggered_pending", "rollback", "cooldown", "market_shift"]
Severity = Literal["low", "medium", "high", "critical"]
BaselineSource = Literal["holdout", "validation", "none"]


def as_utc(dt: datetime | None) -> datetime | None:
    """Naive datetimes are taken as UTC so naive and aware values compare."""
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def iso(dt: datetime | None) -> str | None:
    return None if dt is None else as_utc(dt).isoformat()


def parse_dt(value: Any) -> datetime | None:
    if value is None:
        return None
    return as_utc(value if isinstance(value, datetime) else datetime.fromisoformat(str(value)))


def json_float(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


@dataclass(frozen=True, kw_only=True, slots=True)
class Evidence:
    """Outcome and inference-call counts pooled over windows (confusion None once a window lacked counts)."""

    windows: int = 0
    n: int = 0
    n_correct: int = 0
    confusion: Confusion | None = Confusion()
    errors: int = 0
    inferences: int = 0
    start: datetime | None = None
    end: datetime | None = None

    def __add__(self, other: Evidence) -> Evidence:
        if not self.windows:
            return other
        if not other.windows:
            return self
        conf = None if self.confusion is None or other.confusion is None else self.confusion + other.confusion
        return Evidence(
            windows=self.windows + other.windows, n=self.n + other.n, n_correct=self.n_correct + other.n_correct,
            confusion=conf, errors=self.errors + other.errors, inferences=self.inferences + other.inferences,
            start=self.start, end=other.end,
        )

    def outcomes_only(self) -> Evidence:
        """This evidence without its inference calls (they were consumed by an error check)."""
        if not self.n:
            return Evidence()
        return Evidence(windows=self.windows, n=self.n, n_correct=self.n_correct, confusion=self.confusion,
                        start=self.start, end=self.end)

    def counts_only(self) -> Evidence:
        """This evidence's outcome counts without times: what a look keeps in the rolling test window."""
        return replace(self.outcomes_only(), start=None, end=None)

    def calls_only(self) -> Evidence:
        """This evidence without its outcomes (they were consumed by a look)."""
        if not self.inferences:
            return Evidence()
        return Evidence(windows=self.windows, errors=self.errors, inferences=self.inferences,
                        start=self.start, end=self.end)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "windows": self.windows, "n": self.n, "n_correct": self.n_correct,
            "confusion": None if self.confusion is None else self.confusion.to_dict(),
            "errors": self.errors, "inferences": self.inferences, "start": iso(self.start), "end": iso(self.end),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | Sequence[Any] | None) -> Evidence | None:
        """Inverse of ``to_dict`` and of ``to_row`` (None stays None)."""
        if d is None:
            return None
        if not isinstance(d, Mapping):
            return cls.from_row(d)
        conf = d.get("confusion")
        return cls(
            windows=int(d.get("windows", 0)), n=int(d.get("n", 0)), n_correct=int(d.get("n_correct", 0)),
            confusion=None if conf is None else Confusion.from_metrics(conf),
            errors=int(d.get("errors", 0)), inferences=int(d.get("inferences", 0)),
            start=parse_dt(d.get("start")), end=parse_dt(d.get("end")),
        )

    def to_row(self) -> list[Any]:
        """Compact JSON form (slot histories hold dozens of these and are read for every slot):
        [windows, n, n_correct, tp, fp, fn, tn, errors, inferences, start, end]."""
        c = self.confusion
        counts = [None] * 4 if c is None else [c.tp, c.fp, c.fn, c.tn]
        return [self.windows, self.n, self.n_correct, *counts, self.errors, self.inferences,
                iso(self.start), iso(self.end)]

    @classmethod
    def from_row(cls, r: Sequence[Any]) -> Evidence:
        """Inverse of ``to_row``."""
        windows, n, n_correct, tp, fp, fn, tn, errors, inferences, start, end = r
        return cls(windows=int(windows), n=int(n), n_correct=int(n_correct),
                   confusion=None if tp is None else Confusion(int(tp), int(fp), int(fn), int(tn)),
                   errors=int(errors), inferences=int(inferences), start=parse_dt(start), end=parse_dt(end))

    @classmethod
    def pool(cls, items: Sequence[Evidence]) -> Evidence:
        """All of ``items`` added up, oldest first (faster than adding one by one)."""
        items = [e for e in items if e.windows]
        if not items:
            return cls()
        confusions = [e.confusion for e in items]
        conf = None if any(c is None for c in confusions) else Confusion(
            sum(c.tp for c in confusions), sum(c.fp for c in confusions),  # type: ignore[union-attr]
            sum(c.fn for c in confusions), sum(c.tn for c in confusions))  # type: ignore[union-attr]
        return cls(windows=sum(e.windows for e in items), n=sum(e.n for e in items),
                   n_correct=sum(e.n_correct for e in items), confusion=conf,
                   errors=sum(e.errors for e in items), inferences=sum(e.inferences for e in items),
                   start=items[0].start, end=items[-1].end)


@dataclass(frozen=True, kw_only=True)
class LiveWindow:
    """Live evidence of the production version since the last assessment (one or more pooled windows).

    n / confusion counts: labelled outcomes, one per (version, bar); n_correct is derived when the
    counts are given. error_count / total_inferences: failed vs all inference calls.
    max_psi / psi_threshold: largest feature PSI over the latest distinct bars and the version's
    calibrated threshold (None: not measured / not calibrated). label_horizon: bars per label.
    """

    window_end: datetime
    window_start: datetime | None = None
    n: int = 0
    n_correct: int | None = None
    true_positives: int | None = None
    false_positives: int | None = None
    false_negatives: int | None = None
    error_count: int = 0
    total_inferences: int = 0
    max_psi: float | None = None
    psi_threshold: float | None = None
    label_horizon: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "window_end", as_utc(self.window_end))
        object.__setattr__(self, "window_start", as_utc(self.window_start))
        if self.total_inferences < 0 or not 0 <= self.error_count <= self.total_inferences:
            raise InvalidInput(
                f"need 0 <= error_count <= total_inferences (got {self.error_count} of {self.total_inferences})"
            )
        counts = (self.true_positives, self.false_positives, self.false_negatives)
        if all(c is not None for c in counts):
            tp, fp, fn = (int(c) for c in counts)  # type: ignore[arg-type]
            if min(tp, fp, fn) < 0 or tp + fp + fn > self.n:
                raise InvalidInput(f"confusion counts tp={tp} fp={fp} fn={fn} do not fit {self.n} outcomes")
            correct = self.n - fp - fn
            if self.n_correct is not None and self.n_correct != correct:
                raise InvalidInput(f"n_correct {self.n_correct} disagrees with the confusion counts ({correct})")
            object.__setattr__(self, "n_correct", correct)
        if self.n < 0 or not 0 <= (self.n_correct or 0) <= self.n:
            raise InvalidInput(f"need 0 <= n_correct <= n (got n_correct={self.n_correct}, n={self.n})")

    @property
    def confusion(self) -> Confusion | None:
        """All four counts when tp, fp and fn are known."""
        if self.true_positives is None or self.false_positives is None or self.false_negatives is None:
            return None
        tp, fp, fn = int(self.true_positives), int(self.false_positives), int(self.false_negatives)
        return Confusion(tp, fp, fn, self.n - tp - fp - fn)

    @property
    def accuracy(self) -> float | None:
        return self.n_correct / self.n if self.n and self.n_correct is not None else None

    @property
    def error_rate(self) -> float | None:
        return self.error_count / self.total_inferences if self.total_inferences else None

    @property
    def evidence(self) -> Evidence:
        """The window's counts as Evidence."""
        return Evidence(windows=1, n=self.n, n_correct=self.n_correct or 0, confusion=self.confusion,
                        errors=self.error_count, inferences=self.total_inferences,
                        start=self.window_start, end=self.window_end)

    @classmethod
    def from_outcomes(cls, y_true: Sequence[Any] | np.ndarray, y_pred: Sequence[Any] | np.ndarray, *,
                      window_end: datetime, window_start: datetime | None = None, error_count: int = 0,
                      total_inferences: int | None = None, **kw: Any) -> LiveWindow:
        """Window from realised labels and predictions (1 = up); ``total_inferences`` defaults to the
        outcomes plus errors."""
        t, p = np.asarray(y_true), np.asarray(y_pred)
        if t.shape != p.shape or t.ndim != 1:
            raise InvalidInput(f"labels and predictions must have the same length (got {t.size} and {p.size})")
        up_t, up_p = t == UP, p == UP
        return cls(
            window_end=window_end, window_start=window_start, n=int(t.size),
            true_positives=int(np.count_nonzero(up_t & up_p)), false_positives=int(np.count_nonzero(~up_t & up_p)),
            false_negatives=int(np.count_nonzero(up_t & ~up_p)), error_count=error_count,
            total_inferences=int(t.size) + error_count if total_inferences is None else total_inferences, **kw,
        )


def _evidence_tuple(items: Any) -> tuple[Evidence, ...]:
    return tuple(e for e in (Evidence.from_dict(d) for d in items or ()) if e is not None)


@dataclass(frozen=True, kw_only=True)
class SlotHistory:
    """What assessments remember about a slot between runs (persist ``to_dict``).

    consecutive_count / error_streak: looks (error checks) in a row that confirmed a loss of edge (an
    error rate above the limit). looks: the rolling test window, completed looks oldest first.
    pending: outcomes and calls not yet part of a look (error check). error_evidence: calls pooled over
    the error streak. since_rollback: what arrived since the last rollback (for the cooldown).
    rolled_back_for_cause: version -> when it was rolled back because of a problem.
    """

    consecutive_count: int = 0
    error_streak: int = 0
    looks: tuple[Evidence, ...] = ()
    pending: Evidence = Evidence()
    error_evidence: Evidence = Evidence()
    since_rollback: Evidence = Evidence()
    recent_statuses: tuple[str, ...] = ()
    last_assessed_at: datetime | None = None
    last_rollback_at: datetime | None = None
    rolled_back_for_cause: Mapping[int, datetime] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        object.__setattr__(self, "last_assessed_at", as_utc(self.last_assessed_at))
        object.__setattr__(self, "last_rollback_at", as_utc(self.last_rollback_at))
        object.__setattr__(self, "rolled_back_for_cause",
                           MappingProxyType({int(v): as_utc(t) for v, t in self.rolled_back_for_cause.items()}))
        object.__setattr__(self, "recent_statuses", tuple(self.recent_statuses))
        object.__setattr__(self, "looks", tuple(self.looks))

    # What an assessment changes (``RollbackAssessment.carry``); the rest is bookkeeping of the slot.
    EVIDENCE_FIELDS: ClassVar[tuple[str, ...]] = (
        "consecutive_count", "error_streak", "looks", "pending", "error_evidence", "since_rollback")

    def new_stint(self) -> SlotHistory:
        """The history for a new production stint: streaks and evidence of the old one are dropped;
        the cooldown and the no-return bars stay."""
        return replace(self, consecutive_count=0, error_streak=0, looks=(), pending=Evidence(),
                       error_evidence=Evidence())

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "consecutive_count": self.consecutive_count, "error_streak": self.error_streak,
            "looks": [e.to_row() for e in self.looks], "pending": self.pending.to_row(),
            "error_evidence": self.error_evidence.to_row(), "since_rollback": self.since_rollback.to_row(),
            "recent_statuses": list(self.recent_statuses),
            "last_assessed_at": iso(self.last_assessed_at), "last_rollback_at": iso(self.last_rollback_at),
            "rolled_back_for_cause": {str(v): iso(t) for v, t in self.rolled_back_for_cause.items()},
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> SlotHistory:
        """Inverse of ``to_dict``; None or {} is a slot with no history. Keys of older formats that
        mean nothing now (a streak's pooled ``evidence``) are ignored."""
        if not d:
            return cls()
        try:
            return cls(
                consecutive_count=int(d.get("consecutive_count", 0)), error_streak=int(d.get("error_streak", 0)),
                looks=_evidence_tuple(d.get("looks")),
                pending=Evidence.from_dict(d.get("pending")) or Evidence(),
                error_evidence=Evidence.from_dict(d.get("error_evidence")) or Evidence(),
                since_rollback=Evidence.from_dict(d.get("since_rollback")) or Evidence(),
                recent_statuses=tuple(d.get("recent_statuses", ())),
                last_assessed_at=parse_dt(d.get("last_assessed_at")),
                last_rollback_at=parse_dt(d.get("last_rollback_at")),
                rolled_back_for_cause={int(v): parse_dt(t) for v, t in (d.get("rolled_back_for_cause") or {}).items()},
            )
        except (TypeError, ValueError, IndexError, AttributeError) as e:
            raise InvalidInput(f"stored slot history is malformed: {e!r}") from e


@dataclass(frozen=True, kw_only=True)
class RollbackAssessment:
    """The verdict on one slot, with the numbers behind it.

    triggers: every condition confirmed in this assessment (drift included, though alone it never
        rolls back). tests: the one-sided tests run, with Holm-adjusted p-values; the decisive one (the
        smallest adjusted p) is summarised by ``n``, ``n_effective``, ``test``, ``statistic``, ``p_value``.
    confidence: 1 - the smallest adjusted p-value (1.0 for a manual request).
    risk: 0..1 ordering key for dashboards, severity weight x confidence (drift counts as 0.5).
    degradation: largest relative drop of skill below the baseline's (None when not tested).
    evidence: the pooled test window. look: this assessment completed a look.
    carry: the slot's evidence after this assessment (streaks, looks, what is not yet consumed), the
        fields ``next_history`` stores.
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
    baseline_source: BaselineSource = "holdout"
    tests: tuple[MetricTest, ...] = ()
    look: bool = False
    carry: SlotHistory = SlotHistory()
    details: Mapping[str, float | None] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def decisive(self) -> MetricTest | None:
        """The test with the smallest adjusted p-value (a skill test before the error test on a tie)."""
        return min(self.tests, key=lambda t: (t.adjusted_p if t.adjusted_p is not None else t.p_value,
                                              t.metric == "error_rate"), default=None)

    def summary(self) -> dict[str, Any]:
        """n, n_effective, test, statistic, p_value of the decisive test (what assessments record)."""
        t = self.decisive
        if t is None:
            return {"n": None, "n_effective": None, "test": None, "statistic": None, "p_value": None}
        return {"n": t.n, "n_effective": json_float(t.n_effective), "test": f"{t.metric}: {t.test}",
                "statistic": json_float(t.statistic),
                "p_value": json_float(t.adjusted_p if t.adjusted_p is not None else t.p_value)}

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form for rollback_events and audit rows."""
        return {
            "should_rollback": self.should_rollback, "status": self.status, "triggers": list(self.triggers),
            "severity": self.severity, "confidence": json_float(self.confidence), "risk": json_float(self.risk),
            "degradation": json_float(self.degradation), "consecutive_count": self.consecutive_count,
            "reasons": list(self.reasons), "evidence": None if self.evidence is None else self.evidence.to_dict(),
            "baseline_source": self.baseline_source, "look": self.look,
            "tests": [t.to_dict() for t in self.tests], **self.summary(),
            "details": {k: json_float(v) for k, v in self.details.items()},
        }

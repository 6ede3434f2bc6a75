"""What the rollback service answers: per-slot assessment results, rollback outcomes, and its errors."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Mapping, Sequence

from alphaplus.core.entities import ProductionMove, Slot
from alphaplus.core.errors import AlphaPlusError
from alphaplus.rollback.state import RollbackAssessment
from alphaplus.rollback.target import CandidateChoice

RollbackType = Literal["automatic", "manual", "on_failure"]
OutcomeKind = Literal["executed", "no_safe_candidate", "aborted", "dry_run", "market_shift"]
# Per-slot result of one assessment run: a policy status, or why the policy was not asked.
ResultOutcome = Literal[
    "none", "executed", "no_safe_candidate", "aborted", "dry_run", "market_shift", "superseded", "no_new_data",
    "error",
]


@dataclass(frozen=True)
class RollbackRequest:
    """What a rollback is asked to do: the slot, the version it was judged on (None: whatever serves when
    the lock is taken), the target (None: the policy's safest choice), why and for whom, and the evidence
    an automatic rollback carries (its assessment and the end of the windows it consumed)."""

    slot: Slot
    assessed_version: int | None
    reason: str
    target_version: int | None = None
    rollback_type: RollbackType = "manual"
    triggers: Sequence[str] = ()
    metrics_snapshot: Mapping[str, Any] | None = None
    degradation: float | None = None
    confidence: float | None = None
    risk: str | None = None
    for_cause: bool = True
    dry_run: bool = False
    flow_run_id: str | None = None
    on_behalf_of: str | None = None
    assessment: RollbackAssessment | None = None
    window_end: datetime | None = None


class NoSafeCandidate(AlphaPlusError):
    """A rollback was needed or requested but no version of the slot is safe to restore."""

    code = "no_safe_candidate"


class UnsafeRollbackTarget(AlphaPlusError):
    """The version asked for may not be restored (failed, quarantined, tampered, barred, ...)."""

    code = "unsafe_rollback_target"


@dataclass(frozen=True)
class SlotFilter:
    """Which production slots to assess (None: any)."""

    model_name: str | None = None
    regime: str | None = None
    symbol: str | None = None


def _num(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 6)


@dataclass(frozen=True)
class RollbackOutcome:
    """What one rollback request did (or, for a dry run, would do) to a slot."""

    slot: Slot
    outcome: OutcomeKind
    rollback_type: RollbackType
    from_version: int | None
    to_version: int | None
    reason: str
    choice: CandidateChoice | None = None
    move: ProductionMove | None = None
    event_id: int | None = None
    event_time: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (CLI ``--json``, flow results)."""
        return {
            "model_name": self.slot.model_name, "regime": self.slot.regime, "symbol": self.slot.symbol,
            "outcome": self.outcome, "rollback_type": self.rollback_type,
            "from_version": self.from_version, "to_version": self.to_version, "reason": self.reason,
            "choice": None if self.choice is None else self.choice.to_dict(),
            "event_id": self.event_id,
            "event_time": None if self.event_time is None else self.event_time.isoformat(),
        }


@dataclass(frozen=True)
class SlotAssessmentResult:
    """One slot's line in an assessment run."""

    slot: Slot
    production_version: int
    status: str
    outcome: ResultOutcome = "none"
    assessment: RollbackAssessment | None = None
    rollback: RollbackOutcome | None = None
    error: str | None = None

    @property
    def target_version(self) -> int | None:
        return None if self.rollback is None else self.rollback.to_version

    def summary(self) -> str:
        """One line a person reads first: the error, the rollback reason, or the last finding."""
        if self.error:
            return self.error
        if self.rollback is not None and self.rollback.choice is not None and self.rollback.outcome != "market_shift":
            return self.rollback.choice.reason
        if self.assessment is not None and self.assessment.reasons:
            return self.assessment.reasons[-1]
        return ""

    def to_row(self) -> dict[str, Any]:
        """Flat form for tables and artifacts."""
        a = self.assessment
        return {
            "model_name": self.slot.model_name, "regime": self.slot.regime, "symbol": self.slot.symbol,
            "version": self.production_version, "status": self.status, "outcome": self.outcome,
            "target_version": self.target_version,
            "triggers": "" if a is None else ",".join(a.triggers),
            "severity": None if a is None else a.severity,
            "degradation": None if a is None else _num(a.degradation),
            "confidence": None if a is None else _num(a.confidence),
            **({"n": None, "n_effective": None, "test": None, "statistic": None, "p_value": None}
               if a is None else a.summary()),
            "summary": self.summary(),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form with the full assessment and rollback."""
        return {
            **self.to_row(),
            "assessment": None if self.assessment is None else self.assessment.to_dict(),
            "rollback": None if self.rollback is None else self.rollback.to_dict(),
            "error": self.error,
        }

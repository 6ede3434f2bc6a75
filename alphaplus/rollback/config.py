"""The thresholds of the rollback assessment, one frozen dataclass (``policy_from_settings`` in the
service builds it from ``ALPHAPLUS_ROLLBACK_*``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from alphaplus.core.errors import InvalidInput
from alphaplus.rollback.statistics import SKILLS


@dataclass(frozen=True, kw_only=True)
class RollbackPolicy:
    """Thresholds of the rollback assessment; ``policy_from_settings`` builds one from ``ALPHAPLUS_ROLLBACK_*``.

    performance_drop: relative drop of skill (over no skill) below the holdout baseline's that counts as
        a loss of edge, once the drop is also statistically clear.
    error_rate: share of failed inference calls that counts as a trigger.
    psi: drift threshold for versions without one calibrated at training (drift is advice only).
    look_outcomes: independent outcomes of new evidence that make one look (one test of the edge).
    min_outcomes: independent outcomes the rolling test window needs before the edge is tested.
    window_looks: looks pooled in the rolling test window.
    min_inferences: inference calls an error-rate check needs.
    confidence: 1 - family-wise error rate of one look's skill tests (Holm), and the error test's level.
    consecutive: looks in a row a trigger must be confirmed in before a rollback.
    cooldown_outcomes: independent outcomes (or label-horizon multiples of inference calls) after a
        rollback before automatic rollbacks of the slot resume.
    no_return: how long a version rolled back for cause may not be chosen as a target again.
    skill_metrics: the skills whose drop is tested (one Holm family; see
        ``alphaplus.rollback.statistics.SKILLS``). Balanced accuracy over 0.5 by default: accuracy over
        the constant reference moves with the share of up-moves (in a falling market always-down
        catches up with any model), which is a market change, not a model failure.
    ranking_metric: skill ranking rollback candidates (see ``alphaplus.rollback.statistics.SKILLS``).
    eligible_statuses: lifecycle statuses a rollback target may have.
    market_shift_share / market_shift_min_slots: when more than this share of a symbol's (or of all)
        tested production slots, and at least this many, have lost their edge, and the rollback
        target does no better in shadow, it is a market shift, not a model failure.
    """

    performance_drop: float = 0.15
    error_rate: float = 0.10
    psi: float = 0.25
    look_outcomes: int = 10
    min_outcomes: int = 30
    window_looks: int = 20
    min_inferences: int = 200
    confidence: float = 0.95
    consecutive: int = 2
    cooldown_outcomes: int = 40
    no_return: timedelta = timedelta(days=7)
    skill_metrics: tuple[str, ...] = ("balanced_accuracy_skill",)
    ranking_metric: str = "balanced_accuracy_skill"
    eligible_statuses: tuple[str, ...] = ("rollback_candidate", "archived")
    market_shift_share: float = 0.5
    market_shift_min_slots: int = 2

    def __post_init__(self) -> None:
        checks = (
            (0.0 < self.performance_drop < 1.0,
             f"performance_drop must be between 0 and 1 (got {self.performance_drop})"),
            (0.0 < self.error_rate < 1.0, f"error_rate must be between 0 and 1 (got {self.error_rate})"),
            (0.5 <= self.confidence < 1.0, f"confidence must be in [0.5, 1) (got {self.confidence})"),
            (self.consecutive >= 1, f"consecutive must be at least 1 (got {self.consecutive})"),
            (self.look_outcomes >= 1, f"look_outcomes must be at least 1 (got {self.look_outcomes})"),
            (self.window_looks >= 1, f"window_looks must be at least 1 (got {self.window_looks})"),
            (self.min_outcomes >= 1, f"min_outcomes must be at least 1 (got {self.min_outcomes})"),
            (self.min_inferences >= 1, f"min_inferences must be at least 1 (got {self.min_inferences})"),
            (self.cooldown_outcomes >= 0, f"cooldown_outcomes must not be negative (got {self.cooldown_outcomes})"),
            (0.0 < self.market_shift_share <= 1.0,
             f"market_shift_share must be in (0, 1] (got {self.market_shift_share})"),
            (self.market_shift_min_slots >= 1,
             f"market_shift_min_slots must be at least 1 (got {self.market_shift_min_slots})"),
        )
        for ok, message in checks:
            if not ok:
                raise InvalidInput(message)
        if self.min_outcomes > self.look_outcomes * self.window_looks:
            raise InvalidInput(
                f"min_outcomes ({self.min_outcomes}) cannot exceed what the test window holds "
                f"({self.window_looks} looks of {self.look_outcomes})"
            )
        unknown = [m for m in (*self.skill_metrics, self.ranking_metric) if m not in SKILLS]
        if unknown or not self.skill_metrics:
            raise InvalidInput(
                f"skill metrics must be some of {', '.join(SKILLS)} (got {', '.join(unknown) or 'none'})")
        object.__setattr__(self, "eligible_statuses", tuple(self.eligible_statuses))
        object.__setattr__(self, "skill_metrics", tuple(self.skill_metrics))

    @property
    def alpha(self) -> float:
        """Family-wise significance level matching ``confidence``."""
        return 1.0 - self.confidence

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe snapshot for audit rows."""
        return {
            "performance_drop": self.performance_drop, "error_rate": self.error_rate, "psi": self.psi,
            "look_outcomes": self.look_outcomes, "min_outcomes": self.min_outcomes,
            "window_looks": self.window_looks, "min_inferences": self.min_inferences,
            "confidence": self.confidence, "consecutive": self.consecutive,
            "cooldown_outcomes": self.cooldown_outcomes, "no_return_seconds": self.no_return.total_seconds(),
            "skill_metrics": list(self.skill_metrics), "ranking_metric": self.ranking_metric,
            "market_shift_share": self.market_shift_share,
            "market_shift_min_slots": self.market_shift_min_slots,
        }

"""Record types that cross layers: rows the database layer returns and the services, flows and the CLI
consume. Plain frozen dataclasses (and tuple shapes) that know nothing about how they are stored, so
``db/`` depends on ``alphaplus.core`` alone and the features depend on neither's internals."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Sequence

from alphaplus.core.entities import Slot

# One recorded prediction is a plain tuple in EVENT_FIELDS order (the column order of inference_events):
# building a tuple costs a fraction of a microsecond, a dataclass or a dict several times that, and
# COPY takes tuples as they are.
EVENT_FIELDS: tuple[str, ...] = (
    "ts",  # when the prediction was made (timezone-aware datetime)
    "bar_ts",  # the candle the prediction is about
    "model_name",
    "version",
    "regime",
    "symbol",
    "shadow",  # scored alongside production, never returned to the caller
    "success",
    "error",  # None, or "ErrorClass: message" of a failed prediction
    "latency_ms",
    "prediction",  # class index, None on failure
    "probability",  # probability of class 1, None on failure
    "features",  # input vector in the version's version_metadata["feature_names"] order, or None
)
(TS, BAR_TS, MODEL_NAME, VERSION, REGIME, SYMBOL, SHADOW, SUCCESS, ERROR, LATENCY_MS, PREDICTION, PROBABILITY,
 FEATURES) = range(len(EVENT_FIELDS))

# Usage a batch of events adds to one version: (model_name, version, count, errors, latency_sum_ms, last_used).
UsageRow = tuple[str, int, int, int, float, datetime]


@dataclass(frozen=True)
class WindowTotals:
    """Live windows pooled into one: summed counts (confusion counts None unless every window had them)."""

    windows: int = 0
    window_start: datetime | None = None
    window_end: datetime | None = None
    n: int = 0
    n_correct: int = 0
    confusion: tuple[int, int, int] | None = None
    f1: float | None = None
    errors: int = 0
    inferences: int = 0
    max_psi: float | None = None
    label_horizon: int | None = None
    psi_threshold: float | None = None



@dataclass(frozen=True)
class SlotEvidence:
    """One production slot as an assessment sees it (``state_*``: the stored assessment state)."""

    slot: Slot
    version: int
    since: datetime
    training_metrics: Mapping[str, Any]
    validation_metrics: Mapping[str, Any]
    history: Mapping[str, Any] | None
    state_version: int | None
    state_since: datetime | None
    last_window_end: datetime | None
    revision: int
    new_windows: WindowTotals

    @property
    def same_stint(self) -> bool:
        """True when the stored state belongs to the current production stint of the slot."""
        return self.state_version == self.version and self.state_since == self.since



@dataclass(frozen=True)
class CandidateRecord:
    """A version that might be restored, with its track record as stored."""

    version: int
    status: str
    model_artifact_path: str
    model_size_bytes: int
    model_artifact_hash: str
    training_metrics: Mapping[str, Any]
    validation_metrics: Mapping[str, Any]
    quarantine_reason: str | None
    recent: WindowTotals
    served_production: bool
    last_production_end: datetime | None
    rolled_back_for_cause_at: datetime | None



@dataclass(frozen=True)
class SlotState:
    """Assessment state to store for a slot; ``revision`` is the one read (compare-and-set)."""

    slot: Slot
    production_version: int | None
    production_since: datetime | None
    history: Mapping[str, Any]
    last_window_end: datetime | None
    last_assessed_at: datetime | None
    last_status: str | None
    last_assessment: Mapping[str, Any] | None
    revision: int = 0

    def evidence_columns(self) -> tuple[Any, ...]:
        """(n, n_effective, test, statistic, p_value) of the stored assessment's decisive test."""
        a = self.last_assessment or {}
        return tuple(a.get(k) for k in ("n", "n_effective", "test", "statistic", "p_value"))



@dataclass(frozen=True)
class RollbackEvent:
    """One row of rollback_events."""

    id: int
    event_time: datetime
    model_name: str
    regime: str
    symbol: str
    from_version: int | None
    to_version: int | None
    rollback_type: str
    outcome: str
    rollback_reason: str
    triggers: Sequence[str]
    metrics_snapshot: Mapping[str, Any]
    degradation: float | None
    confidence: float | None
    risk: str | None
    actor: str
    on_behalf_of: str | None
    flow_run_id: str | None
    for_cause: bool
    n_outcomes: int | None = None
    n_effective: float | None = None
    test_name: str | None = None
    statistic: float | None = None
    p_value: float | None = None

    @property
    def slot(self) -> Slot:
        return Slot(self.model_name, self.regime, self.symbol)



@dataclass(frozen=True)
class FlowRunMove:
    """A production move made by a flow run that still stands."""

    slot: Slot
    from_version: int | None
    to_version: int
    at: datetime


# Columns outcome resolution (alphaplus.monitoring.outcomes.summarize_window) reads from the events
# frame; "ts" (prediction time: which prediction of a bar came first) and "seen_before" (the bar was
# predicted before the window) are used when present.
EVENT_COLUMNS: tuple[str, ...] = (
    "model_name", "version", "shadow", "success", "latency_ms", "bar_ts", "prediction", "features",
)


@dataclass(frozen=True)
class WindowMetrics:
    """Quality over matured outcomes, operations over every prediction, of one version in one window."""

    n_samples: int
    n_correct: int
    accuracy: float | None
    f1: float | None
    precision: float | None
    recall: float | None
    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int
    total_inferences: int
    error_count: int
    error_rate: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None


@dataclass(frozen=True)
class PerformanceRecord:
    """One model_performance_history row: a version's window, its metrics, drift and bookkeeping."""

    window_start: datetime
    window_end: datetime
    model_name: str
    version: int
    regime: str
    symbol: str
    source: str
    metrics: WindowMetrics
    drift: Mapping[str, Mapping[str, Any]]
    max_psi: float | None
    details: Mapping[str, Any]

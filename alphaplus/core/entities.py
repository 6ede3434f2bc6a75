"""Registry entities: plain frozen dataclasses that know nothing about the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Mapping
from uuid import UUID


@dataclass(frozen=True)
class Slot:
    """What a production model serves: one model name, one market regime, one symbol."""

    model_name: str
    regime: str
    symbol: str

    def __str__(self) -> str:
        return f"({self.model_name}, {self.regime}, {self.symbol})"


@dataclass(frozen=True)
class StoredArtifact:
    """A model file in the artifact store: where (relative to the root), how big, which SHA-256."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Lineage:
    """Where a version came from: data, features, hyperparameters, parent and environment.

    Field names are the columns of model_lineage (the specification's names where it documents one).
    ``n_samples`` counts every usable row of the training frame (fit, validation and holdout parts);
    ``training_samples`` and ``validation_samples`` the rows the model was fitted on and early-stopped
    on. ``model_version`` is set by registration; ``parent_model_name`` defaults to ``model_name``
    when only ``parent_model_version`` is given.
    """

    model_name: str
    regime: str
    symbol: str
    training_data_hash: str
    feature_set_hash: str
    hyperparameters_hash: str
    lineage_key: str
    parent_model_version: int | None = None
    parent_model_name: str | None = None
    timeframe: str | None = None
    training_data_start: datetime | None = None
    training_data_end: datetime | None = None
    n_samples: int | None = None
    training_samples: int | None = None
    validation_samples: int | None = None
    n_features: int | None = None
    feature_set: Mapping[str, Any] = field(default_factory=dict)
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    training_config: Mapping[str, Any] = field(default_factory=dict)
    training_environment: Mapping[str, Any] = field(default_factory=dict)
    training_duration_seconds: float | None = None
    lineage_metadata: Mapping[str, Any] = field(default_factory=dict)
    flow_run_id: str | None = None
    model_version: int | None = None
    lineage_id: UUID | None = None
    created_by: str | None = None
    created_at: datetime | None = None

    @property
    def slot(self) -> Slot:
        return Slot(self.model_name, self.regime, self.symbol)


@dataclass(frozen=True)
class UsageStats:
    """How much a version has been used, from flushed aggregates."""

    usage_count: int = 0
    total_inferences: int = 0
    error_count: int = 0
    avg_inference_time_ms: float = 0.0
    last_used_timestamp: datetime | None = None

    @property
    def error_rate(self) -> float:
        return self.error_count / self.total_inferences if self.total_inferences else 0.0


@dataclass(frozen=True)
class ModelVersion:
    """One registered version of a model, with its artifact, metrics, status and usage.

    Field names are the columns of model_versions, except two groups kept as values of their own:
    ``artifact`` (model_artifact_path, model_size_bytes, model_artifact_hash: what the artifact store
    loads and verifies) and ``usage`` (the usage counters). ``performance_metrics``, ``drift_metrics``,
    ``rollback_metrics`` and ``deployment_timestamp`` are kept by the database from the performance
    history, assessments, rollbacks and production pointer.
    """

    model_name: str
    version: int
    regime: str
    symbol: str
    status: str
    lineage_id: UUID
    artifact: StoredArtifact
    training_metrics: Mapping[str, Any]
    validation_metrics: Mapping[str, Any]
    version_metadata: Mapping[str, Any]
    created_at: datetime
    updated_at: datetime
    promoted_at: datetime | None
    deprecated_at: datetime | None
    usage: UsageStats
    model_artifact_size_mb: Decimal | None = None
    performance_metrics: Mapping[str, Any] | None = None
    drift_metrics: Mapping[str, Any] | None = None
    rollback_metrics: Mapping[str, Any] | None = None
    deployment_timestamp: datetime | None = None

    @property
    def slot(self) -> Slot:
        return Slot(self.model_name, self.regime, self.symbol)

    def to_dict(self) -> dict[str, Any]:
        """The version under the column names of model_versions (flat, as a query of the table
        returns it), plus the derived ``error_rate``."""
        u = self.usage
        return {
            "model_name": self.model_name, "version": self.version, "status": self.status,
            "regime": self.regime, "symbol": self.symbol, "lineage_id": self.lineage_id,
            "model_artifact_path": self.artifact.path, "model_artifact_size_mb": self.model_artifact_size_mb,
            "model_size_bytes": self.artifact.size, "model_artifact_hash": self.artifact.sha256,
            "training_metrics": self.training_metrics, "validation_metrics": self.validation_metrics,
            "performance_metrics": self.performance_metrics, "drift_metrics": self.drift_metrics,
            "rollback_metrics": self.rollback_metrics, "deployment_timestamp": self.deployment_timestamp,
            "last_used_timestamp": u.last_used_timestamp, "usage_count": u.usage_count,
            "error_count": u.error_count, "avg_inference_time_ms": u.avg_inference_time_ms,
            "total_inferences": u.total_inferences, "error_rate": u.error_rate,
            "version_metadata": self.version_metadata, "created_at": self.created_at,
            "updated_at": self.updated_at, "promoted_at": self.promoted_at, "deprecated_at": self.deprecated_at,
        }


@dataclass(frozen=True)
class Registration:
    """The answer to a registration: the version, and whether this call created it."""

    version: ModelVersion
    created: bool


@dataclass(frozen=True)
class ProductionMove:
    """A committed move of a slot's production pointer."""

    slot: Slot
    from_version: int | None
    to_version: int | None
    at: datetime


@dataclass(frozen=True)
class LifecycleEvent:
    """One row of the append-only audit log."""

    id: int
    ts: datetime
    event: str
    model_name: str
    regime: str | None
    symbol: str | None
    version: int | None
    from_status: str | None
    to_status: str | None
    from_version: int | None
    to_version: int | None
    actor: str
    on_behalf_of: str | None
    reason: str
    flow_run_id: str | None
    metadata: Mapping[str, Any]


@dataclass(frozen=True)
class ServingPeriod:
    """A stretch of time during which one version served a slot (``end`` None: still serving)."""

    version: int | None
    start: datetime
    end: datetime | None
    actor: str
    reason: str


@dataclass(frozen=True)
class ChangeContext:
    """Why a change is made: recorded on the audit rows of the transaction that makes it."""

    reason: str = ""
    on_behalf_of: str | None = None
    flow_run_id: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Quarantine:
    """A quarantine of training data (``training_data_hash``) or of a version (``model_name``, ``version``).

    ``created`` is False when the same data or version was quarantined before: the first record
    (its reason, actor and time) stands, and nothing new was written.
    """

    kind: str
    training_data_hash: str | None
    model_name: str | None
    version: int | None
    reason: str
    created_by: str
    created_at: datetime
    created: bool

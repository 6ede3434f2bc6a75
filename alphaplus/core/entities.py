"""Registry entities: plain frozen dataclasses that know nothing about the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
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
    """Where a version came from: data, features, hyperparameters, parent and environment."""

    model_name: str
    regime: str
    symbol: str
    training_data_hash: str
    feature_set_hash: str
    hyperparameters_hash: str
    lineage_key: str
    parent_version: int | None = None
    timeframe: str | None = None
    training_data_start: datetime | None = None
    training_data_end: datetime | None = None
    n_samples: int | None = None
    n_features: int | None = None
    feature_set: Mapping[str, Any] = field(default_factory=dict)
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    training_config: Mapping[str, Any] = field(default_factory=dict)
    environment: Mapping[str, Any] = field(default_factory=dict)
    training_duration_seconds: float | None = None
    flow_run_id: str | None = None
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
    """One registered version of a model, with its artifact, metrics, status and usage."""

    model_name: str
    version: int
    regime: str
    symbol: str
    status: str
    lineage_id: UUID
    artifact: StoredArtifact
    training_metrics: Mapping[str, Any]
    validation_metrics: Mapping[str, Any]
    metadata: Mapping[str, Any]
    created_at: datetime
    updated_at: datetime
    promoted_at: datetime | None
    deprecated_at: datetime | None
    usage: UsageStats

    @property
    def slot(self) -> Slot:
        return Slot(self.model_name, self.regime, self.symbol)


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

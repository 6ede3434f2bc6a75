"""The one settings object: every knob of AlphaPlus, read from ``ALPHAPLUS_*`` environment variables."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(root: Path | str) -> bool:
    """True for an object-store URL such as ``s3://bucket/prefix`` (``file://`` is a local folder)."""
    return isinstance(root, str) and bool(_URL.match(root)) and not root.startswith("file://")


class Settings(BaseSettings):
    """Documented defaults; override any field with ``ALPHAPLUS_<FIELD>`` (case-insensitive)."""

    model_config = SettingsConfigDict(env_prefix="ALPHAPLUS_", extra="ignore")

    # --- where things live -------------------------------------------------------------------
    database_url: str | None = Field(
        default=None,
        repr=False,  # it may hold a password: never in a repr, a log line or a Prefect artifact
        description="postgresql://user:pass@host:port/db. Unset: a private embedded cluster under home.",
    )
    database_url_file: Path | None = Field(
        default=None,
        description="A file holding the database URL (container secrets). Exclusive with database_url.",
    )
    database_secret_block: str | None = Field(
        default=None,
        description="Name of a Prefect Secret block holding the database URL. Exclusive with the two above.",
    )
    home: Path = Field(default=Path(".alphaplus"), description="Private state: embedded cluster, artifacts.")
    artifact_root: str | None = Field(
        default=None,
        description="Model artifacts: a folder, or an object-store URL (s3://bucket/prefix). Unset: <home>/artifacts.",
    )
    embedded_port: int = Field(default=0, description="Port of the embedded cluster; 0 picks a free one.")

    # --- connection pool ---------------------------------------------------------------------
    pool_min_size: int = 1
    pool_max_size: int = 10
    statement_timeout_ms: int = Field(default=60_000, description="Server-side cap per statement.")
    lock_timeout_ms: int = Field(default=10_000, description="How long a writer waits for a slot lock.")

    # --- retraining ---------------------------------------------------------------------------
    default_model_name: str = "alphaplus_pattern_classifier"
    min_training_rows: int = 500
    max_gap_factor: float = Field(default=10.0, description="Largest allowed bar gap, in median spacings.")
    max_abs_return: float = Field(default=0.5, description="Largest allowed close-to-close bar return.")
    label_horizon: int = 12
    train_max_workers: int = Field(default=2, description="Slots retrained concurrently in one run.")

    # --- promotion gate -----------------------------------------------------------------------
    gate_min_f1: float = 0.45
    # A constant "always up" model scores AUC 0.50 and a high F1 on balanced direction labels: the
    # AUC floor sits just above no skill, and the primary metric is accuracy, which is what
    # McNemar's test on paired correctness compares.
    gate_min_roc_auc: float = 0.52
    gate_primary_metric: str = "accuracy"
    gate_max_degradation: float = Field(default=0.02, description="Largest metric loss vs the champion.")
    gate_min_improvement: float = Field(default=0.0, description="Relative gain of the primary metric needed.")
    gate_min_samples: int = 200
    gate_alpha: float = Field(default=0.05, description="Significance level of McNemar's exact test.")
    # Precision and recall trade off against each other, and positive-class F1 rewards a model that
    # always says "up": holding those to the degradation limit rejects clear improvements, so the
    # gate compares accuracy and ROC AUC (F1 still has its floor).
    gate_compared_metrics: tuple[str, ...] = ("accuracy", "roc_auc")

    # --- rollback policy ----------------------------------------------------------------------
    rollback_performance_drop: float = Field(default=0.15, description="Relative drop of F1 or accuracy.")
    rollback_error_rate: float = 0.10
    rollback_psi: float = 0.25
    rollback_min_samples: int = 200
    rollback_consecutive: int = Field(default=3, description="Assessments a trigger must persist for.")
    rollback_cooldown_hours: float = 6.0
    rollback_no_return_days: float = 7.0

    # --- inference recording ------------------------------------------------------------------
    inference_flush_rows: int = 5_000
    inference_flush_seconds: float = 1.0
    inference_buffer_limit: int = 1_000_000

    # --- fan-out over a Dask cluster (the retrain-dask deployment) ---------------------------------
    dask_address: str | None = Field(
        default=None, description="Scheduler of a running Dask cluster (tcp://host:8786). Unset: a local cluster."
    )
    dask_local_workers: int = Field(default=2, ge=1, description="Worker processes of that local cluster.")

    @property
    def artifacts_dir(self) -> Path | str:
        """Where model artifacts are stored: a folder, or an object-store URL kept as text."""
        if self.artifact_root is None:
            return self.home / "artifacts"
        return self.artifact_root if is_url(self.artifact_root) else Path(self.artifact_root)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()

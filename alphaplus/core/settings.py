"""The one settings object: every knob of AlphaPlus, read from ``ALPHAPLUS_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    artifact_root: Path | None = Field(default=None, description="Model artifacts. Unset: <home>/artifacts.")
    embedded_port: int = Field(default=0, description="Port of the embedded cluster; 0 picks a free one.")

    superuser_login: Literal["refuse", "warn", "allow"] = Field(
        default="refuse",
        description="What day-to-day commands do when the database login is a superuser (or can act as "
                    "the schema's owner): refuse, warn on stderr, or allow. The private embedded cluster "
                    "is exempt.",
    )

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
    training_job_lease_seconds: float = Field(
        default=300.0, gt=0,
        description="A running training job without a heartbeat for this long was abandoned and is closed.",
    )

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

    # --- dashboard (alphaplus ui) ---------------------------------------------------------------
    ui_database_url: str | None = Field(
        default=None,
        repr=False,
        description="Database URL of the dashboard, e.g. a login in alphaplus_reader. Unset: the database above.",
    )
    ui_url: str = Field(default="http://127.0.0.1:8765",
                        description="Where the dashboard is reached: the base of the links the CLI prints.")
    ui_allowed_hosts: str = Field(
        default="",
        description="Comma-separated Host names the dashboard answers besides loopback (behind a proxy); '*': any.",
    )
    ui_page_size: int = Field(default=50, ge=1, le=500, description="Rows per page of the dashboard's lists.")

    @property
    def artifacts_dir(self) -> Path:
        """Where model artifacts are stored."""
        return self.artifact_root if self.artifact_root is not None else self.home / "artifacts"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment; a bad value is one
    ConfigurationError naming the variable (``ALPHAPLUS_POOL_MAX_SIZE: ...``)."""
    from pydantic import ValidationError

    from alphaplus.core.errors import ConfigurationError

    try:
        return Settings()
    except ValidationError as e:
        problems = "; ".join(
            f"ALPHAPLUS_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in e.errors()
        )
        raise ConfigurationError(f"bad setting in the environment: {problems}") from None

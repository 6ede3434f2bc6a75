"""The one settings object: every knob of AlphaPlus, read from ``ALPHAPLUS_*`` environment variables."""

from __future__ import annotations

import contextlib
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Literal

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
    max_missing_bar_share: float = Field(
        default=0.001, ge=0.0, le=1.0,
        description="Share of the bars the symbol's calendar expects that may be missing (inside open sessions).")
    max_return_z: float = Field(
        default=50.0, gt=0.0,
        description="Largest |log return| in robust standard deviations (MAD) of the series' own returns.")
    label_horizon: int = 12
    # Where training (and outcome resolution) reads candles: the candles table (import with `alphaplus
    # data import`), the user's own table or view, or a folder of files another process drops.
    candle_source: Literal["candles", "table", "folder"] = Field(
        default="candles", description="candles (the default), table (candle_table) or folder (candle_folder).")
    candle_table: str | None = Field(
        default=None, description="The user's table or view of candles: name or schema.name.")
    candle_columns: str = Field(
        default="", description="Its column names, e.g. 'ts=time,close=last_price,symbol=ticker,timeframe=tf': "
                                "ts/open/high/low/close/volume default to those names; symbol and timeframe "
                                "columns are optional (a table or view per symbol has none).")
    candle_table_url: str | None = Field(
        default=None, repr=False,
        description="Database of candle_table when it is not the AlphaPlus database (postgresql://...).")
    candle_folder: Path | None = Field(
        default=None, description="Drop folder: <folder>/<SYMBOL>/<timeframe>/*.csv|*.parquet, read as dropped.")
    log_level: str | None = Field(
        default=None,
        description="Level of the logs (and tracebacks) of flow runs the CLI starts; unset: only the outcome.")
    train_max_workers: int = Field(default=2, description="Slots retrained concurrently in one run.")
    training_job_lease_seconds: float = Field(
        default=300.0, gt=0,
        description="A running training job without a heartbeat for this long was abandoned and is closed.",
    )

    # --- promotion gate ---------------------------------------------------------------------
    # The gate's defaults live here only: GatePolicy reads its field defaults from these fields.
    # Every candidate, the first model of a slot included, must beat the no-skill references of its
    # own training window on its unseen window (ROC AUC interval above 0.5; loss skill over the
    # training prior; primary metric above always-up and the majority class), then a challenger must
    # beat the champion; every test is a paired block bootstrap on overlapping-horizon rows.
    gate_alpha: float = Field(default=0.05, description="Level of each one-sided bootstrap test of the gate.")
    gate_min_outcomes: int = Field(
        default=30, description="Independent outcomes (evaluation rows / label horizon) needed to decide."
    )
    gate_primary_metric: str = Field(
        default="accuracy",
        description="Metric tested against always-up, the majority class and the champion "
        "(accuracy, balanced_accuracy, mcc, roc_auc, log_loss, brier).",
    )
    gate_skill_metric: str = Field(default="log_loss", description="Loss whose skill over the training prior is tested.")
    # "positive": the loss must be below the prior's on the estimate (its interval is reported);
    # "significant": its interval must lie above no skill too. Probability losses are dominated by a
    # few confident misses and drift in calibration: with few independent outcomes the significant
    # rule has far less power than the AUC and accuracy tests, which already bound false promotions.
    gate_skill_rule: str = Field(default="positive", description="positive or significant (see above).")
    gate_max_degradation: float = Field(default=0.02, description="Largest metric loss vs the champion.")
    gate_min_improvement: float = Field(default=0.0, description="Relative gain of the primary metric needed.")
    # Balanced accuracy and MCC are reported beside accuracy; ROC AUC and accuracy are held to the
    # degradation limit (precision and recall trade off against each other).
    gate_compared_metrics: tuple[str, ...] = ("accuracy", "roc_auc")
    gate_min_f1: float | None = Field(default=None, description="Optional floor on F1 (point estimate).")
    gate_min_roc_auc: float | None = Field(default=None, description="Optional floor on ROC AUC (point estimate).")
    gate_on_insignificant: str = Field(
        default="needs_review", description="What a gain over the champion the test cannot confirm leads to."
    )
    gate_resampling: str = Field(
        default="stationary", description="stationary or circular block bootstrap, or subsample (every h-th row)."
    )
    gate_bootstrap_reps: int = Field(default=999, description="Bootstrap resamples per decision.")
    gate_block_floor: float = Field(default=2.0, description="Shortest bootstrap block, in label horizons.")
    gate_seed: int = Field(default=0, description="Seed of the resampling (decisions are reproducible).")
    gate_walk_forward_folds: int = Field(
        default=1, description="Consecutive folds of the window; > 1 requires beating always-up in most of them."
    )
    gate_cost_per_trade: float = Field(
        default=0.0002, description="Round-trip cost per trade of the reported signal return (fraction of price)."
    )

    # --- rollback policy (alphaplus.rollback.policy) --------------------------------------------
    # Evidence is counted in independent outcomes: outcome rows / the version's label horizon.
    rollback_performance_drop: float = Field(
        default=0.15, description="Relative drop of skill below the holdout baseline's that counts as lost edge.")
    rollback_error_rate: float = Field(default=0.10, description="Failed share of inference calls that counts.")
    rollback_psi: float = Field(default=0.25, description="Drift threshold of versions without a calibrated one.")
    rollback_look_outcomes: int = Field(default=10, description="Independent outcomes of new evidence per look.")
    rollback_min_outcomes: int = Field(default=30, description="Independent outcomes before the edge is tested.")
    rollback_window_looks: int = Field(default=20, description="Looks pooled in the rolling test window.")
    rollback_min_inferences: int = Field(default=200, description="Inference calls per error-rate check.")
    rollback_confidence: float = Field(default=0.95, description="1 - family-wise error rate per look (Holm).")
    rollback_skill_metrics: tuple[str, ...] = Field(
        default=("balanced_accuracy_skill",),
        description="Skills whose drop is tested (balanced_accuracy_skill, accuracy_skill); several: Holm.")
    rollback_consecutive: int = Field(default=2, description="Confirming looks in a row before a rollback.")
    rollback_cooldown_outcomes: int = Field(
        default=40, description="Independent outcomes after a rollback before automatic rollbacks resume.")
    rollback_no_return_days: float = 7.0
    rollback_market_shift_share: float = Field(
        default=0.5, description="More than this share of a symbol's (or all) slots losing edge is a market shift.")
    rollback_market_shift_min_slots: int = Field(default=2, description="Slots a market shift needs at least.")

    # --- drift (alphaplus.monitoring.drift) -----------------------------------------------------
    drift_window_bars: int = Field(default=200, description="Distinct bars PSI is measured over (and calibrated on).")
    drift_calibration_quantile: float = Field(
        default=0.99, description="Quantile of the training period's window-to-window PSI used as threshold.")

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


@contextlib.contextmanager
def environment(values: dict[str, str | None]) -> Iterator[None]:
    """Process settings read from ``values`` meanwhile (None unsets a variable), as every service and
    task of this process reads them (``get_settings``); restored afterwards."""
    saved = {k: os.environ.get(k) for k in values}
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    get_settings.cache_clear()  # the process-wide settings are read once: read them again
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        get_settings.cache_clear()

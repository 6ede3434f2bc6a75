"""Tasks of a slot's retraining: job bookkeeping, the fit, and registration as staging."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Any

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from alphaplus.core.entities import ModelVersion, Registration, Slot, StoredArtifact
from alphaplus.ml.lineage import build_lineage
from alphaplus.ml.pipeline import FitResult, TrainingConfig, fit_slot, prepare_dataset
from alphaplus.registry.artifacts import ArtifactStore
from db.pool import get_pool
from tasks.retry import transient_only


@task(retries=2, retry_delay_seconds=1, retry_condition_fn=transient_only, cache_policy=NO_CACHE)
async def start_training_job(slot: Slot, timeframe: str, flow_run_id: str | None, metadata: dict[str, Any]) -> int:
    """Record a running training job for the slot."""
    from db.training_jobs import start_job

    return await start_job(await get_pool(), model_name=slot.model_name, regime=slot.regime, symbol=slot.symbol,
                           timeframe=timeframe, flow_run_id=flow_run_id, metadata=metadata)


@task(retries=2, retry_delay_seconds=1, retry_condition_fn=transient_only, cache_policy=NO_CACHE)
async def finish_training_job(
    job_id: int,
    succeeded: bool,
    version: int | None = None,
    error: str | None = None,
    validation_result: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> None:
    """Close the training job as succeeded or failed."""
    from db.training_jobs import finish_job

    await finish_job(await get_pool(), job_id, succeeded=succeeded, version=version, error=error,
                     validation_result=validation_result, metadata=metadata)


@dataclass(frozen=True)
class StoredFit:
    """A slot's fit, the artifact its worker stored, and which process (host:pid) trained it."""

    fit: FitResult
    artifact: StoredArtifact
    trained_on: str


@task(cache_policy=NO_CACHE)
def train_slot(
    candles: pd.DataFrame, regime: str, config: TrainingConfig, hyperparameters: dict[str, Any], artifact_root: str
) -> StoredFit:
    """Fit the regime's LightGBM model and store its artifact under ``artifact_root``.

    CPU-bound; runs wherever the flow's task runner puts it: a thread of the flow-run process, or a
    Dask worker process on another host, which is why the root is passed (a URL or an absolute folder
    every worker reaches) and the artifact is written here, not shipped back to be written."""
    fit = fit_slot(prepare_dataset(candles, regime, config), config, hyperparameters)
    artifact = ArtifactStore(artifact_root).save(fit.trained)
    return StoredFit(fit, artifact, f"{socket.gethostname()}:{os.getpid()}")


@task(retries=2, retry_delay_seconds=1, retry_condition_fn=transient_only, cache_policy=NO_CACHE)
async def register_staging(
    slot: Slot,
    trained: StoredFit,
    candles: pd.DataFrame,
    config: TrainingConfig,
    hyperparameters: dict[str, Any],
    timeframe: str,
    flow_run_id: str | None,
) -> Registration:
    """Hash the lineage, verify the stored artifact and register it as staging (the same lineage: same version)."""
    from alphaplus.registry.service import Registry

    fit = trained.fit
    registry = await Registry.open()
    production: ModelVersion | None = await registry.get_production_model(slot.model_name, slot.regime, slot.symbol)
    lineage = build_lineage(
        model_name=slot.model_name,
        regime=slot.regime,
        symbol=slot.symbol,
        training_frame=candles,
        feature_set=config.feature_spec.to_dict(),
        hyperparameters=hyperparameters,
        training_config=config.to_dict(),
        parent_version=production.version if production else None,
        timeframe=timeframe,
        training_data_start=candles["ts"].iloc[0].to_pydatetime(),
        training_data_end=candles["ts"].iloc[-1].to_pydatetime(),
        n_samples=sum(fit.sizes),
        n_features=len(fit.trained.feature_names),
        training_duration_seconds=fit.duration_seconds,
        flow_run_id=flow_run_id,
    )
    metadata = {
        "feature_names": list(fit.trained.feature_names),
        "label_horizon": config.horizon,
        "timeframe": timeframe,
        "psi_reference": fit.psi_reference,
        "holdout_start": fit.holdout_start.isoformat(),
        "holdout_end": fit.holdout_end.isoformat(),
        "split_sizes": list(fit.sizes),
    }
    return await registry.register_model_version(
        lineage,
        artifact=trained.artifact,
        training_metrics={"train": fit.training_metrics, "holdout": fit.holdout_metrics},
        validation_metrics=fit.validation_metrics,
        metadata=metadata,
    )

"""Tasks of a slot's retraining: job bookkeeping, the fit, and registration as staging."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from dataclasses import dataclass
from typing import Any, AsyncIterator

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from alphaplus.core.entities import ModelVersion, Registration, Slot, StoredArtifact
from alphaplus.ml.pipeline import FitResult, TrainingConfig, fit_record, fit_slot, prepare_dataset
from alphaplus.registry.artifacts import ArtifactStore
from db.pool import get_pool
from db.training_jobs import JobOutcome
from tasks.retry import transient_only

log = logging.getLogger(__name__)


@task(retries=2, retry_delay_seconds=1, retry_condition_fn=transient_only, cache_policy=NO_CACHE)
async def close_stale_training_jobs(lease_seconds: float) -> list[int]:
    """Close as failed the running jobs whose process stopped beating (killed runs)."""
    from db.training_jobs import close_stale_jobs

    return await close_stale_jobs(await get_pool(), lease_seconds=lease_seconds)


@contextlib.asynccontextmanager
async def training_heartbeat(job_ids: list[int], lease_seconds: float, settings: Any = None) -> AsyncIterator[None]:
    """While the block runs, refresh the heartbeat of the jobs in ``job_ids`` (the list may grow)
    five times per lease. Not a task: a beat is bookkeeping, not a step to show in the UI."""
    from alphaplus.core.errors import AlphaPlusError
    from db.training_jobs import heartbeat

    async def beat() -> None:
        while True:
            await asyncio.sleep(lease_seconds / 5)
            try:
                await heartbeat(await get_pool(settings=settings), list(job_ids))
            except AlphaPlusError as e:  # a missed beat is retried; the lease allows several
                log.warning("training job heartbeat failed: %s", e)

    beating = asyncio.create_task(beat())
    try:
        yield
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating


@task(retries=2, retry_delay_seconds=1, retry_condition_fn=transient_only, cache_policy=NO_CACHE)
async def start_training_job(slot: Slot, timeframe: str, flow_run_id: str | None, metadata: dict[str, Any]) -> int:
    """Record a running training job for the slot."""
    from db.training_jobs import start_job

    return await start_job(await get_pool(), model_name=slot.model_name, regime=slot.regime, symbol=slot.symbol,
                           timeframe=timeframe, flow_run_id=flow_run_id, metadata=metadata)


@task(retries=2, retry_delay_seconds=1, retry_condition_fn=transient_only, cache_policy=NO_CACHE)
async def finish_training_job(
    job_id: int,
    status: JobOutcome,
    version: int | None = None,
    error: str | None = None,
    validation_result: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> None:
    """Close the training job as succeeded, failed or skipped (too little data to train)."""
    from db.training_jobs import finish_job

    await finish_job(await get_pool(), job_id, status=status, version=version, error=error,
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
    from alphaplus.core.settings import get_settings

    settings = get_settings()
    fit = fit_slot(prepare_dataset(candles, regime, config), config, hyperparameters,
                   drift_window_bars=settings.drift_window_bars, drift_quantile=settings.drift_calibration_quantile)
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
    production: ModelVersion | None = await registry.get_production_model(slot)
    lineage, version_metadata = fit_record(
        fit, candles, model_name=slot.model_name, regime=slot.regime, symbol=slot.symbol, config=config,
        hyperparameters=hyperparameters, timeframe=timeframe,
        parent_model_version=production.version if production else None, flow_run_id=flow_run_id,
    )
    return await registry.register_model_version(
        lineage,
        artifact=trained.artifact,
        training_metrics={"train": fit.training_metrics, "holdout": fit.holdout_metrics},
        validation_metrics=fit.validation_metrics,
        version_metadata=version_metadata,
    )


@task(cache_policy=NO_CACHE)
async def publish_run_summary(results: list[dict[str, Any]]) -> None:
    """A markdown table on the flow run: every slot's status, version, decision and why."""
    from prefect.artifacts import create_markdown_artifact

    lines = ["| symbol | regime | status | version | decision | why |", "| --- | --- | --- | --- | --- | --- |"]
    for r in results:
        why = "; ".join(r.get("reasons") or [r[k] for k in ("reason", "error") if r.get(k)])
        cells = [r["symbol"], r["regime"], r["status"], str(r.get("version", "")), r.get("decision", ""), why]
        lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    counts = {s: sum(r["status"] == s for r in results) for s in ("registered", "skipped", "failed")}
    await create_markdown_artifact(
        key="retrain-summary", markdown="# Retrain run\n\n" + "\n".join(lines),
        description=", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no slots",
    )

"""The retrain flow with its slots fanned out over a Dask cluster (the ``retrain-dask`` deployment).

Same flow, same tasks, same name (so the rollback trigger on failed ``retrain`` runs applies): only the
task runner differs. Each slot's ``train_slot`` runs in a Dask worker process, which fits the model and
writes its artifact to the run's artifact root; the flow-run process reads candles, runs the quality
gate, verifies and registers each artifact, and gates promotion, as with threads.

The cluster is the scheduler at ``ALPHAPLUS_DASK_ADDRESS`` when set, else a LocalCluster of
``ALPHAPLUS_DASK_LOCAL_WORKERS`` single-threaded worker processes started for the run and stopped after.
A worker that dies mid-slot loses only that slot's attempt: the scheduler runs it again on another
worker (up to ``distributed.scheduler.allowed-failures`` times; past that the slot fails alone).
"""

from __future__ import annotations

from typing import Any

from alphaplus.core.settings import Settings, get_settings
from flows.retrain import retrain

try:
    from prefect_dask import DaskTaskRunner
except ImportError as e:  # pragma: no cover - depends on the optional extra
    raise ImportError(f"the Dask flow needs prefect-dask: pip install 'alphaplus[dask]' ({e})") from e


def dask_task_runner(settings: Settings) -> Any:
    """A DaskTaskRunner on the configured scheduler, or on a local cluster of worker processes."""
    if settings.dask_address:
        return DaskTaskRunner(address=settings.dask_address)
    # One thread per worker: LightGBM's thread count is fixed per fit, and processes, not threads, are
    # what a Dask worker adds over the thread runner. No dashboard: nothing listens beyond the cluster.
    return DaskTaskRunner(cluster_kwargs={
        "n_workers": settings.dask_local_workers, "threads_per_worker": 1, "processes": True,
        "dashboard_address": None,
    })


retrain_dask = retrain.with_options(task_runner=dask_task_runner(get_settings()))

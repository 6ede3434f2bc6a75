"""Tasks of outcome resolution: load a window of predictions, summarize it, store the history rows."""

from __future__ import annotations

from datetime import datetime

from prefect import task
from prefect.cache_policies import NO_CACHE

from alphaplus.monitoring import service as outcomes_service
from alphaplus.monitoring.outcomes import PerformanceRecord
from alphaplus.monitoring.service import OutcomeWindow
from tasks.retry import transient_only


@task(retries=2, retry_delay_seconds=2, retry_condition_fn=transient_only, cache_policy=NO_CACHE)
async def load_outcome_window(window_start: datetime, window_end: datetime, model_name: str | None) -> OutcomeWindow:
    """Read a window's inference events, their versions' metadata and the candles of their outcomes."""
    return await outcomes_service.load_window(window_start=window_start, window_end=window_end,
                                              model_name=model_name)


@task(cache_policy=NO_CACHE)
def summarize_outcome_window(window: OutcomeWindow) -> list[PerformanceRecord]:
    """Compute per-version accuracy, errors, latency and PSI of a loaded window."""
    return outcomes_service.summarize(window)


@task(retries=2, retry_delay_seconds=2, retry_condition_fn=transient_only, cache_policy=NO_CACHE)
async def store_performance(records: list[PerformanceRecord]) -> int:
    """Insert the window's rows into model_performance_history (a resolved window keeps its rows)."""
    return await outcomes_service.store(records)

"""Tasks of outcome resolution: load what is pending, summarize what has matured, store the rows."""

from __future__ import annotations

from datetime import datetime

from prefect import task
from prefect.cache_policies import NO_CACHE

from alphaplus.monitoring.service import OutcomeService, PendingOutcomes, Resolution, summarize
from tasks.retry import transient_only


@task(retries=2, retry_delay_seconds=2, retry_condition_fn=transient_only, cache_policy=NO_CACHE)
async def load_pending_outcomes(
    now: datetime, since: datetime | None, until: datetime | None, model_name: str | None
) -> PendingOutcomes:
    """Read the predictions not yet accounted for, their versions, calendars and candles."""
    return await (await OutcomeService.open()).load_pending(now=now, since=since, until=until, model_name=model_name)


@task(cache_policy=NO_CACHE)
def summarize_matured_outcomes(pending: PendingOutcomes) -> Resolution:
    """Per-version accuracy, errors, latency and PSI of the predictions whose horizon has elapsed."""
    return summarize(pending)


@task(retries=2, retry_delay_seconds=2, retry_condition_fn=transient_only, cache_policy=NO_CACHE)
async def store_performance(resolution: Resolution) -> int:
    """Insert the history rows and the accounted predictions, in one transaction."""
    return await (await OutcomeService.open()).store(resolution)

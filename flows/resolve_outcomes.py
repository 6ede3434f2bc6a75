"""The outcome-resolution flow: every recorded prediction whose horizon has elapsed on its symbol's
trading calendar becomes performance history, once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger

from alphaplus.monitoring.service import check_period, record_summary, resolution_clock
from tasks.outcomes import load_pending_outcomes, store_performance, summarize_matured_outcomes


@flow(name="resolve-outcomes",
      description="Score every matured, unresolved prediction and record accuracy, errors, latency and PSI.")
async def resolve_outcomes_flow(
    model_name: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """Resolve every prediction whose horizon has elapsed (in bars of its symbol's calendar) and that no
    run resolved before, into model_performance_history rows (one per version and source).

    Args:
        model_name: Resolve one model's predictions; empty: every model's.
        since: Only predictions made at or after this time (UTC); empty: from the first.
        until: Only predictions made before this time (UTC); empty: up to now.
    """
    check_period(since, until)
    now = resolution_clock(None)
    pending = await load_pending_outcomes(now, since, until, model_name)
    resolution = summarize_matured_outcomes(pending)
    written = await store_performance(resolution)
    get_run_logger().info(
        "%d predictions accounted for, %d history rows written; %d bars await their horizon, %d their candles",
        len(resolution.accounted), written, resolution.immature, resolution.awaiting_candles)
    return [record_summary(r) for r in resolution.records] if written else []

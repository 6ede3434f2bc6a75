"""The outcome-resolution flow: turn a window of recorded predictions into performance history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from prefect import flow, get_run_logger
from pydantic import Field

from alphaplus.monitoring.outcomes import window_bounds
from alphaplus.monitoring.service import record_summary
from tasks.outcomes import load_outcome_window, store_performance, summarize_outcome_window


@flow(name="resolve-outcomes",
      description="Score matured predictions of a time window and record accuracy, errors, latency and PSI.")
async def resolve_outcomes_flow(
    model_name: str | None = None,
    window_minutes: Annotated[int, Field(ge=1, le=7 * 24 * 60)] = 60,
    delay_minutes: Annotated[int, Field(ge=0, le=30 * 24 * 60)] = 0,
    window_end: datetime | None = None,
) -> list[dict[str, Any]]:
    """Resolve one window of predictions into model_performance_history rows (one per version and source).

    Args:
        model_name: Resolve one model's predictions; empty: every model's.
        window_minutes: Length of the window of prediction times to resolve.
        delay_minutes: Resolve the window ending this long ago, so outcomes have matured: at least the
            label horizon times the bar length for live data.
        window_end: Explicit end of the window (UTC); overrides delay_minutes.
    """
    start, end = window_bounds(window_minutes, delay_minutes=delay_minutes, window_end=window_end)
    window = await load_outcome_window(start, end, model_name)
    records = summarize_outcome_window(window)
    written = await store_performance(records)
    get_run_logger().info("window %s to %s: %d versions, %d new history rows", start.isoformat(),
                          end.isoformat(), len(records), written)
    return [record_summary(r) for r in records]

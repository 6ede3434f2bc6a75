"""Outcome resolution as three steps over the database (load a window, summarize it, store the
rows) and one coroutine running them, for the CLI and for code without Prefect; the Prefect flow
runs the same steps as tasks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

import pandas as pd

from alphaplus.monitoring.outcomes import (
    DEFAULT_PSI_WINDOW_BARS,
    SOURCES,
    PerformanceRecord,
    VersionContext,
    summarize_window,
    window_bounds,
)
from alphaplus.core.settings import Settings, get_settings


@dataclass(frozen=True)
class OutcomeWindow:
    """Everything a window's summary needs, read from the database."""

    window_start: datetime
    window_end: datetime
    events: pd.DataFrame
    contexts: Mapping[tuple[str, int], VersionContext]
    candles: Mapping[tuple[str, str], pd.DataFrame]
    previous_counts: Mapping[tuple[str, int, str], Mapping[str, list[int]]] = field(default_factory=dict)
    psi_window_bars: int = DEFAULT_PSI_WINDOW_BARS


async def load_window(
    *, window_start: datetime, window_end: datetime, model_name: str | None = None, settings: Settings | None = None
) -> OutcomeWindow:
    """Read the window's events, their versions' metadata, the candles their outcomes need and the
    PSI bin counts of the versions' latest earlier bars."""
    from db.performance import (
        fetch_outcome_candles,
        fetch_previous_drift,
        fetch_version_contexts,
        fetch_window_events,
    )
    from db.pool import get_pool

    settings = settings or get_settings()
    pool = await get_pool(settings=settings)
    events = await fetch_window_events(pool, window_start=window_start, window_end=window_end,
                                       model_name=model_name)
    keys = {(m, int(v)) for m, v in zip(events["model_name"], events["version"])}
    contexts = await fetch_version_contexts(pool, keys)
    candles = await fetch_outcome_candles(pool, _candle_requests(events, contexts))
    default_bars = settings.drift_window_bars
    sources = sorted({(m, int(v), SOURCES[bool(s)]) for m, v, s in
                      zip(events["model_name"], events["version"], events["shadow"])})
    bars = max((contexts[(m, v)].psi_window_bars(default_bars) for m, v, _ in sources if (m, v) in contexts),
               default=default_bars)
    stored = await fetch_previous_drift(pool, sources, before=window_start, bars=bars)
    previous = {key: summed_counts(rows) for key, rows in stored.items()}
    return OutcomeWindow(window_start, window_end, events, contexts, candles, previous, default_bars)


def summed_counts(drift_rows: list[Mapping[str, Any]]) -> dict[str, list[int]]:
    """Per feature, the PSI bin counts of stored windows added up (windows without counts add nothing)."""
    out: dict[str, list[int]] = {}
    for row in drift_rows:
        for name, entry in row.items():
            counts = entry.get("counts") if isinstance(entry, Mapping) else None
            if not counts:
                continue
            total = out.get(name)
            out[name] = list(counts) if total is None or len(total) != len(counts) else \
                [a + int(b) for a, b in zip(total, counts)]
    return out


def _candle_requests(
    events: pd.DataFrame, contexts: Mapping[tuple[str, int], VersionContext]
) -> list[tuple[str, str, datetime, datetime, int]]:
    """One request per (symbol, timeframe): first and last predicted bar, longest horizon."""
    spans: dict[tuple[str, str], list] = {}
    with_bars = events[events["bar_ts"].notna()]
    for (model_name, version), group in with_bars.groupby(["model_name", "version"]):
        ctx = contexts.get((model_name, int(version)))
        if ctx is None or ctx.timeframe is None or ctx.label_horizon is None:
            continue
        first, last = group["bar_ts"].min(), group["bar_ts"].max()
        span = spans.setdefault((ctx.symbol, ctx.timeframe), [first, last, ctx.label_horizon])
        span[0], span[1], span[2] = min(span[0], first), max(span[1], last), max(span[2], ctx.label_horizon)
    return [(symbol, timeframe, first, last, horizon) for (symbol, timeframe), (first, last, horizon)
            in spans.items()]


def summarize(window: OutcomeWindow) -> list[PerformanceRecord]:
    """The performance records of a loaded window (pure)."""
    return summarize_window(window.events, window.contexts, window.candles, window_start=window.window_start,
                            window_end=window.window_end, psi_window_bars=window.psi_window_bars,
                            previous_counts=window.previous_counts)


async def store(records: list[PerformanceRecord], *, settings: Settings | None = None) -> int:
    """Insert the records into model_performance_history; returns how many were new (a window
    resolved before keeps its first rows)."""
    from db.performance import insert_performance
    from db.pool import get_pool

    return await insert_performance(await get_pool(settings=settings), records)


async def resolve_outcomes(
    *,
    model_name: str | None = None,
    window_minutes: int = 60,
    delay_minutes: int = 0,
    window_end: datetime | None = None,
    settings: Settings | None = None,
) -> list[PerformanceRecord]:
    """Resolve one window of predictions into performance history rows, and return them.

    Window: see ``alphaplus.monitoring.outcomes.window_bounds`` (the last full ``window_minutes`` ending
    ``delay_minutes`` ago, unless ``window_end`` is given).
    """
    start, end = window_bounds(window_minutes, delay_minutes=delay_minutes, window_end=window_end)
    window = await load_window(window_start=start, window_end=end, model_name=model_name, settings=settings)
    records = summarize(window)
    await store(records, settings=settings)
    return records


def record_summary(record: PerformanceRecord) -> dict[str, Any]:
    """A short JSON-able line per record, for flow results and the CLI."""
    m = record.metrics
    return {
        "model_name": record.model_name, "version": record.version, "regime": record.regime,
        "symbol": record.symbol, "source": record.source, "window_end": record.window_end.isoformat(),
        "n_samples": m.n_samples, "accuracy": m.accuracy, "f1": m.f1, "total_inferences": m.total_inferences,
        "error_rate": m.error_rate, "max_psi": record.max_psi,
    }

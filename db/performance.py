"""SQL of outcome resolution: the inference events not yet accounted for, for all versions at once, the
versions' metadata, the candles their outcomes need, and the model_performance_history rows and
accounted events written back."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Sequence

import asyncpg
import pandas as pd

from alphaplus.core.records import EVENT_COLUMNS, PerformanceRecord
from db.errors import translated

# Every event no resolution has accounted for yet, predicted before the resolution's clock ($1) and
# inside the optional [since, until) of prediction times, each flagged when the bar it is about was
# already counted for its version and source (its outcome and inputs belong to that earlier row).
_PENDING_EVENTS = """
SELECT e.model_name, e.version, e.shadow, e.success, e.latency_ms, e.bar_ts, e.prediction, e.features, e.ts,
       e.id AS event_id,
       (e.bar_ts IS NOT NULL AND EXISTS (
           SELECT 1 FROM accounted_events x
           WHERE x.counted_bar AND x.model_name = e.model_name AND x.version = e.version
             AND x.shadow = e.shadow AND x.bar_ts = e.bar_ts)) AS seen_before
FROM inference_events e
WHERE e.ts < $1 AND ($2::timestamptz IS NULL OR e.ts >= $2) AND ($3::timestamptz IS NULL OR e.ts < $3)
  AND ($4::text IS NULL OR e.model_name = $4)
  AND NOT EXISTS (SELECT 1 FROM accounted_events a WHERE a.event_id = e.id)
ORDER BY e.ts, e.id
"""
# The events a resolution accounted for; a concurrent resolution that got there first makes the
# insert count short, and the whole resolution is rolled back (its rows are the other run's).
_ACCOUNT = """
INSERT INTO accounted_events (event_id, event_ts, model_name, version, shadow, bar_ts, counted_bar, resolved_at)
SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::int[], $5::bool[], $6::timestamptz[],
                     $7::bool[], $8::timestamptz[])
ON CONFLICT (event_id) DO NOTHING
"""
# One resolution at a time per database: two would account the same events twice over.
_RESOLUTION_LOCK = "SELECT pg_advisory_xact_lock(hashtext('alphaplus.outcome_resolution'))"
# Per (version, source): the PSI bin counts of its latest windows before ``$4``, newest first, until
# they hold ``$5`` distinct bars (the rolling set PSI is measured over).
_PREVIOUS_DRIFT = """
SELECT k.model_name, k.version, k.source, h.drift_metrics
FROM unnest($1::text[], $2::int[], $3::text[]) AS k(model_name, version, source)
CROSS JOIN LATERAL (
    SELECT r.drift_metrics,
           coalesce(sum(r.bars) OVER (ORDER BY r.ts DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)
               AS before
    FROM (SELECT h0.ts, h0.drift_metrics, coalesce((h0.metrics ->> 'psi_bars')::int, 0) AS bars
          FROM model_performance_history h0
          WHERE h0.model_name = k.model_name AND h0.version = k.version AND h0.source = k.source
            AND h0.ts <= $4
          ORDER BY h0.ts DESC
          LIMIT $5) r
) h
WHERE h.before < $5
"""
_VERSIONS = """
SELECT v.model_name, v.version, v.regime, v.symbol, v.version_metadata
FROM model_versions v
JOIN unnest($1::text[], $2::int[]) AS k(model_name, version)
  ON v.model_name = k.model_name AND v.version = k.version
"""
# Per (symbol, timeframe): the candles from the first to the last predicted bar, plus the
# `horizon` candles after the last one (the exits), whatever the gaps in the series.
_CANDLES = """
SELECT q.symbol, q.timeframe, c.ts, c.close
FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::int[])
     AS q(symbol, timeframe, ts_from, ts_to, horizon)
CROSS JOIN LATERAL (
    (SELECT ts, close FROM candles
     WHERE symbol = q.symbol AND timeframe = q.timeframe AND ts >= q.ts_from AND ts <= q.ts_to)
    UNION ALL
    (SELECT ts, close FROM candles
     WHERE symbol = q.symbol AND timeframe = q.timeframe AND ts > q.ts_to
     ORDER BY ts LIMIT q.horizon)
) AS c
ORDER BY q.symbol, q.timeframe, c.ts
"""
# A row's ts is the resolution's clock, made later than the version's (and source's) latest row when a
# second resolution runs at the same clock (a replayed clock, a --since/--until pass): the assessment
# consumes rows after its cursor (ts > last_window_end), so two rows must never share a ts.
_INSERT_HISTORY = """
INSERT INTO model_performance_history AS h (
    ts, window_start, model_name, version, regime, symbol, source, n_samples, n_correct, accuracy, f1,
    precision, recall, total_inferences, error_count, error_rate, latency_p50_ms, latency_p95_ms,
    latency_p99_ms, drift_metrics, max_psi, metrics)
SELECT greatest($1::timestamptz, (SELECT max(p.ts) + interval '1 microsecond' FROM model_performance_history p
                                  WHERE p.model_name = $3 AND p.version = $4 AND p.source = $7)),
       $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22
ON CONFLICT (model_name, version, source, ts, window_start) WHERE source IN ('live', 'shadow')
DO NOTHING
"""
_HISTORY = """
SELECT id, ts, window_start, model_name, version, regime, symbol, source, n_samples, n_correct, accuracy,
       f1, precision, recall, total_inferences, error_count, error_rate, latency_p50_ms, latency_p95_ms,
       latency_p99_ms, drift_metrics, max_psi, metrics
FROM model_performance_history
WHERE model_name = $1 AND ($2::int IS NULL OR version = $2) AND ($3::text IS NULL OR source = $3)
ORDER BY ts, version, source
"""


async def fetch_pending_events(
    pool: asyncpg.Pool, *, now: datetime, since: datetime | None = None, until: datetime | None = None,
    model_name: str | None = None,
) -> pd.DataFrame:
    """Every event not yet accounted for, predicted before ``now`` (and in [since, until) when given)."""
    with translated():
        rows = await pool.fetch(_PENDING_EVENTS, now, since, until, model_name)
    return pd.DataFrame([tuple(r) for r in rows], columns=[*EVENT_COLUMNS, "ts", "event_id", "seen_before"])


async def fetch_previous_drift(
    pool: asyncpg.Pool, keys: Sequence[tuple[str, int, str]], *, before: datetime, bars: int
) -> dict[tuple[str, int, str], list[dict[str, Any]]]:
    """Per (model_name, version, source): the drift_metrics of its latest windows ending at or before
    ``before``, newest first, until they hold ``bars`` distinct bars."""
    if not keys:
        return {}
    names, versions, sources = (list(c) for c in zip(*keys))
    with translated():
        rows = await pool.fetch(_PREVIOUS_DRIFT, names, [int(v) for v in versions], sources, before, int(bars))
    out: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault((r["model_name"], r["version"], r["source"]), []).append(dict(r["drift_metrics"] or {}))
    return out


async def fetch_version_metadata(
    pool: asyncpg.Pool, keys: Iterable[tuple[str, int]]
) -> list[tuple[str, int, str, str, dict[str, Any]]]:
    """(model_name, version, regime, symbol, version_metadata) of the given (model_name, version) pairs."""
    keys = list(keys)
    if not keys:
        return []
    names, versions = zip(*keys)
    with translated():
        rows = await pool.fetch(_VERSIONS, list(names), [int(v) for v in versions])
    return [(r["model_name"], r["version"], r["regime"], r["symbol"], dict(r["version_metadata"] or {}))
            for r in rows]


async def fetch_outcome_candles(
    pool: asyncpg.Pool, requests: Sequence[tuple[str, str, datetime, datetime, int]]
) -> dict[tuple[str, str], pd.DataFrame]:
    """Candles (ts, close) per (symbol, timeframe) for requests (symbol, timeframe, first bar, last bar,
    horizon): the bars between plus ``horizon`` bars after the last one."""
    if not requests:
        return {}
    columns = [list(c) for c in zip(*requests)]
    with translated():
        rows = await pool.fetch(_CANDLES, *columns)
    frames: dict[tuple[str, str], list[tuple]] = {}
    for r in rows:
        frames.setdefault((r["symbol"], r["timeframe"]), []).append((r["ts"], r["close"]))
    return {key: pd.DataFrame(values, columns=["ts", "close"]) for key, values in frames.items()}


def _history_args(r: PerformanceRecord) -> tuple[Any, ...]:
    m = r.metrics
    confusion = {"true_positives": m.true_positives, "false_positives": m.false_positives,
                 "false_negatives": m.false_negatives, "true_negatives": m.true_negatives}
    return (
        r.window_end, r.window_start, r.model_name, r.version, r.regime, r.symbol, r.source, m.n_samples,
        m.n_correct, m.accuracy, m.f1, m.precision, m.recall, m.total_inferences, m.error_count, m.error_rate,
        m.latency_p50_ms, m.latency_p95_ms, m.latency_p99_ms, dict(r.drift), r.max_psi,
        {**confusion, **dict(r.details)},
    )


class _Concurrent(Exception):
    """Another resolution accounted for some of these events first."""


async def insert_performance(
    pool: asyncpg.Pool, records: Sequence[PerformanceRecord], accounted: Sequence[tuple] = ()
) -> int:
    """Write one history row per record and the accounted events (tuples in ``_ACCOUNT``'s column
    order), in one transaction; returns how many history rows were written.

    History is the evidence rollbacks were decided on, so it is not rewritten (a reader login needs
    INSERT only). Events another resolution accounted for meanwhile write nothing (returns 0): their
    history rows are that resolution's.
    """
    if not records and not accounted:
        return 0
    inserted = 0
    try:
        with translated():
            async with pool.acquire() as conn, conn.transaction():
                await conn.execute(_RESOLUTION_LOCK)
                if accounted:
                    status = await conn.execute(_ACCOUNT, *[list(c) for c in zip(*accounted)])
                    if int(status.rsplit(" ", 1)[-1]) != len(accounted):
                        raise _Concurrent()
                for record in records:
                    status = await conn.execute(_INSERT_HISTORY, *_history_args(record))
                    inserted += int(status.rsplit(" ", 1)[-1])
    except _Concurrent:
        return 0
    return inserted


async def fetch_performance_history(
    pool: asyncpg.Pool, model_name: str, *, version: int | None = None, source: str | None = None
) -> list[dict[str, Any]]:
    """History rows of a model (optionally one version or source), oldest window first."""
    with translated():
        rows = await pool.fetch(_HISTORY, model_name, version, source)
    return [dict(r) for r in rows]

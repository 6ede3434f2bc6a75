"""model_comparison: one row per gate decision (challenger vs champion on the same unseen window)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from db.errors import translated

_INSERT = """
INSERT INTO model_comparison (model_name, regime, symbol, challenger_version, champion_version,
    window_start, window_end, n_samples, challenger_metrics, champion_metrics, metric_deltas,
    test_name, statistic, p_value, decision, reasons, flow_run_id,
    label_horizon, n_outcomes, n_effective, ci_low, ci_high, confidence, evidence)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
        $18, $19, $20, $21, $22, $23, $24)
RETURNING id
"""
_LIST = """
SELECT * FROM model_comparison
WHERE model_name = $1 AND ($2::text IS NULL OR regime = $2) AND ($3::text IS NULL OR symbol = $3)
ORDER BY created_at DESC, id DESC LIMIT $4
"""

# The window of the version's latest gate as a challenger: its metrics there, and the window.
_LATEST_GATE = """
SELECT challenger_metrics AS metrics, n_samples, window_start, window_end, created_at
FROM model_comparison
WHERE model_name = $1 AND challenger_version = $2
ORDER BY created_at DESC, id DESC LIMIT 1
"""


async def insert_comparison(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    model_name: str,
    regime: str,
    symbol: str,
    challenger_version: int,
    champion_version: int | None,
    window_start: datetime | None,
    window_end: datetime | None,
    n_samples: int,
    challenger_metrics: dict[str, Any],
    champion_metrics: dict[str, Any] | None,
    metric_deltas: dict[str, Any],
    test_name: str | None,
    statistic: float | None,
    p_value: float | None,
    decision: str,
    reasons: list[str],
    flow_run_id: str | None,
    label_horizon: int | None = None,
    n_outcomes: int | None = None,
    n_effective: float | None = None,
    ci_low: float | None = None,
    ci_high: float | None = None,
    confidence: float | None = None,
    evidence: dict[str, Any] | None = None,
) -> int:
    """Store a comparison; returns its id."""
    with translated():
        return await conn.fetchval(
            _INSERT, model_name, regime, symbol, challenger_version, champion_version, window_start,
            window_end, n_samples, challenger_metrics, champion_metrics, metric_deltas, test_name,
            statistic, p_value, decision, reasons, flow_run_id, label_horizon, n_outcomes, n_effective,
            ci_low, ci_high, confidence, evidence or {},
        )


async def list_comparisons(
    pool: asyncpg.Pool, *, model_name: str, regime: str | None = None, symbol: str | None = None, limit: int = 20
) -> list[dict[str, Any]]:
    with translated():
        rows = await pool.fetch(_LIST, model_name, regime, symbol, limit)
    return [dict(r) for r in rows]


async def latest_gate(pool: asyncpg.Pool, *, model_name: str, version: int) -> dict[str, Any] | None:
    """The version's metrics on the window of its latest promotion gate (with n_samples and the
    window), or None when it never met the gate."""
    with translated():
        row = await pool.fetchrow(_LATEST_GATE, model_name, version)
    return None if row is None else dict(row)

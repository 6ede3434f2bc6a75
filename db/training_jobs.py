"""ml_training_jobs: one row per slot retraining, running -> succeeded, failed or skipped."""

from __future__ import annotations

from typing import Any, Literal

import asyncpg

from db.errors import translated

# skipped: the slot had too little usable data to train; not an error of the run.
JobOutcome = Literal["succeeded", "failed", "skipped"]

_START = """
INSERT INTO ml_training_jobs (job_name, model_name, regime, symbol, timeframe, status, flow_run_id, metadata)
VALUES ($1, $2, $3, $4, $5, 'running', $6, $7)
RETURNING id
"""
_FINISH = """
UPDATE ml_training_jobs
SET status = $2, version = $3, error = $4, validation_result = coalesce($5, validation_result),
    metadata = metadata || $6, finished_at = now(), last_run = now()
WHERE id = $1 AND status = 'running'
"""
_GET = "SELECT * FROM ml_training_jobs WHERE id = $1"
_LIST = """
SELECT * FROM ml_training_jobs
WHERE ($1::text IS NULL OR model_name = $1) AND ($2::text IS NULL OR symbol = $2)
ORDER BY started_at DESC, id DESC LIMIT $3
"""


async def start_job(
    pool: asyncpg.Pool,
    *,
    model_name: str,
    regime: str,
    symbol: str,
    timeframe: str | None,
    flow_run_id: str | None,
    metadata: dict[str, Any] | None = None,
    job_name: str = "retrain",
) -> int:
    """Record that a retraining of a slot started; returns the job id."""
    with translated():
        return await pool.fetchval(
            _START, job_name, model_name, regime, symbol, timeframe, flow_run_id, metadata or {}
        )


async def finish_job(
    pool: asyncpg.Pool,
    job_id: int,
    *,
    status: JobOutcome,
    version: int | None = None,
    error: str | None = None,
    validation_result: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> None:
    """Close a running job as succeeded, failed or skipped (a job is closed once)."""
    with translated():
        await pool.execute(
            _FINISH, job_id, status, version, error, validation_result, metadata or {}
        )


async def get_job(pool: asyncpg.Pool, job_id: int) -> dict[str, Any] | None:
    with translated():
        row = await pool.fetchrow(_GET, job_id)
    return dict(row) if row else None


async def list_jobs(
    pool: asyncpg.Pool, *, model_name: str | None = None, symbol: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    with translated():
        rows = await pool.fetch(_LIST, model_name, symbol, limit)
    return [dict(r) for r in rows]

"""ml_training_jobs: one row per slot retraining, running -> succeeded, failed or skipped
(too little data to train).

A running job's ``last_run`` is its heartbeat: the process training it refreshes it while it works.
A job whose heartbeat is older than the lease was abandoned (its process was killed) and is closed
as failed by the next run, so no job stays 'running' forever.
"""

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
_HEARTBEAT = """
UPDATE ml_training_jobs SET last_run = clock_timestamp() WHERE id = ANY($1::bigint[]) AND status = 'running'
"""
_CLOSE_STALE = """
UPDATE ml_training_jobs
SET status = 'failed', finished_at = clock_timestamp(),
    error = format('abandoned: no heartbeat since %s (its process stopped without closing the job)',
                   to_char(last_run AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS UTC'))
WHERE status = 'running' AND last_run < clock_timestamp() - make_interval(secs => $1)
RETURNING id
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


async def heartbeat(pool: asyncpg.Pool, job_ids: list[int]) -> None:
    """Mark running jobs as alive now."""
    if job_ids:
        with translated():
            await pool.execute(_HEARTBEAT, job_ids)


async def close_stale_jobs(pool: asyncpg.Pool, *, lease_seconds: float) -> list[int]:
    """Close as failed every running job without a heartbeat for ``lease_seconds``; returns their ids."""
    with translated():
        return [r["id"] for r in await pool.fetch(_CLOSE_STALE, float(lease_seconds))]


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

"""A training run killed with SIGKILL: the CLI's temporary Prefect API dies with it, and the training job
it left 'running' is closed as abandoned once its heartbeat is older than the lease."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from alphaplus.market.synth import synth_candles

pytestmark = [pytest.mark.reliability, pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")]
ROOT = Path(__file__).resolve().parents[2]


def children_of(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = await condition()
        if value:
            return value
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_killed_train_run_takes_its_prefect_api_along_and_its_job_is_closed_as_abandoned(
    settings, conn, tmp_path
):
    from db.candles import upsert_candles
    from db.pool import get_pool
    from db.training_jobs import close_stale_jobs

    symbol = f"KILL{uuid.uuid4().hex[:8].upper()}"
    pool = await get_pool(settings=settings)
    await upsert_candles(pool, symbol=symbol, timeframe="1h", frame=synth_candles(3_000, seed=4))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_API_URL", "PREFECT_HOME"))}
    env.update(ALPHAPLUS_DATABASE_URL=settings.database_url, ALPHAPLUS_HOME=str(tmp_path / "home"))
    train = subprocess.Popen(
        [sys.executable, "-m", "alphaplus", "train", "--symbol", symbol, "--regime", "trending", "--no-promote"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        async def running_job():
            return await conn.fetchval(
                "SELECT id FROM ml_training_jobs WHERE symbol = $1 AND status = 'running'", symbol)

        job_id = await wait_for(running_job, 240, "the training job to start")
        api = children_of(train.pid)
        assert api, "the train command runs its flows against a temporary API it started"
        os.kill(train.pid, signal.SIGKILL)
        train.wait(timeout=30)

        async def api_gone():
            return not any(alive(pid) for pid in api)

        await wait_for(api_gone, 60, "the temporary Prefect API to end with its parent")
    finally:
        if train.poll() is None:
            train.kill()
            train.wait()

    assert await conn.fetchval("SELECT status FROM ml_training_jobs WHERE id = $1", job_id) == "running"
    assert job_id not in await close_stale_jobs(pool, lease_seconds=3600), "a fresh heartbeat is within its lease"
    await conn.execute("UPDATE ml_training_jobs SET last_run = last_run - interval '2 hours' WHERE id = $1", job_id)
    assert job_id in await close_stale_jobs(pool, lease_seconds=3600)
    row = await conn.fetchrow("SELECT status, error, finished_at FROM ml_training_jobs WHERE id = $1", job_id)
    assert row["status"] == "failed" and row["finished_at"] is not None
    assert row["error"].startswith("abandoned: no heartbeat since")


async def test_the_heartbeat_keeps_a_working_job_out_of_the_stale_ones(settings, conn, model_name):
    from db.pool import get_pool
    from db.training_jobs import close_stale_jobs, start_job
    from tasks.training import training_heartbeat

    pool = await get_pool(settings=settings)
    job_id = await start_job(pool, model_name=model_name, regime="trending", symbol="BTCUSDT", timeframe="1h",
                             flow_run_id=None)
    await conn.execute("UPDATE ml_training_jobs SET last_run = last_run - interval '2 hours' WHERE id = $1", job_id)
    stale_since = await conn.fetchval("SELECT last_run FROM ml_training_jobs WHERE id = $1", job_id)
    async with training_heartbeat([job_id], lease_seconds=0.5, settings=settings):

        async def beaten():
            return await conn.fetchval("SELECT last_run FROM ml_training_jobs WHERE id = $1", job_id) > stale_since

        await wait_for(beaten, 30, "a heartbeat")
    assert job_id not in await close_stale_jobs(pool, lease_seconds=3600)
    assert await conn.fetchval("SELECT status FROM ml_training_jobs WHERE id = $1", job_id) == "running"

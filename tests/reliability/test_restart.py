"""A database restart (pg_ctl -m fast and -m immediate) of a private cluster in the middle of a retrain
run and of inference recording: the run completes or fails with a clear error, leaves no version
without lineage and no job stuck 'running', and buffered inference events are all written."""

from __future__ import annotations

import asyncio
import random
import shutil
import tempfile
import threading
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import asyncpg
import pytest

from alphaplus.core.errors import AlphaPlusError
from alphaplus.core.settings import get_settings
from tests.reliability.invariants import check_model

pytestmark = pytest.mark.reliability

FLOW_DEADLINE_SECONDS = 300
RESTART_DEADLINE_SECONDS = 120


@pytest.fixture(scope="module")
def private_cluster():
    """(EmbeddedPostgres, dsn) of a migrated private cluster in a folder the server account can enter."""
    from db.embedded import EmbeddedPostgres

    # As root the server runs as 'postgres', which cannot enter pytest's owner-only tmp folders.
    root = Path(tempfile.mkdtemp(prefix="alphaplus-restart-"))
    root.chmod(0o755)
    cluster = EmbeddedPostgres(root / "pg")
    dsn = cluster.ensure_running()

    async def migrate() -> None:
        from db.migrate import migrate as run_migrations

        conn = await asyncpg.connect(dsn)
        try:
            await run_migrations(conn)
        finally:
            await conn.close()

    asyncio.run(asyncio.wait_for(migrate(), 120))
    yield cluster, dsn
    cluster.stop()
    shutil.rmtree(root, ignore_errors=True)


class Restarter(threading.Thread):
    """Restarts the cluster once ``ready`` (run on a private connection in this thread) says so."""

    def __init__(self, cluster, dsn: str, mode: str, ready: str, args: tuple, delay: float) -> None:
        super().__init__(daemon=True)
        self.cluster, self.dsn, self.mode, self.ready, self.args, self.delay = cluster, dsn, mode, ready, args, delay
        self.error: BaseException | None = None
        self.restarted = threading.Event()

    def run(self) -> None:
        try:
            asyncio.run(asyncio.wait_for(self._wait_until_ready(), RESTART_DEADLINE_SECONDS))
            self.cluster.restart(self.mode)
            self.restarted.set()
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.error = e

    async def _wait_until_ready(self) -> None:
        conn = await asyncpg.connect(self.dsn)
        try:
            while not await conn.fetchval(self.ready, *self.args):
                await asyncio.sleep(0.02)
        finally:
            await conn.close()
        await asyncio.sleep(self.delay)


@pytest.fixture
def flow_env(monkeypatch, private_cluster, prefect_harness, tmp_path):
    _, dsn = private_cluster
    monkeypatch.setenv("ALPHAPLUS_DATABASE_URL", dsn)
    monkeypatch.setenv("ALPHAPLUS_HOME", str(tmp_path / "home"))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.mark.parametrize("mode", ["fast", "immediate"])
async def test_a_database_restart_during_a_retrain_run_ends_it_cleanly_with_nothing_orphaned(mode, flow_env,
                                                                                             private_cluster):
    from alphaplus.registry.artifacts import ArtifactStore
    from alphaplus.market.synth import synth_candles
    from db.candles import upsert_candles
    from db.pool import get_pool
    from flows.retrain import retrain

    cluster, dsn = private_cluster
    model_name = f"restart_{mode}_{uuid.uuid4().hex[:8]}"
    symbol = f"RST{uuid.uuid4().hex[:6].upper()}"
    await upsert_candles(await get_pool(dsn, flow_env), symbol=symbol, timeframe="1h",
                         frame=synth_candles(8000, seed=21))
    # Restart once the run has started its training jobs: it is then validating and training.
    restarter = Restarter(cluster, dsn, mode,
                          "SELECT count(*) = 3 FROM ml_training_jobs WHERE model_name = $1", (model_name,),
                          delay=random.Random(mode).uniform(0.0, 0.3))
    restarter.start()
    try:
        results = await asyncio.wait_for(
            retrain(symbols=[symbol], regime="all", model_name=model_name, gate={"min_outcomes": 10}),
            FLOW_DEADLINE_SECONDS)
        ended = f"completed: {[r['status'] for r in results]}"
    except AlphaPlusError as e:  # RunFailed (some slots failed), or a step out of retries
        assert str(e).strip() and len(str(e)) < 20_000
        ended = f"failed: {type(e).__name__}: {str(e)[:300]}"
    print(f"retrain run across a {mode} restart {ended}")
    await asyncio.to_thread(restarter.join, RESTART_DEADLINE_SECONDS)
    assert not restarter.is_alive() and restarter.error is None, restarter.error
    assert restarter.restarted.is_set()
    assert cluster.dsn() == dsn, "the restarted cluster kept its port"

    conn = await asyncpg.connect(dsn)
    try:
        jobs = await conn.fetch("SELECT status, version, error FROM ml_training_jobs WHERE model_name = $1",
                                model_name)
        assert jobs and all(j["status"] in ("succeeded", "failed") for j in jobs), (ended, [dict(j) for j in jobs])
        orphans = await conn.fetchval(
            "SELECT count(*) FROM model_versions v LEFT JOIN model_lineage l ON l.lineage_id = v.lineage_id "
            "WHERE l.lineage_id IS NULL")
        assert orphans == 0
        await check_model(conn, model_name)
        store = ArtifactStore(flow_env.artifacts_dir)
        for v in await conn.fetch("SELECT model_artifact_path, model_size_bytes, model_artifact_hash FROM model_versions "
                                  "WHERE model_name = $1", model_name):
            store.verify(v["model_artifact_path"], sha256=v["model_artifact_hash"], size=v["model_size_bytes"])
        succeeded = {j["version"] for j in jobs if j["status"] == "succeeded"}
        registered = {r["version"] for r in await conn.fetch(
            "SELECT version FROM model_versions WHERE model_name = $1", model_name)}
        assert succeeded <= registered, (ended, succeeded, registered)
    finally:
        await conn.close()


def _event(model_name: str, i: int) -> tuple:
    now = datetime.now(timezone.utc)
    # latency_ms carries the event number, so every event can be found again.
    return (now, now - timedelta(hours=1), model_name, 1, "trending", "BTCUSDT", False, True, None,
            float(i), 1, 0.5, [0.25, 0.5])


@pytest.mark.parametrize("mode", ["fast", "immediate"])
async def test_inference_events_buffered_across_a_restart_are_all_written_once(mode, private_cluster):
    from alphaplus.inference.recorder import InferenceRecorder
    from db.inference import event_writer
    from db.pool import init_connection

    cluster, dsn = private_cluster
    model_name = f"buffered_{mode}_{uuid.uuid4().hex[:8]}"
    n = 5_000
    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=2, init=init_connection)
    try:
        recorder = InferenceRecorder(event_writer(pool), flush_rows=n * 10, flush_seconds=3600.0,
                                     buffer_limit=n * 4, max_retry_delay=0.2)
        recorder.start()
        for i in range(n):
            assert recorder.record(_event(model_name, i))
        # The pool's connections are open now, and die with the restart.
        await asyncio.to_thread(cluster.restart, mode)
        assert cluster.dsn() == dsn
        stats = await asyncio.wait_for(recorder.close(timeout=30), 60)
        numbers = [r["latency_ms"] for r in await pool.fetch(
            "SELECT latency_ms FROM inference_events WHERE model_name = $1", model_name)]
    finally:
        await asyncio.wait_for(pool.close(), 30)
    assert stats.dropped == 0 and stats.pending == 0 and stats.accepted == stats.flushed == n, stats
    assert sorted(numbers) == [float(i) for i in range(n)]


@pytest.mark.parametrize("error", ["CannotConnectNowError", "AdminShutdownError", "CrashShutdownError",
                                   "TooManyConnectionsError", "ConnectionFailureError"])
def test_a_server_going_away_or_starting_up_is_reported_as_unavailable(error):
    from alphaplus.core.errors import DatabaseUnavailable
    from db.errors import translate

    translated = translate(getattr(asyncpg.exceptions, error)("the database system is starting up"))
    assert isinstance(translated, DatabaseUnavailable) and str(translated).startswith("database unavailable")

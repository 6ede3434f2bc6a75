"""The inference engine and recorder on a real PostgreSQL: serving the production version, picking up
moves made elsewhere, failing loudly on tampered artifacts, recording, and surviving restarts."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import asyncpg
import numpy as np
import pytest

from alphaplus.core.errors import ArtifactIntegrityError, InvalidInput, NoProductionVersion
from alphaplus.ml.features import build_features
from alphaplus.inference.engine import InferenceEngine
from alphaplus.inference.sync import SyncInferenceEngine
from alphaplus.inference.recorder import InferenceRecorder
from alphaplus.ml.training import predict_proba
from tests.db.trained_versions import candles_ending_in_regime, register_trained

SWITCH_DEADLINE_SECONDS = 1.0


@pytest.fixture(scope="module")
def market():
    """Candles whose last bar is in a known regime, and that regime."""
    return candles_ending_in_regime()


@pytest.fixture
def symbol() -> str:
    return f"SYM{uuid.uuid4().hex[:8].upper()}"


@pytest.fixture
async def engine(settings, model_name):
    engine = await InferenceEngine.open(settings, model_name=model_name)
    yield engine
    await engine.close()


async def served_version_within(engine, symbol, candles, expected: int, deadline: float) -> int:
    """Predict until ``expected`` serves or the deadline passes; the last version served."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while True:
        served = (await engine.predict(symbol, candles)).version
        if served == expected or loop.time() >= end:
            return served
        await asyncio.sleep(0.01)


async def test_a_promotion_by_another_connection_is_served_within_a_second(
    engine, registry, model_name, market, symbol
):
    candles, regime = market
    v1 = await register_trained(registry, model_name, regime, symbol, seed=101)
    v2 = await register_trained(registry, model_name, regime, symbol, seed=102)
    await registry.promote(model_name, v1.version, reason="first")
    assert (await engine.predict(symbol, candles)).version == v1.version
    await registry.promote(model_name, v2.version, reason="better")
    assert await served_version_within(engine, symbol, candles, v2.version, SWITCH_DEADLINE_SECONDS) == v2.version


async def test_a_rollback_by_another_connection_is_served_within_a_second(
    engine, registry, model_name, market, symbol
):
    candles, regime = market
    v1 = await register_trained(registry, model_name, regime, symbol, seed=101)
    v2 = await register_trained(registry, model_name, regime, symbol, seed=102)
    await registry.promote(model_name, v1.version, reason="first")
    await registry.promote(model_name, v2.version, reason="second")
    assert (await engine.predict(symbol, candles)).version == v2.version
    await registry.promote(model_name, v1.version, reason="roll back: v2 degraded")
    assert await served_version_within(engine, symbol, candles, v1.version, SWITCH_DEADLINE_SECONDS) == v1.version


async def test_a_demoted_slot_stops_serving_instead_of_serving_the_old_version(
    engine, registry, model_name, market, symbol
):
    candles, regime = market
    v1 = await register_trained(registry, model_name, regime, symbol, seed=101)
    await registry.promote(model_name, v1.version, reason="first")
    await engine.predict(symbol, candles)
    await registry.demote(model_name, v1.version, reason="retire")
    loop = asyncio.get_running_loop()
    end = loop.time() + SWITCH_DEADLINE_SECONDS
    with pytest.raises(NoProductionVersion):
        while loop.time() < end:
            await engine.predict(symbol, candles)
            await asyncio.sleep(0.01)


async def test_the_prediction_is_the_production_models_answer_on_the_last_bar(
    engine, registry, model_name, market, symbol
):
    candles, regime = market
    v = await register_trained(registry, model_name, regime, symbol, seed=103)
    await registry.promote(model_name, v.version, reason="first")
    answer = await engine.predict(symbol, candles)
    trained = registry.artifacts.load(v.artifact)
    expected = predict_proba(trained, build_features(candles).iloc[[-1]])[0]
    assert answer.probability == pytest.approx(expected, abs=1e-12)
    assert answer.prediction == int(expected > 0.5)
    assert (answer.regime, answer.symbol, answer.bar_ts) == (regime, symbol, candles["ts"].iloc[-1])


async def test_predictions_are_recorded_with_their_inputs_and_counted_as_usage(
    engine, registry, model_name, market, symbol, conn
):
    candles, regime = market
    v = await register_trained(registry, model_name, regime, symbol, seed=101)
    await registry.promote(model_name, v.version, reason="first")
    answers = [await engine.predict(symbol, candles.iloc[: len(candles) - i]) for i in range(5)]
    await engine.recorder.flush()
    rows = await conn.fetch(
        "SELECT bar_ts, prediction, probability, features, shadow, success FROM inference_events"
        " WHERE model_name = $1 ORDER BY ts", model_name)
    assert [r["bar_ts"] for r in rows] == [a.bar_ts for a in answers]
    assert [r["prediction"] for r in rows] == [a.prediction for a in answers]
    assert all(r["success"] and not r["shadow"] for r in rows)
    assert len(rows[0]["features"]) == len(v.version_metadata["feature_names"])
    usage = await registry.usage_stats(model_name, v.version)
    assert (usage.total_inferences, usage.error_count) == (5, 0)
    assert usage.avg_inference_time_ms > 0


async def test_a_tampered_artifact_fails_the_prediction_loudly_and_counts_an_error_for_its_version(
    engine, registry, model_name, market, symbol, conn
):
    candles, regime = market
    v = await register_trained(registry, model_name, regime, symbol, seed=104)
    file = registry.artifacts.resolve(v.artifact.path)
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    file.write_bytes(bytes(data))
    await registry.promote(model_name, v.version, reason="first")
    with pytest.raises(ArtifactIntegrityError, match="does not match its registered SHA-256"):
        await engine.predict(symbol, candles)
    await engine.recorder.flush()
    usage = await registry.usage_stats(model_name, v.version)
    assert (usage.total_inferences, usage.error_count) == (1, 1)
    error = await conn.fetchval(
        "SELECT error FROM inference_events WHERE model_name = $1 AND version = $2 AND NOT success",
        model_name, v.version)
    assert error.startswith("ArtifactIntegrityError")


async def test_a_slot_without_production_raises_and_records_nothing(engine, model_name, market, symbol, conn):
    candles, regime = market
    with pytest.raises(NoProductionVersion, match=f"regime '{regime}' and symbol '{symbol}'"):
        await engine.predict(symbol, candles)
    await engine.recorder.flush()
    assert await conn.fetchval("SELECT count(*) FROM inference_events WHERE model_name = $1", model_name) == 0


async def test_too_few_candles_are_refused_with_the_number_needed(engine, market, symbol):
    candles, _ = market
    with pytest.raises(InvalidInput, match="too few"):
        await engine.predict(symbol, candles.head(30))


async def test_shadow_scoring_records_past_champions_without_returning_them(
    settings, registry, model_name, market, symbol, conn
):
    candles, regime = market
    old = await register_trained(registry, model_name, regime, symbol, seed=101)
    new = await register_trained(registry, model_name, regime, symbol, seed=102)
    await registry.promote(model_name, old.version, reason="first")
    await registry.promote(model_name, new.version, reason="second")
    async with await InferenceEngine.open(settings, model_name=model_name, shadow=True) as engine:
        answers = [await engine.predict(symbol, candles) for _ in range(3)]
    assert {a.version for a in answers} == {new.version}
    rows = await conn.fetch(
        "SELECT version, shadow, count(*) AS n FROM inference_events WHERE model_name = $1"
        " GROUP BY version, shadow ORDER BY version", model_name)
    assert [(r["version"], r["shadow"], r["n"]) for r in rows] == [(old.version, True, 3), (new.version, False, 3)]
    assert (await registry.usage_stats(model_name, old.version)).total_inferences == 0


async def test_a_dropped_listener_reconnects_and_serves_changes_made_meanwhile(
    engine, registry, model_name, market, symbol, conn
):
    candles, regime = market
    v1 = await register_trained(registry, model_name, regime, symbol, seed=101)
    v2 = await register_trained(registry, model_name, regime, symbol, seed=102)
    await registry.promote(model_name, v1.version, reason="first")
    assert (await engine.predict(symbol, candles)).version == v1.version
    await conn.execute("SELECT pg_terminate_backend($1)", engine.versions.listener.get_server_pid())
    # Promote at once: the notification goes nowhere; only the reconnection's invalidation helps.
    await registry.promote(model_name, v2.version, reason="while nobody listened")
    assert await served_version_within(engine, symbol, candles, v2.version, 5.0) == v2.version
    assert engine.stats().listener_connects == 2


async def test_the_synchronous_engine_serves_callers_without_an_event_loop(
    settings, registry, model_name, market, symbol
):
    candles, regime = market
    v = await register_trained(registry, model_name, regime, symbol, seed=101)
    await registry.promote(model_name, v.version, reason="first")

    def use() -> tuple:
        with SyncInferenceEngine(settings, model_name=model_name) as engine:
            answer = engine.predict(symbol, candles)
            return answer, engine.recorder_stats()

    answer, stats = await asyncio.to_thread(use)
    assert answer.version == v.version and stats.accepted == 1
    assert (await registry.usage_stats(model_name, v.version)).total_inferences == 1


# --- a database restart under load ------------------------------------------------------------


@pytest.fixture
def private_cluster(tmp_path):
    """A private embedded cluster: (EmbeddedPostgres, dsn), stopped and removed afterwards."""
    from db.embedded import EmbeddedPostgres

    # As root the server runs as 'postgres', which cannot enter pytest's owner-only tmp folders.
    root = Path(tempfile.mkdtemp(prefix="alphaplus-pg-")) if os.geteuid() == 0 else tmp_path
    if os.geteuid() == 0:
        root.chmod(0o755)
    cluster = EmbeddedPostgres(root / "pg")
    dsn = cluster.ensure_running()
    yield cluster, dsn
    cluster.stop()
    if root != tmp_path:
        shutil.rmtree(root, ignore_errors=True)


def numbered_event(i: int) -> tuple:
    now = datetime.now(timezone.utc)
    # latency_ms carries the event number so every event can be found again.
    return (now, now - timedelta(hours=1), "restart_model", 1, "trending", "BTCUSDT", False, True, None,
            float(i), 1, 0.5, [0.25, 0.5])


@pytest.mark.reliability
async def test_recorded_events_survive_a_database_restart_and_an_outage_without_loss(private_cluster):
    from db.inference import event_writer
    from db.migrate import migrate
    from db.pool import init_connection

    cluster, dsn = private_cluster
    admin = await asyncpg.connect(dsn)
    await migrate(admin)
    await admin.close()
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2, init=init_connection)
    recorder = InferenceRecorder(event_writer(pool), flush_rows=200, flush_seconds=0.05, buffer_limit=100_000,
                                 max_retry_delay=0.2)
    recorder.start()
    counter = iter(range(10**9))
    producing = True

    async def produce() -> None:
        while producing:
            for _ in range(20):
                recorder.record(numbered_event(next(counter)))
            await asyncio.sleep(0.005)

    producer = asyncio.create_task(produce())
    await asyncio.sleep(0.3)
    await asyncio.to_thread(cluster.restart)
    assert cluster.dsn() == dsn
    await asyncio.sleep(0.3)
    await asyncio.to_thread(cluster.stop)
    errors_before = recorder.stats().flush_errors
    deadline = asyncio.get_running_loop().time() + 10
    while recorder.stats().flush_errors == errors_before and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    assert recorder.stats().pending > 0, "events are held while the database is down"
    assert await asyncio.to_thread(cluster.ensure_running) == dsn, "the cluster came back on its port"
    await asyncio.sleep(0.3)
    producing = False
    await producer
    stats = await recorder.close(timeout=30)
    numbers = [r["latency_ms"] for r in await pool.fetch("SELECT latency_ms FROM inference_events")]
    await pool.close()
    assert stats.flush_errors > 0 and stats.dropped == 0 and stats.pending == 0
    assert stats.accepted == stats.flushed > 0
    assert set(numbers) == {float(i) for i in range(stats.accepted)}, "every accepted event is stored"
    # At least once: a batch is written twice only if its commit was acknowledged to nobody.
    assert len(numbers) - len(set(numbers)) <= 200 * 10


async def test_every_kind_of_event_is_stored_exactly_as_recorded(registry, model_name, conn):
    from db.inference import write_events

    t = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=timezone.utc)
    bar = datetime(2024, 5, 1, 11, tzinfo=timezone.utc)
    events = [
        (t, bar, model_name, 3, "trending", "BTCUSDT", False, True, None, 1.25, 1, 0.75, [0.5, -1.5, float("nan")]),
        (t, bar, model_name, 4, "ranging", "ÄÖÜ/€", True, True, None, 0.0, 0, 0.0, [2.0]),
        (t, bar, model_name, 3, "trending", "BTCUSDT", False, False, "ArtifactIntegrityError: bad", 0.5, None, None,
         None),
        (t, None, model_name, 5, "volatile", "ETHUSDT", False, True, None, 2.0, 1, 1.0, None),
    ]
    await write_events(registry.repo.pool, events, [])
    rows = await conn.fetch(
        "SELECT ts, bar_ts, model_name, version, regime, symbol, shadow, success, error, latency_ms, prediction,"
        " probability, features FROM inference_events WHERE model_name = $1 ORDER BY version, success DESC",
        model_name)
    stored = [tuple(r) for r in rows]
    expected = sorted(events, key=lambda e: (e[3], not e[7]))
    for got, want in zip(stored, expected, strict=True):
        assert got[:12] == want[:12]
        if want[12] is None:
            assert got[12] is None
        else:
            assert np.allclose(got[12], want[12], equal_nan=True)

"""Benchmark of inference serving and recording: recorder throughput into PostgreSQL beside the naive
per-event writes, the cost a recorded prediction adds, cached production lookups, end-to-end predict.

Run: ``python benchmarks/bench_inference.py``. It creates its own database on the configured server
(ALPHAPLUS_DATABASE_URL, or the embedded cluster) and drops it at the end. ``run()`` returns the rows
(measure, value, unit, target, baseline) for a collector.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

UTC = timezone.utc
RECORDED_EVENTS = 300_000
NAIVE_EVENTS = 2_000
APPEND_CALLS = 500_000
LOOKUP_CALLS = 100_000
UNCACHED_LOOKUPS = 500
PREDICTIONS = 300
N_FEATURES = 22


def run() -> list[dict[str, Any]]:
    """Every measure of this benchmark, in a fresh database that is dropped afterwards."""
    return asyncio.run(_run())


async def _run() -> list[dict[str, Any]]:
    import asyncpg

    from alphaplus.core.settings import Settings
    from db.migrate import migrate
    from db.pool import close_pools, connect, resolve_dsn

    server = resolve_dsn(Settings())
    name = f"alphaplus_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = f"{server.rpartition('/')[0]}/{name}"
    try:
        conn = await connect(dsn)
        await migrate(conn)
        await conn.close()
        with tempfile.TemporaryDirectory(prefix="alphaplus-bench-") as home:
            settings = Settings(database_url=dsn, home=Path(home))
            rows = await _measure(settings)
        await close_pools()
        return rows
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def _row(measure: str, value: float, unit: str, target: str | None, baseline: float | None) -> dict[str, Any]:
    return {"measure": measure, "value": value, "unit": unit, "target": target, "baseline": baseline}


def _event(i: int, now: datetime, version: int, features: list[float]) -> tuple:
    return (now, now - timedelta(hours=1), "bench_model", version, "trending", "BTCUSDT", False, True, None,
            0.8, i & 1, 0.55, features)


async def _measure(settings) -> list[dict[str, Any]]:
    from db.pool import get_pool

    pool = await get_pool(settings.database_url, settings)
    rows = []
    recorded = await _recorder_throughput(pool, settings)
    naive = await _naive_writes(pool)
    rows.append(_row("recorded events into PostgreSQL (COPY batches + usage per batch)", recorded, "events/s",
                     ">= 100000", naive))
    rows.append(_row("naive: one INSERT + one usage UPDATE per event", naive, "events/s", None, None))
    append_us, bare_us = _append_cost(settings)
    rows.append(_row("time a prediction spends recording (timestamp + tuple + append)", append_us, "us",
                     "<= 5", 1e6 / naive))
    rows.append(_row("recorder.record() of a ready tuple", bare_us, "us", "~1-2", None))
    rows += await _serving(settings)
    return rows


async def _recorder_throughput(pool, settings) -> float:
    from alphaplus.inference.recorder import InferenceRecorder
    from db.inference import event_writer

    recorder = InferenceRecorder.from_settings(event_writer(pool), settings)
    recorder.start()
    features = [0.01 * k for k in range(N_FEATURES)]
    now = datetime.now(UTC)
    started = time.perf_counter()
    for i in range(RECORDED_EVENTS):
        recorder.record(_event(i, now, 1, features))
        if i % 2_000 == 1_999:
            # A trading loop yields between predictions; the flusher runs in those gaps.
            await asyncio.sleep(0)
    while recorder.stats().pending:
        await asyncio.sleep(0.001)
    elapsed = time.perf_counter() - started
    stats = await recorder.close()
    assert stats.flushed == RECORDED_EVENTS and stats.dropped == 0, stats
    stored = await pool.fetchval("SELECT count(*) FROM inference_events WHERE version = 1")
    assert stored == RECORDED_EVENTS, stored
    return RECORDED_EVENTS / elapsed


async def _naive_writes(pool) -> float:
    from alphaplus.inference.events import EVENT_FIELDS
    from db.registry import _RECORD_USAGE

    insert = (f"INSERT INTO inference_events ({', '.join(EVENT_FIELDS)}) VALUES "
              f"({', '.join(f'${i + 1}' for i in range(len(EVENT_FIELDS)))})")
    features = [0.01 * k for k in range(N_FEATURES)]
    started = time.perf_counter()
    async with pool.acquire() as conn:
        for i in range(NAIVE_EVENTS):
            now = datetime.now(UTC)
            await conn.execute(insert, *_event(i, now, 2, features))
            await conn.execute(_RECORD_USAGE, ["bench_model"], [2], [1], [0], [0.8], [now])
    return NAIVE_EVENTS / (time.perf_counter() - started)


def _append_cost(settings) -> tuple[float, float]:
    from alphaplus.inference.recorder import InferenceRecorder

    async def never(events, usage) -> None:  # never started: only the append is measured
        raise AssertionError

    recorder = InferenceRecorder(never, flush_rows=10**9, flush_seconds=1.0, buffer_limit=10**9)
    features = [0.01 * k for k in range(N_FEATURES)]
    bar = datetime.now(UTC)
    record = recorder.record
    batch = settings.inference_flush_rows
    full = bare = 0.0
    ready = _event(0, bar, 3, features)
    for _ in range(APPEND_CALLS // batch):
        started = time.perf_counter()
        for _ in range(batch):
            # What predict() does to record: take the time, build the tuple, append it.
            record((datetime.now(UTC), bar, "bench_model", 3, "trending", "BTCUSDT", False, True, None, 0.8, 1,
                    0.55, features))
        full += time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(batch):
            record(ready)
        bare += time.perf_counter() - started
        # What a flush does: the buffer is handed over and starts empty (untimed).
        recorder._buf = []
    calls = (APPEND_CALLS // batch) * batch
    return full / calls * 1e6, bare / calls * 1e6


async def _serving(settings) -> list[dict[str, Any]]:
    from alphaplus.inference.engine import InferenceEngine
    from alphaplus.market.synth import synth_candles
    from alphaplus.ml.regimes import classify_regimes
    from alphaplus.registry.service import Registry

    candles = synth_candles(900, seed=7)
    regime = classify_regimes(candles).iloc[-1]
    registry = await Registry.open(settings)
    version = await _register_small_model(registry, regime)
    await registry.promote("bench_model", version, reason="benchmark")

    started = time.perf_counter()
    for _ in range(UNCACHED_LOOKUPS):
        await registry.get_production_model("bench_model", regime, "BTCUSDT")
    uncached_us = (time.perf_counter() - started) / UNCACHED_LOOKUPS * 1e6

    rows = []
    async with await InferenceEngine.open(settings, model_name="bench_model") as engine:
        await engine.predict("BTCUSDT", candles)  # loads and verifies the artifact once
        started = time.perf_counter()
        for _ in range(LOOKUP_CALLS):
            await engine.production_version(regime, "BTCUSDT")
        cached_us = (time.perf_counter() - started) / LOOKUP_CALLS * 1e6
        latencies = []
        for _ in range(PREDICTIONS):
            t = time.perf_counter()
            await engine.predict("BTCUSDT", candles)
            latencies.append((time.perf_counter() - t) * 1000.0)
    latencies.sort()
    rows.append(_row("cached production lookup", cached_us, "us", None, uncached_us))
    rows.append(_row("predict end to end, p50 (regime, lookup, features, LightGBM, record)",
                     statistics.median(latencies), "ms", None, None))
    rows.append(_row("predict end to end, p99", latencies[int(0.99 * (len(latencies) - 1))], "ms", None, None))
    return rows


async def _register_small_model(registry, regime: str) -> int:
    from alphaplus.monitoring.drift import reference_bins
    from alphaplus.ml.features import DEFAULT_FEATURE_SPEC, build_features
    from alphaplus.ml.labels import make_labels
    from alphaplus.ml.lineage import build_lineage
    from alphaplus.market.synth import synth_candles
    from alphaplus.ml.training import bundle_model, time_split, train_classifier

    candles = synth_candles(3000, seed=1)
    X, y = build_features(candles), make_labels(candles, 12)
    ok = X.notna().all(axis=1) & y.notna()
    X, y = X[ok].reset_index(drop=True), y[ok].reset_index(drop=True)
    split = time_split(len(X), 0.6, 0.2, 12)
    params = {"n_estimators": 100, "num_leaves": 15}
    model = train_classifier(X.iloc[split.train], y.iloc[split.train], X.iloc[split.valid], y.iloc[split.valid],
                             params, 0, early_stopping_rounds=0)
    trained = bundle_model(model, DEFAULT_FEATURE_SPEC, horizon=12, hyperparams=params)
    lineage = build_lineage(model_name="bench_model", regime=regime, symbol="BTCUSDT", training_frame=X,
                            feature_set=DEFAULT_FEATURE_SPEC.to_dict(), hyperparameters=params, timeframe="1h")
    metadata = {"feature_names": list(trained.feature_names), "label_horizon": 12, "timeframe": "1h",
                "psi_reference": {n: reference_bins(X[n]).to_dict() for n in trained.feature_names}}
    registration = await registry.register_model_version(lineage, model=trained, version_metadata=metadata)
    return registration.version.version


def _print(rows: list[dict[str, Any]]) -> None:
    width = max(len(r["measure"]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>12}  {'unit':<9}  {'target':<10}  baseline")
    for r in rows:
        baseline = "" if r["baseline"] is None else f"{r['baseline']:.4g}"
        print(f"{r['measure']:<{width}}  {r['value']:>12.4g}  {r['unit']:<9}  {r['target'] or '':<10}  {baseline}")


if __name__ == "__main__":
    _print(run())

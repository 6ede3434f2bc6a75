"""Benchmark of inference: serving beside the raw Booster call that bounds it (on_bar, predict_many of a
bar close, predict on a frame beside the pandas path it replaced, warm-up, memory per symbol), and
recording (throughput into PostgreSQL beside naive per-event writes, the cost a prediction pays).

Run: ``python -m benchmarks.bench_inference [--quick]``. It works in a private database on the configured
server (ALPHAPLUS_DATABASE_URL, or the embedded cluster), dropped at the end. ``run()`` returns the rows.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from benchmarks.common import bench_settings, percentile, private_database, row

UTC = timezone.utc
MODEL = "bench_model"
N_FEATURES = 22
WARM_BARS = 600
FRAME_BARS = 600


@dataclass(frozen=True)
class Sizes:
    recorded_events: int
    naive_events: int
    append_calls: int
    lookup_calls: int
    uncached_lookups: int
    on_bar_calls: int
    frame_predictions: int
    symbols: int
    bar_closes: int
    distinct_models: int
    booster_calls: int


FULL = Sizes(recorded_events=300_000, naive_events=2_000, append_calls=500_000, lookup_calls=100_000,
             uncached_lookups=500, on_bar_calls=3_000, frame_predictions=200, symbols=1_000, bar_closes=40,
             distinct_models=10, booster_calls=20_000)
QUICK = Sizes(recorded_events=30_000, naive_events=300, append_calls=50_000, lookup_calls=10_000,
              uncached_lookups=100, on_bar_calls=300, frame_predictions=30, symbols=100, bar_closes=5,
              distinct_models=2, booster_calls=2_000)


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Every measure of this benchmark (smaller sizes when ``quick``)."""
    return asyncio.run(_run(QUICK if quick else FULL))


async def _run(sizes: Sizes) -> list[dict[str, Any]]:
    async with private_database() as dsn:
        with tempfile.TemporaryDirectory(prefix="alphaplus-bench-") as home:
            settings = bench_settings(dsn, home)
            rows = await _serving(settings, sizes)
            rows += await _recording(settings, sizes)
    return rows


def _p(values: list[float], q: float) -> float:
    return percentile(sorted(values), q)


def _timed(fn: Callable[[], Any], n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000.0)
    return out


# --- serving ----------------------------------------------------------------------------------------


async def _serving(settings, sizes: Sizes) -> list[dict[str, Any]]:
    from alphaplus.core.entities import Slot
    from alphaplus.inference.engine import InferenceEngine
    from alphaplus.inference.scoring import scorer_for
    from alphaplus.market.synth import synth_candles
    from alphaplus.ml.features import build_features
    from alphaplus.registry.service import Registry

    registry = await Registry.open(settings)
    bundles = [_train(seed) for seed in range(sizes.distinct_models)]
    artifacts = [await asyncio.to_thread(registry.artifacts.save, b[0]) for b in bundles]
    candles = synth_candles(WARM_BARS + sizes.on_bar_calls + 1, seed=7)
    for regime in ("trending", "ranging", "volatile"):
        await _serve_slot(registry, regime, "BTCUSDT", bundles[0], artifacts[0])
    rows = []
    async with await InferenceEngine.open(settings, model_name=MODEL) as engine:
        trained = bundles[0][0]
        features = build_features(candles)[list(trained.feature_names)].to_numpy()
        scorer = scorer_for(trained)
        one = features[WARM_BARS]
        booster = _timed(lambda: scorer.one(one), sizes.booster_calls)
        frame_row = build_features(candles).iloc[[WARM_BARS]][list(trained.feature_names)]
        wrapper = _timed(lambda: trained.model.predict_proba(frame_row), 200)
        rows.append(row("raw Booster call, one row (LightGBM fast single-row entry), p50", _p(booster, 0.5), "ms",
                        note="the limit every serving row is read against"))
        rows.append(row("LGBMClassifier.predict_proba, one row, p50", _p(wrapper, 0.5), "ms",
                        baseline=_p(booster, 0.5), note="baseline: raw Booster call"))

        # on_bar: one symbol, bar after bar, after a warm-up.
        engine.warm_up("BTCUSDT", candles.iloc[:WARM_BARS])
        bars = [_bar(candles, i) for i in range(WARM_BARS, len(candles) - 1)]
        await engine.on_bar("BTCUSDT", bars[0])  # loads and verifies the artifact
        latencies, cpu = [], []
        for bar in bars[1:]:
            started, started_cpu = time.perf_counter(), time.thread_time()
            await engine.on_bar("BTCUSDT", bar)
            cpu.append((time.thread_time() - started_cpu) * 1000.0)
            latencies.append((time.perf_counter() - started) * 1000.0)
        note = "state update, regime, lookup, features, Booster, record; baseline: raw Booster call"
        rows.append(row("on_bar end to end, p50", _p(latencies, 0.5), "ms", "<= 0.3", _p(booster, 0.5), note))
        rows.append(row("on_bar end to end, p99", _p(latencies, 0.99), "ms", "<= 1", _p(booster, 0.99),
                        "baseline: raw Booster call p99"))
        rows.append(row("on_bar, CPU time of the calling thread, p99", _p(cpu, 0.99), "ms", None, _p(latencies, 0.99),
                        "baseline: wall p99 (the difference is time the thread was not running)"))

        started = time.perf_counter()
        for _ in range(sizes.lookup_calls):
            await engine.production_version("trending", "BTCUSDT")
        cached_us = (time.perf_counter() - started) / sizes.lookup_calls * 1e6
        started = time.perf_counter()
        for _ in range(sizes.uncached_lookups):
            await registry.get_production_model(Slot(MODEL, "trending", "BTCUSDT"))
        uncached_us = (time.perf_counter() - started) / sizes.uncached_lookups * 1e6
        rows.append(row("cached production lookup", cached_us, "us", baseline=uncached_us,
                        note="baseline: the registry's lookup in the database"))

        rows += await _frames(engine, candles, trained, sizes)
        stacked = features[WARM_BARS:WARM_BARS + 1].repeat(sizes.symbols, axis=0)
        raw_many = _timed(lambda: scorer.many(stacked), 20)
        rows += await _bar_close(engine, registry, bundles, artifacts, sizes, _p(raw_many, 0.5))
    return rows


async def _frames(engine, candles, trained, sizes: Sizes) -> list[dict[str, Any]]:
    """predict(symbol, frame) on 600-bar frames beside the path it replaced: the regime and the features
    rebuilt over the frame's tail with the pandas formulas as first written, scored with predict_proba."""
    from alphaplus.ml.regimes import DEFAULT_RULE
    from tests.pandas_reference import pandas_features, pandas_regimes

    spec = trained.feature_spec
    frames = [candles.iloc[end - FRAME_BARS:end] for end in range(FRAME_BARS, len(candles))][:sizes.frame_predictions]

    def pandas_path(frame) -> float:
        pandas_regimes(frame.iloc[-525:], DEFAULT_RULE).iloc[-1]
        row_ = pandas_features(frame.iloc[-(spec.warmup_bars + 2):], spec).iloc[[-1]]
        return float(trained.model.predict_proba(row_[list(trained.feature_names)])[0, 1])

    before = []
    for frame in frames:
        started = time.perf_counter()
        pandas_path(frame)
        before.append((time.perf_counter() - started) * 1000.0)
    after = []
    for frame in frames:
        started = time.perf_counter()
        await engine.predict("BTCUSDT", frame)
        after.append((time.perf_counter() - started) * 1000.0)
    warm = _timed(lambda: engine.warm_up("WARM", candles.iloc[:WARM_BARS]), 50)
    speedup = _p(before, 0.5) / _p(after, 0.5)
    return [
        row(f"predict(symbol, {FRAME_BARS}-bar frame) end to end, p50", _p(after, 0.5), "ms", None, _p(before, 0.5),
            "baseline: the path it replaced (pandas features + regime over the tail, predict_proba)"),
        row(f"predict on a {FRAME_BARS}-bar frame: speed-up over the pandas path", speedup, "x", ">= 10"),
        row(f"warm_up, {WARM_BARS} bars", _p(warm, 0.5), "ms"),
    ]


async def _bar_close(engine, registry, bundles, artifacts, sizes: Sizes, raw_ms: float) -> list[dict[str, Any]]:
    """predict_many over ``sizes.symbols`` symbols whose versions share ``distinct_models`` artifacts."""
    from alphaplus.core.errors import NoProductionVersion
    from alphaplus.market.synth import synth_candles
    from alphaplus.ml.regimes import REGIMES, classify_regimes

    base = synth_candles(WARM_BARS + 200, seed=23)
    regimes = classify_regimes(base)
    regime = regimes.iloc[WARM_BARS:].value_counts().idxmax()
    symbols = [f"S{k:04d}" for k in range(sizes.symbols)]
    # Each symbol trades the same moves at its own price level: the same regime at every bar close.
    levels = [1.0 + k / sizes.symbols for k in range(sizes.symbols)]
    sem = asyncio.Semaphore(8)

    async def serve(k: int) -> None:
        async with sem:
            m = k % len(bundles)
            await _serve_slot(registry, regime, symbols[k], bundles[m], artifacts[m])

    await asyncio.gather(*(serve(k) for k in range(sizes.symbols)))
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for symbol, level in zip(symbols, levels):
        engine.warm_up(symbol, _scaled(base.iloc[:WARM_BARS], level))
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    # A running process has looked its slots up already (every regime: absent slots are cached too),
    # after the notifications of the promotions above have reached its listener.
    await asyncio.sleep(1.0)
    for symbol in symbols:
        for r in REGIMES:
            try:
                await engine.production_version(r, symbol)
            except NoProductionVersion:
                pass
    lookups = engine.stats().production_lookups
    closes, cpu, served, loaded = [], [], 0, False
    for i in range(WARM_BARS, len(base)):
        bars = {s: _bar(base, i, level) for s, level in zip(symbols, levels)}
        started, started_cpu = time.perf_counter(), time.thread_time()
        batch = await engine.predict_many(bars)
        elapsed = (time.perf_counter() - started) * 1000.0
        if regimes.iloc[i] == regime:
            if loaded:  # the first close in the regime loads the models
                closes.append(elapsed)
                cpu.append((time.thread_time() - started_cpu) * 1000.0)
                served += len(batch.predictions)
            loaded = True
        if len(closes) >= sizes.bar_closes:
            break
    n = sizes.symbols
    lookups = engine.stats().production_lookups - lookups
    return [
        row(f"predict_many, {n:,} symbols ({len(bundles)} distinct models), per bar close, p50", _p(closes, 0.5),
            "ms", "<= 20", raw_ms, f"baseline: one raw Booster call on {n:,} stacked rows"),
        row(f"predict_many, {n:,} symbols, CPU time of the calling thread per bar close, p50", _p(cpu, 0.5), "ms",
            None, _p(closes, 0.5), "baseline: wall p50 (the difference is time the thread was not running)"),
        row(f"predict_many, {n:,} symbols, predictions per second", n / (_p(closes, 0.5) / 1000.0), "predictions/s",
            ">= 50000", note=f"{served / max(len(closes), 1):.0f} of {n:,} symbols served per close on average; "
                             f"{lookups} database lookups during the closes"),
        row("engine state memory per symbol (rings + rolling accumulators)", engine.market.bytes_per_symbol, "bytes"),
        row("engine memory per symbol, measured (tracemalloc over the warm-ups)", grown / n, "bytes",
            note="state rows (grown by doubling) and the per-symbol bookkeeping"),
    ]


async def _serve_slot(registry, regime: str, symbol: str, bundle, artifact) -> int:
    from alphaplus.ml.lineage import build_lineage

    trained, X, params, metadata = bundle
    lineage = build_lineage(model_name=MODEL, regime=regime, symbol=symbol, training_frame=X,
                            feature_set=trained.feature_spec.to_dict(), hyperparameters=params, timeframe="1h")
    registration = await registry.register_model_version(lineage, artifact=artifact, version_metadata=metadata)
    await registry.promote(MODEL, registration.version.version, reason="benchmark")
    return registration.version.version


def _train(seed: int):
    from alphaplus.ml.features import DEFAULT_FEATURE_SPEC, build_features
    from alphaplus.ml.labels import make_labels
    from alphaplus.ml.training import bundle_model, time_split, train_classifier
    from alphaplus.market.synth import synth_candles
    from alphaplus.monitoring.drift import reference_bins

    candles = synth_candles(3000, seed=1 + seed)
    X, y = build_features(candles), make_labels(candles, 12)
    ok = X.notna().all(axis=1) & y.notna()
    X, y = X[ok].reset_index(drop=True), y[ok].reset_index(drop=True)
    split = time_split(len(X), 0.6, 0.2, 12)
    params = {"n_estimators": 100, "num_leaves": 15}
    model = train_classifier(X.iloc[split.train], y.iloc[split.train], X.iloc[split.valid], y.iloc[split.valid],
                             params, seed, early_stopping_rounds=0)
    trained = bundle_model(model, DEFAULT_FEATURE_SPEC, horizon=12, hyperparams=params, seed=seed)
    metadata = {"feature_names": list(trained.feature_names), "label_horizon": 12, "timeframe": "1h",
                "psi_reference": {n: reference_bins(X[n]).to_dict() for n in trained.feature_names}}
    return trained, X, params, metadata


def _bar(candles, i: int, level: float = 1.0):
    from alphaplus.inference.engine import Bar

    r = candles.iloc[i]
    return Bar(r["ts"], r["open"] * level, r["high"] * level, r["low"] * level, r["close"] * level, r["volume"])


def _scaled(candles, level: float):
    out = candles.copy()
    out[["open", "high", "low", "close"]] *= level
    return out


# --- recording --------------------------------------------------------------------------------------


def _event(i: int, now: datetime, version: int, features: list[float], symbol: str = "BTCUSDT") -> tuple:
    return (now, now - timedelta(hours=1), "bench_recorder", version, "trending", symbol, False, True, None,
            0.8, i & 1, 0.55, features)


async def _recording(settings, sizes: Sizes) -> list[dict[str, Any]]:
    from db.pool import get_pool

    pool = await get_pool(settings.database_url, settings)
    recorded = await _recorder_throughput(pool, settings, sizes, version=1, symbols=1)
    recorded_many = await _recorder_throughput(pool, settings, sizes, version=4, symbols=sizes.symbols)
    naive = await _naive_writes(pool, sizes)
    append_us, bare_us = _append_cost(settings, sizes)
    return [
        row("recorded events into PostgreSQL (COPY batches + usage per batch)", recorded, "events/s", ">= 100000",
            naive, "baseline: naive per-event writes"),
        row(f"recorded events into PostgreSQL, {sizes.symbols:,} symbols (bar closes of predict_many)", recorded_many,
            "events/s", ">= 100000", recorded, "baseline: one symbol"),
        row("naive: one INSERT + one usage UPDATE per event", naive, "events/s"),
        row("time a prediction spends recording (timestamp + tuple + append)", append_us, "us", "<= 5",
            1e6 / naive, "baseline: one naive write"),
        row("recorder.record() of a ready tuple", bare_us, "us"),
    ]


async def _recorder_throughput(pool, settings, sizes: Sizes, *, version: int, symbols: int) -> float:
    from alphaplus.inference.recorder import InferenceRecorder
    from db.inference import event_writer

    recorder = InferenceRecorder.from_settings(event_writer(pool), settings)
    recorder.start()
    features = [0.01 * k for k in range(N_FEATURES)]
    if symbols > 1:  # as predict_many records them: rows of a float64 array
        import numpy as np

        features = np.asarray(features)
    names = [f"S{k:04d}" for k in range(symbols)]
    now = datetime.now(UTC)
    started = time.perf_counter()
    for i in range(sizes.recorded_events):
        recorder.record(_event(i, now, version, features, names[i % symbols]))
        if i % 2_000 == 1_999:
            # A trading loop yields between predictions; the flusher runs in those gaps.
            await asyncio.sleep(0)
    while recorder.stats().pending:
        await asyncio.sleep(0.001)
    elapsed = time.perf_counter() - started
    stats = await recorder.close()
    assert stats.flushed == sizes.recorded_events and stats.dropped == 0, stats
    stored = await pool.fetchval("SELECT count(*) FROM inference_events WHERE model_name = 'bench_recorder'"
                                 " AND version = $1", version)
    assert stored == sizes.recorded_events, stored
    return sizes.recorded_events / elapsed


async def _naive_writes(pool, sizes: Sizes) -> float:
    from alphaplus.core.records import EVENT_FIELDS
    from db.registry_sql import RECORD_USAGE

    insert = (f"INSERT INTO inference_events ({', '.join(EVENT_FIELDS)}) VALUES "
              f"({', '.join(f'${i + 1}' for i in range(len(EVENT_FIELDS)))})")
    features = [0.01 * k for k in range(N_FEATURES)]
    started = time.perf_counter()
    async with pool.acquire() as conn:
        for i in range(sizes.naive_events):
            now = datetime.now(UTC)
            await conn.execute(insert, *_event(i, now, 2, features))
            await conn.execute(RECORD_USAGE, ["bench_recorder"], [2], [1], [0], [0.8], [now])
    return sizes.naive_events / (time.perf_counter() - started)


def _append_cost(settings, sizes: Sizes) -> tuple[float, float]:
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
    for _ in range(sizes.append_calls // batch):
        started = time.perf_counter()
        for _ in range(batch):
            # What a prediction does to record: take the time, build the tuple, append it.
            record((datetime.now(UTC), bar, "bench_recorder", 3, "trending", "BTCUSDT", False, True, None, 0.8, 1,
                    0.55, features))
        full += time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(batch):
            record(ready)
        bare += time.perf_counter() - started
        # What a flush does: the buffer is handed over and starts empty (untimed).
        recorder._buf = []
    calls = (sizes.append_calls // batch) * batch
    return full / calls * 1e6, bare / calls * 1e6


if __name__ == "__main__":
    from benchmarks.__main__ import print_table

    print_table(run(quick="--quick" in sys.argv))

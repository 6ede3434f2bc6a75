"""Benchmark of the registry: registrations and promotions per second, production lookups from the
database and from the inference engine's cache, and lineage hashing throughput.

Each number is printed beside a baseline measured in the same run: a one-row INSERT transaction for
the writes, ``SELECT 1`` for the lookup, a dict lookup for the cache, a numpy copy and SHA-256 of the
same bytes for the hash. The database is private (created on ALPHAPLUS_DATABASE_URL's server or the
embedded cluster) and dropped at the end.

    .venv/bin/python -m benchmarks.bench_registry [--quick]
"""

from __future__ import annotations

import asyncio
import hashlib
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.common import bench_settings, percentile, private_database, row, times

MODEL = "bench_registry"
REGIME = "trending"
CONCURRENCY = 8


@dataclass(frozen=True)
class Sizes:
    registrations: int
    concurrent_registrations: int
    promotions: int
    lookups: int
    cached_lookups: int
    hash_rows: int
    hash_columns: int
    hash_repeats: int


FULL = Sizes(registrations=400, concurrent_registrations=400, promotions=200, lookups=5_000,
             cached_lookups=200_000, hash_rows=1_000_000, hash_columns=30, hash_repeats=7)
QUICK = Sizes(registrations=40, concurrent_registrations=40, promotions=20, lookups=500,
              cached_lookups=20_000, hash_rows=100_000, hash_columns=30, hash_repeats=3)


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Every measure of this benchmark (smaller sizes when ``quick``)."""
    sizes = QUICK if quick else FULL
    rows = asyncio.run(_database_measures(sizes))
    rows += _hash_measures(sizes)
    return rows


# --- database -------------------------------------------------------------------------------------

async def _database_measures(sizes: Sizes) -> list[dict[str, Any]]:
    from alphaplus.registry.service import Registry
    from db.pool import get_pool

    async with private_database() as dsn:
        with tempfile.TemporaryDirectory(prefix="alphaplus-bench-") as home:
            settings = bench_settings(dsn, home)
            registry = await Registry.open(settings)
            pool = await get_pool(dsn, settings)
            fixture = _Fixture.build(2 * sizes.registrations + 2 * sizes.concurrent_registrations)
            insert_tps = await _insert_baseline(pool, sizes.registrations)

            # Sequential: one slot, one registration after the other (each stores a distinct artifact).
            lineages = [fixture.lineage(MODEL, REGIME, "BTCUSDT", i) for i in range(sizes.registrations)]
            started = time.perf_counter()
            versions = []
            for i, lineage in enumerate(lineages):
                registration = await registry.register_model_version(lineage, model=fixture.models[i])
                versions.append(registration.version.version)
            sequential = sizes.registrations / (time.perf_counter() - started)

            # The two halves of a registration, apart: storing the artifact (serialise, SHA-256, fsync'd
            # write) and the database transaction (lineage + version rows, counter, audit triggers).
            first = sizes.registrations + 2 * sizes.concurrent_registrations
            chosen = range(first, first + sizes.registrations)
            started = time.perf_counter()
            artifacts = [registry.artifacts.save(fixture.models[i]) for i in chosen]
            store = sizes.registrations / (time.perf_counter() - started)
            split = [fixture.lineage(MODEL, REGIME, "ETHUSDT", i) for i in chosen]
            started = time.perf_counter()
            for lineage, artifact in zip(split, artifacts):
                await registry.repo.register_version(lineage=lineage, artifact=artifact, training_metrics={},
                                                     validation_metrics={})
            transaction = sizes.registrations / (time.perf_counter() - started)

            # Concurrent: 8 tasks on one model (they queue on the model's version counter lock) and on
            # 8 models (independent counters).
            n = sizes.concurrent_registrations
            offset = sizes.registrations
            same_model = await _concurrent_registrations(
                registry, fixture, [(MODEL, f"SYM{k}") for k in range(CONCURRENCY)], n, offset)
            many_models = await _concurrent_registrations(
                registry, fixture, [(f"{MODEL}_{k}", "BTCUSDT") for k in range(CONCURRENCY)], n, offset + n)

            # Promotions: each moves the slot's pointer (previous production -> rollback_candidate),
            # updates statuses and appends audit rows in one transaction.
            started = time.perf_counter()
            for version in versions[: sizes.promotions]:
                await registry.promote(MODEL, version, reason="benchmark")
            promotions = sizes.promotions / (time.perf_counter() - started)

            lookup_rows = await _lookups(registry, pool, settings, sizes)

    return [
        row("register a version (sequential, one slot)", sequential, "ops/s", None, insert_tps,
            note="baseline: one-row INSERT transaction (commit) per op"),
        row("  part: store the artifact (serialise + SHA-256 + fsync)", store, "ops/s", None, sequential,
            note="baseline: whole sequential register"),
        row("  part: registration transaction in the database", transaction, "ops/s", None, insert_tps,
            note="baseline: one-row INSERT transaction (commit) per op"),
        row(f"register, {CONCURRENCY} concurrent tasks on one model", same_model, "ops/s", None, sequential,
            note="baseline: sequential register"),
        row(f"register, {CONCURRENCY} concurrent tasks on {CONCURRENCY} models", many_models, "ops/s", None,
            sequential, note="baseline: sequential register"),
        row("promote (audited pointer move)", promotions, "ops/s", None, insert_tps,
            note="baseline: one-row INSERT transaction (commit) per op"),
        *lookup_rows,
    ]


async def _insert_baseline(pool, n: int) -> float:
    """Committed one-row INSERTs per second: the floor any durable registry write pays."""
    await pool.execute("CREATE TABLE bench_insert_baseline (id bigserial PRIMARY KEY, v int NOT NULL)")
    async with pool.acquire() as conn:
        started = time.perf_counter()
        for i in range(n):
            await conn.execute("INSERT INTO bench_insert_baseline (v) VALUES ($1)", i)
        elapsed = time.perf_counter() - started
    await pool.execute("DROP TABLE bench_insert_baseline")
    return n / elapsed


async def _concurrent_registrations(registry, fixture: "_Fixture", slots: list[tuple[str, str]], n: int,
                                    offset: int) -> float:
    per_task = n // len(slots)
    work = []
    for k, (model, symbol) in enumerate(slots):
        copies = range(offset + k * per_task, offset + (k + 1) * per_task)
        work.append([(fixture.lineage(model, REGIME, symbol, i), fixture.models[i]) for i in copies])

    async def worker(items) -> None:
        for lineage, model in items:
            await registry.register_model_version(lineage, model=model)

    started = time.perf_counter()
    await asyncio.gather(*(worker(items) for items in work))
    return per_task * len(slots) / (time.perf_counter() - started)


async def _lookups(registry, pool, settings, sizes: Sizes) -> list[dict[str, Any]]:
    from alphaplus.core.entities import Slot
    from alphaplus.inference.engine import InferenceEngine

    async def timed(call, n: int) -> list[float]:
        out = []
        for _ in range(n):
            t = time.perf_counter()
            await call()
            out.append((time.perf_counter() - t) * 1000.0)
        out.sort()
        return out

    await timed(lambda: registry.get_production_model(Slot(MODEL, REGIME, "BTCUSDT")), 200)  # warm the pool
    db = await timed(lambda: registry.get_production_model(Slot(MODEL, REGIME, "BTCUSDT")), sizes.lookups)
    select1 = await timed(lambda: pool.fetchval("SELECT 1"), sizes.lookups)

    n = sizes.cached_lookups
    async with await InferenceEngine.open(settings, model_name=MODEL) as engine:
        production = await engine.production_version(REGIME, "BTCUSDT")  # fills the cache
        assert production.version is not None
        lookup = engine.production_version
        started = time.perf_counter()
        for _ in range(n):
            await lookup(REGIME, "BTCUSDT")
        cached_us = (time.perf_counter() - started) / n * 1e6
        assert engine.stats().cache_hits >= n
    table = {(REGIME, "BTCUSDT"): production}
    key = (REGIME, "BTCUSDT")
    started = time.perf_counter()
    for _ in range(n):
        table[key]
    dict_us = (time.perf_counter() - started) / n * 1e6

    return [
        row("get_production from the database, p50", statistics.median(db), "ms", "<= 1",
            statistics.median(select1), note="baseline: SELECT 1 round trip p50"),
        row("get_production from the database, p99", percentile(db, 0.99), "ms", None, percentile(select1, 0.99),
            note="baseline: SELECT 1 round trip p99"),
        row("cached production lookup (inference engine)", cached_us, "us", None, dict_us,
            note="baseline: dict lookup"),
    ]


@dataclass
class _Fixture:
    """A small trained model in distinct bundles (distinct artifact bytes) and a lineage template."""

    models: list[Any]
    frame: Any
    environment: dict[str, Any]

    @classmethod
    def build(cls, n: int) -> "_Fixture":
        from alphaplus.ml.features import DEFAULT_FEATURE_SPEC, build_features
        from alphaplus.ml.labels import make_labels
        from alphaplus.ml.lineage import capture_environment
        from alphaplus.market.synth import synth_candles
        from alphaplus.ml.training import bundle_model, time_split, train_classifier

        candles = synth_candles(3000, seed=3)
        X, y = build_features(candles), make_labels(candles, 12)
        ok = (X.notna().all(axis=1) & y.notna()).to_numpy()
        X, y = X[ok].reset_index(drop=True), y[ok].astype("int64").reset_index(drop=True)
        split = time_split(len(X), 0.6, 0.2, 12)
        params = {"n_estimators": 60, "num_leaves": 15}
        model = train_classifier(X.iloc[split.train], y.iloc[split.train], X.iloc[split.valid], y.iloc[split.valid],
                                 params, 0, early_stopping_rounds=0)
        models = [bundle_model(model, DEFAULT_FEATURE_SPEC, horizon=12, hyperparams={**params, "copy": i})
                  for i in range(n)]
        return cls(models, X, capture_environment())

    def lineage(self, model_name: str, regime: str, symbol: str, i: int):
        from alphaplus.ml.features import DEFAULT_FEATURE_SPEC
        from alphaplus.ml.lineage import build_lineage

        # Hyperparameters differ per copy, so every lineage key (and version) is new.
        return build_lineage(model_name=model_name, regime=regime, symbol=symbol, training_frame=self.frame,
                             feature_set=DEFAULT_FEATURE_SPEC.to_dict(), hyperparameters=self.models[i].hyperparams,
                             timeframe="1h", training_environment=self.environment)


# --- lineage hashing ------------------------------------------------------------------------------

def _hash_measures(sizes: Sizes) -> list[dict[str, Any]]:
    import pandas as pd
    import xxhash  # noqa: F401  (imported before timing)

    from alphaplus.ml.lineage import hash_frame

    rng = np.random.default_rng(0)
    # Built column by column, as feature frames are: pandas consolidates them into one block whose
    # columns are contiguous, so hash_frame reads the buffers without copying.
    frame = pd.DataFrame({f"f{c:02d}": rng.standard_normal(sizes.hash_rows)
                          for c in range(sizes.hash_columns)})
    buffers = [frame[c].to_numpy() for c in frame.columns] + [frame.index.to_numpy()]
    nbytes = sum(b.nbytes for b in buffers)
    targets = [np.empty_like(b) for b in buffers]

    def copy() -> None:
        for src, dst in zip(buffers, targets):
            np.copyto(dst, src)

    def sha256() -> None:
        h = hashlib.sha256()
        for b in buffers:
            h.update(b.view(np.uint8))
        h.hexdigest()

    started = time.perf_counter()
    hash_frame(frame)
    first = time.perf_counter() - started
    copy()  # touch the targets once: page faults are not copy throughput
    repeats = sizes.hash_repeats
    xxh = statistics.median(times(lambda: hash_frame(frame), repeats))
    cp = statistics.median(times(copy, repeats))
    sha = statistics.median(times(sha256, max(3, repeats // 2)))
    gb = nbytes / 1e9
    shape = f"{sizes.hash_rows // 1000}k x {sizes.hash_columns} float64, {nbytes / 1e6:.0f} MB"
    return [
        row(f"lineage hash_frame (xxh3_128), {shape}", gb / xxh, "GB/s", ">= 2", gb / cp,
            note=f"baseline: numpy copy of the same bytes; median of {repeats}, first call {first * 1000:.1f} ms"),
        row("lineage hash_frame, time per frame", xxh * 1000.0, "ms", None, cp * 1000.0,
            note="baseline: numpy copy of the same bytes"),
        row("sha256 over the same column buffers", gb / sha, "GB/s", None, gb / xxh,
            note="baseline: hash_frame (xxh3_128)"),
    ]


if __name__ == "__main__":
    from benchmarks.__main__ import print_table

    print_table(run(quick="--quick" in sys.argv[1:]))

"""Benchmark of scaling out: 32 slots retrained with the thread runner and with a 2-process Dask
LocalCluster in the same run, and artifact store/load on local disk and on a local S3 endpoint.

On a 2-core machine Dask cannot add cores, so the Dask rows measure what it costs (process start,
shipping candles and fitted models between processes, the scheduler) against threads that already use
both cores; more hosts add workers. Timed twice: the whole retrain flow (fetch, quality gate, fan-out,
verification and registration), and the fan-out alone (a flow that only submits ``train_slot``) beside
the same fits called in a plain loop. The S3 endpoint is moto's server in this process on 127.0.0.1:
its numbers bound the client's overhead, not a real store's latency.

    .venv/bin/python -m benchmarks.bench_scale [--quick]
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from benchmarks.common import bench_settings, prefect_environment, private_database, row

MODEL = "bench_scale"
REGIME = "trending"


@dataclass(frozen=True)
class Sizes:
    slots: int
    bars: int
    artifacts: int  # store/load operations per size and store


FULL = Sizes(slots=32, bars=5000, artifacts=40)
QUICK = Sizes(slots=6, bars=4000, artifacts=8)
ARTIFACT_SIZES = (256 * 1024, 4 * 1024 * 1024)


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Every measure of this benchmark (smaller sizes when ``quick``)."""
    sizes = QUICK if quick else FULL
    prefect_home = prefect_environment()  # before prefect is imported anywhere below
    try:
        rows = asyncio.run(_runners(sizes))
    finally:
        if prefect_home:
            shutil.rmtree(prefect_home, ignore_errors=True)
    return rows + _stores(sizes)


# --- thread runner vs Dask -----------------------------------------------------------------------------

async def _runners(sizes: Sizes) -> list[dict[str, Any]]:
    from prefect.testing.utilities import prefect_test_harness

    from alphaplus.market.synth import synth_candles
    from benchmarks.bench_retrain import _flow_environment
    from db.candles import upsert_candles
    from db.pool import get_pool

    symbols = [f"SCALE{i:02d}" for i in range(sizes.slots)]
    async with private_database() as dsn:
        with tempfile.TemporaryDirectory(prefix="alphaplus-bench-") as home:
            settings = bench_settings(dsn, home)
            pool = await get_pool(dsn, settings)
            frames = {s: synth_candles(sizes.bars, seed=100 + i) for i, s in enumerate(symbols)}
            for symbol, frame in frames.items():
                await upsert_candles(pool, symbol=symbol, timeframe="1h", frame=frame)
            with prefect_test_harness(server_startup_timeout=120), _flow_environment(settings):
                return await _time_runners(settings, frames)


async def _time_runners(settings, frames: dict) -> list[dict[str, Any]]:
    import dask
    from distributed import LocalCluster
    from prefect.task_runners import ThreadPoolTaskRunner

    from alphaplus.core.settings import Settings
    from flows.retrain import retrain
    from flows.retrain_dask import dask_task_runner

    n = len(frames)

    async def whole(runner, model: str) -> float:
        started = time.perf_counter()
        results = await retrain.with_options(task_runner=runner)(
            symbols=list(frames), regime=REGIME, model_name=model, promote=False)
        assert [r["status"] for r in results] == ["registered"] * n, results
        return time.perf_counter() - started

    # In a worker thread, as the runners call it (LightGBM's OpenMP team in the main thread of a busy
    # machine was measured here up to 10x slower than in another thread).
    loop_s = await asyncio.to_thread(_plain_loop, frames)
    threads = ThreadPoolTaskRunner(max_workers=settings.train_max_workers)
    fan_threads = await _fan_out(frames, threads, settings)
    flow_threads = await whole(threads, f"{MODEL}_threads")

    # The cluster only for the Dask half. Its scheduler lives in this process; on a machine loaded far
    # past its cores it was seen to drop both idle workers at once after missing their heartbeats for
    # the default five minutes, so the time-to-live check is off here.
    started = time.perf_counter()
    with dask.config.set({"distributed.scheduler.worker-ttl": None}):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                               host="127.0.0.1")
    cluster_start = time.perf_counter() - started
    try:
        on_dask = dask_task_runner(Settings(dask_address=cluster.scheduler_address))
        await _fan_out(frames, on_dask, settings)  # warm-up: the workers import prefect, LightGBM, the tasks
        fan_dask = await _fan_out(frames, on_dask, settings)
        flow_dask = await whole(on_dask, f"{MODEL}_dask")
    finally:
        cluster.close()

    per_hour = lambda seconds: n / seconds * 3600  # noqa: E731
    return [
        row("start a LocalCluster of 2 worker processes", cluster_start, "s"),
        row(f"fit {n} slots in a plain loop, one thread (no Prefect)", loop_s, "s"),
        row(f"fan-out of {n} train_slot tasks, thread runner ({settings.train_max_workers} threads)", fan_threads,
            "s", baseline=loop_s, note="plain loop"),
        row(f"fan-out of {n} train_slot tasks, Dask LocalCluster (2 processes)", fan_dask, "s",
            baseline=fan_threads, note="thread runner"),
        row(f"retrain flow, {n} slots (one per symbol), thread runner", flow_threads, "s"),
        row(f"retrain flow, {n} slots, Dask LocalCluster (2 processes)", flow_dask, "s", baseline=flow_threads,
            note="thread runner"),
        row("  slots per hour, retrain flow on threads (2 cores)", per_hour(flow_threads), "slots/h"),
        row("  slots per hour, retrain flow on Dask (2 worker processes)", per_hour(flow_dask), "slots/h",
            baseline=per_hour(flow_threads), note="thread runner"),
    ]


def _plain_loop(frames: dict) -> float:
    from alphaplus.ml.features import DEFAULT_FEATURE_SPEC
    from alphaplus.ml.pipeline import TrainingConfig, fit_slot, prepare_dataset

    config = TrainingConfig(feature_spec=DEFAULT_FEATURE_SPEC)
    started = time.perf_counter()
    for frame in frames.values():
        fit_slot(prepare_dataset(frame, REGIME, config), config, {})
    return time.perf_counter() - started


async def _fan_out(frames: dict, runner, settings) -> float:
    """Seconds for a flow that only submits train_slot for every frame and waits for the results."""
    from prefect import flow
    from prefect.futures import wait

    from alphaplus.ml.features import DEFAULT_FEATURE_SPEC
    from alphaplus.ml.pipeline import TrainingConfig
    from alphaplus.registry.artifacts import ArtifactStore
    from tasks.training import train_slot

    config = TrainingConfig(feature_spec=DEFAULT_FEATURE_SPEC)
    root = ArtifactStore(settings.artifacts_dir).location

    @flow(name="bench-fan-out", task_runner=runner)
    def fan_out() -> int:
        futures = [train_slot.submit(frame, REGIME, config, {}, root) for frame in frames.values()]
        wait(futures)
        return len([f.result() for f in futures])

    started = time.perf_counter()
    await asyncio.to_thread(fan_out)
    return time.perf_counter() - started


# --- artifact store: local disk vs S3 ------------------------------------------------------------------

def _stores(sizes: Sizes) -> list[dict[str, Any]]:
    from unittest import mock

    from tests.scale.local_s3 import local_s3_endpoint, make_bucket

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="alphaplus-bench-artifacts-") as folder, local_s3_endpoint() as env, \
            mock.patch.dict(os.environ, env):
        make_bucket(env, "alphaplus-bench")
        for size in ARTIFACT_SIZES:
            local = _store_and_load(folder, size, sizes.artifacts)
            remote = _store_and_load("s3://alphaplus-bench/models", size, sizes.artifacts)
            label = f"{size // 1024:,} KiB"
            rows += [
                row(f"store an artifact ({label}), local disk (SHA-256 + fsync + link)", local[0], "ms"),
                row(f"store an artifact ({label}), S3 (moto on loopback, one PUT)", remote[0], "ms",
                    baseline=local[0], note="local disk"),
                row(f"load an artifact ({label}) verified, local disk", local[1], "ms"),
                row(f"load an artifact ({label}) verified, S3 (HEAD + GET + SHA-256)", remote[1], "ms",
                    baseline=local[1], note="local disk"),
            ]
    return rows


def _store_and_load(root: str, size: int, count: int) -> tuple[float, float]:
    """Median milliseconds to store ``count`` distinct artifacts of ``size`` bytes, then to load each."""
    import statistics

    from alphaplus.registry.artifacts import ArtifactStore

    store = ArtifactStore(root)
    payloads = [os.urandom(size) for _ in range(count)]
    stored, store_ms, load_ms = [], [], []
    for payload in payloads:
        started = time.perf_counter()
        stored.append(store.save_bytes(payload, suffix=".bin"))
        store_ms.append((time.perf_counter() - started) * 1000)
    for artifact in stored:
        started = time.perf_counter()
        store.verify(artifact.path, sha256=artifact.sha256, size=artifact.size)
        load_ms.append((time.perf_counter() - started) * 1000)
    return statistics.median(store_ms), statistics.median(load_ms)


if __name__ == "__main__":
    from benchmarks.__main__ import print_table

    print_table(run(quick="--quick" in sys.argv[1:]))

"""Benchmark of retraining one slot from 100k bars: where the wall time goes, and what Prefect adds.

Synthetic candles are imported into a private database (ALPHAPLUS_DATABASE_URL's server or the
embedded cluster, dropped at the end). The steps are timed by calling the functions the retrain
tasks call, in the order the flow calls them: db.candles.fetch_candles, alphaplus.ml.quality.
validate_candles (Great Expectations: import, first call, warm call), alphaplus.ml.pipeline.
prepare_dataset (features, regimes, labels) and fit_slot (LightGBM), then fit_record
(alphaplus.ml.lineage.build_lineage) and Registry.register_model_version. Then, under a temporary Prefect API
(prefect_test_harness, loopback): the cost of a trivial task called inside a flow beside a plain
function call, and the whole retrain flow for the same slot beside the sum of its steps.

    .venv/bin/python -m benchmarks.bench_retrain [--quick]
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from benchmarks.common import bench_settings, prefect_environment, private_database, row

MODEL = "bench_retrain"
SYMBOL = "BENCHUSDT"
TIMEFRAME = "1h"
REGIME = "trending"


@dataclass(frozen=True)
class Sizes:
    bars: int
    task_calls: int
    flow_repeats: int
    fit_repeats: int
    retrain_runs: int


FULL = Sizes(bars=100_000, task_calls=200, flow_repeats=5, fit_repeats=3, retrain_runs=2)
QUICK = Sizes(bars=10_000, task_calls=20, flow_repeats=2, fit_repeats=1, retrain_runs=1)


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Every measure of this benchmark (smaller sizes when ``quick``)."""
    home = prefect_environment()  # before prefect is imported anywhere below
    try:
        return asyncio.run(_run(QUICK if quick else FULL))
    finally:
        if home:
            shutil.rmtree(home, ignore_errors=True)


async def _run(sizes: Sizes) -> list[dict[str, Any]]:
    from db.candles import upsert_candles
    from db.pool import get_pool

    from alphaplus.market.synth import synth_candles

    candles = synth_candles(sizes.bars, seed=17)
    async with private_database() as dsn:
        with tempfile.TemporaryDirectory(prefix="alphaplus-bench-") as home:
            settings = bench_settings(dsn, home)
            pool = await get_pool(dsn, settings)
            started = time.perf_counter()
            await upsert_candles(pool, symbol=SYMBOL, timeframe=TIMEFRAME, frame=candles)
            imported = time.perf_counter() - started
            rows = [row(f"import {sizes.bars:,} candles (COPY + merge, one transaction)", imported, "s")]
            steps, step_rows = await _steps(settings, pool, sizes)
            rows += step_rows
            rows += await _prefect(settings, sizes, sum(steps.values()))
    return rows


# --- the steps, called directly ----------------------------------------------------------------------

async def _steps(settings, pool, sizes: Sizes) -> tuple[dict[str, float], list[dict[str, Any]]]:
    from alphaplus.core.entities import Slot
    from alphaplus.ml.features import DEFAULT_FEATURE_SPEC
    from alphaplus.ml.pipeline import TrainingConfig, fit_record, fit_slot, prepare_dataset
    from alphaplus.registry.service import Registry
    from db.candles import _FETCH, fetch_candles

    config = TrainingConfig(horizon=settings.label_horizon, feature_spec=DEFAULT_FEATURE_SPEC)
    params: dict[str, Any] = {}  # the flow's default: DEFAULT_HYPERPARAMS
    steps: dict[str, float] = {}
    rows: list[dict[str, Any]] = []

    # Raw rows first (a warm cache for both), then the frame the task returns.
    started = time.perf_counter()
    raw = await pool.fetch(_FETCH, SYMBOL, TIMEFRAME, None, None)
    raw_s = time.perf_counter() - started
    started = time.perf_counter()
    candles = await fetch_candles(pool, symbol=SYMBOL, timeframe=TIMEFRAME)
    steps["fetch"] = time.perf_counter() - started
    assert len(candles) == len(raw) == sizes.bars

    gx_import = None
    if "great_expectations" not in sys.modules:
        started = time.perf_counter()
        import great_expectations  # noqa: F401

        gx_import = time.perf_counter() - started
    from alphaplus.ml.quality import validate_candles

    gate = dict(min_rows=settings.min_training_rows, max_missing_bar_share=settings.max_missing_bar_share,
                max_return_z=settings.max_return_z)
    started = time.perf_counter()
    report = validate_candles(candles, **gate)
    first = time.perf_counter() - started
    assert report.success, report.summary()
    started = time.perf_counter()
    validate_candles(candles, **gate)
    steps["validate (warm)"] = time.perf_counter() - started

    started = time.perf_counter()
    dataset = prepare_dataset(candles, REGIME, config)
    steps["features/regimes/labels"] = time.perf_counter() - started

    lgb_import = None
    if "lightgbm" not in sys.modules:  # train_classifier imports it on first use
        started = time.perf_counter()
        import lightgbm  # noqa: F401

        lgb_import = time.perf_counter() - started
    # LightGBM's time swings with other load on the cores (its OpenMP threads wait on busy
    # cores): the median of a few fits.
    fits = []
    for _ in range(sizes.fit_repeats):
        started = time.perf_counter()
        fit = fit_slot(dataset, config, params)
        fits.append(time.perf_counter() - started)
    steps["train"] = statistics.median(fits)

    # What register_staging does: the production lookup, the lineage (hashes + environment),
    # then the registration (artifact + transaction).
    registry = await Registry.open(settings)
    started = time.perf_counter()
    production = await registry.get_production_model(Slot(MODEL, REGIME, SYMBOL))
    lineage, version_metadata = fit_record(
        fit, candles, model_name=MODEL, regime=REGIME, symbol=SYMBOL, config=config, hyperparameters=params,
        timeframe=TIMEFRAME, parent_model_version=production.version if production else None,
    )
    steps["lineage"] = time.perf_counter() - started
    started = time.perf_counter()
    registration = await registry.register_model_version(
        lineage, model=fit.trained, training_metrics={"train": fit.training_metrics, "holdout": fit.holdout_metrics},
        validation_metrics=fit.validation_metrics, version_metadata=version_metadata)
    steps["register"] = time.perf_counter() - started
    assert registration.created

    total = sum(steps.values())
    bars = f"{len(candles):,} bars"
    rows.append(row(f"fetch_candles, {bars} -> frame", steps["fetch"], "s", None, raw_s,
                    note="baseline: the same rows fetched raw (no frame)"))
    if gx_import is not None:
        rows.append(row("import great_expectations (once per process)", gx_import, "s"))
    rows.append(row(f"validate_candles (GX), first call: context + suite, {bars}", first, "s", None,
                    steps["validate (warm)"], note="baseline: warm call"))
    rows.append(row(f"validate_candles (GX), warm call, {bars}", steps["validate (warm)"], "s"))
    rows.append(row(f"prepare_dataset: features, regimes, labels ({len(dataset):,} '{REGIME}' rows)",
                    steps["features/regimes/labels"], "s"))
    if lgb_import is not None:
        rows.append(row("import lightgbm (once per process)", lgb_import, "s"))
    rows.append(row(f"fit_slot: LightGBM + metrics + PSI reference (sizes {'/'.join(map(str, fit.sizes))})",
                    steps["train"], "s", note=f"median of {len(fits)}: " + ", ".join(f"{t:.2f}" for t in fits) + " s"))
    rows.append(row(f"build_lineage: hash {bars} + environment", steps["lineage"], "s"))
    rows.append(row("register_model_version (artifact + transaction)", steps["register"], "s"))
    rows.append(row("retrain one slot, sum of the steps (validate warm)", total, "s"))
    return steps, rows


# --- Prefect -------------------------------------------------------------------------------------

async def _prefect(settings, sizes: Sizes, steps_total: float) -> list[dict[str, Any]]:
    started = time.perf_counter()
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE
    from prefect.testing.utilities import prefect_test_harness

    imported = time.perf_counter() - started

    @task(cache_policy=NO_CACHE)
    async def noop_async(i: int) -> int:
        return i

    @task(cache_policy=NO_CACHE)
    def noop_sync(i: int) -> int:
        return i

    calls: list[float] = []  # per-call wall times, filled inside the flows

    @flow(name="bench-empty")
    async def empty_flow(n: int) -> int:
        return n

    @flow(name="bench-async-tasks")
    async def async_tasks_flow(n: int) -> None:
        for i in range(n):
            t = time.perf_counter()
            await noop_async(i)
            calls.append(time.perf_counter() - t)

    # How the retrain flow calls its sync tasks (validate_candles): from an async flow.
    @flow(name="bench-sync-tasks-async-flow")
    async def sync_tasks_async_flow(n: int) -> None:
        for i in range(n):
            t = time.perf_counter()
            noop_sync(i)
            calls.append(time.perf_counter() - t)

    @flow(name="bench-sync-tasks-sync-flow")
    def sync_tasks_sync_flow(n: int) -> None:
        for i in range(n):
            t = time.perf_counter()
            noop_sync(i)
            calls.append(time.perf_counter() - t)

    def plain(i: int) -> int:
        return i

    n = sizes.task_calls
    started = time.perf_counter()
    with prefect_test_harness(server_startup_timeout=120):
        harness = time.perf_counter() - started
        await empty_flow(0)  # first run: client, API and database warm-up
        # The retrain flow before the task loops: their hundreds of task runs leave the temporary
        # API busy recording events for a while, which would slow the flow's API calls.
        with _flow_environment(settings):
            from flows.retrain import retrain

            flow_runs = []
            for _ in range(sizes.retrain_runs):  # a rerun trains again and finds its version registered
                started = time.perf_counter()
                results = await retrain(symbols=[SYMBOL], regime=REGIME, model_name=f"{MODEL}_flow",
                                        timeframe=TIMEFRAME, promote=False)
                flow_runs.append(time.perf_counter() - started)
                assert [r["status"] for r in results] == ["registered"], results
            flow_s = statistics.median(flow_runs)
            from db.pool import close_pools

            await close_pools()

        empty = statistics.median([await _timed(empty_flow(0)) for _ in range(sizes.flow_repeats)])
        per_call = {}
        calls.clear()
        await async_tasks_flow(n)
        per_call["async"] = statistics.median(calls) * 1000.0
        calls.clear()
        await sync_tasks_async_flow(n)
        per_call["sync in async"] = statistics.median(calls) * 1000.0
        calls.clear()
        # A sync flow called from a running loop would be run as a coroutine; give it a thread.
        await asyncio.to_thread(sync_tasks_sync_flow, n)
        per_call["sync in sync"] = statistics.median(calls) * 1000.0
        started = time.perf_counter()
        for i in range(n * 1000):
            plain(i)
        plain_ms = (time.perf_counter() - started) / (n * 1000) * 1000.0

    return [
        row("import prefect", imported, "s"),
        row("start a temporary Prefect API (prefect_test_harness)", harness, "s"),
        row("empty @flow run (async)", empty * 1000.0, "ms", None, plain_ms, note="baseline: plain function call"),
        row(f"trivial async @task in an async @flow, median per call ({n} calls)", per_call["async"], "ms", None,
            plain_ms, note="baseline: plain function call"),
        row(f"trivial sync @task in an async @flow, median per call ({n} calls)", per_call["sync in async"], "ms",
            None, per_call["sync in sync"], note="baseline: the same task in a sync @flow"),
        row(f"trivial sync @task in a sync @flow, median per call ({n} calls)", per_call["sync in sync"], "ms",
            None, plain_ms, note="baseline: plain function call"),
        row(f"retrain flow, one slot, {sizes.bars:,} bars (promote=False)", flow_s, "s", None, steps_total,
            note="baseline: sum of the steps called directly; runs " + ", ".join(f"{t:.2f}" for t in flow_runs)
            + " s"),
        row("  of which Prefect and flow bookkeeping (flow - steps)", flow_s - steps_total, "s", None, empty,
            note="baseline: an empty @flow run"),
    ]


async def _timed(coro) -> float:
    started = time.perf_counter()
    await coro
    return time.perf_counter() - started


def _flow_environment(settings):
    """Tasks read the process settings: point them at the private database and home meanwhile."""
    from alphaplus.core.settings import environment

    return environment({"ALPHAPLUS_DATABASE_URL": settings.database_url, "ALPHAPLUS_HOME": str(settings.home)})


if __name__ == "__main__":
    from benchmarks.__main__ import print_table

    print_table(run(quick="--quick" in sys.argv[1:]))

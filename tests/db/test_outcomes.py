"""Outcome resolution on a real PostgreSQL: recorded predictions plus stored candles become
model_performance_history rows with accuracy over matured outcomes, error rate, latency and PSI; every
matured prediction is picked up once, in trading time of its symbol's calendar."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from alphaplus.monitoring.drift import reference_bins
from alphaplus.ml.features import build_features
from alphaplus.ml.labels import make_labels
from alphaplus.market.synth import synth_candles
from alphaplus.monitoring.service import OutcomeService
from db.inference import write_events
from db.performance import fetch_performance_history
from tests.db.conftest import make_lineage

UTC = timezone.utc
HORIZON = 12
WINDOW_END = datetime(2031, 6, 1, 12, tzinfo=UTC)
# The resolution's clock in most tests: after every prediction, and long after every candle.
NOW = WINDOW_END + timedelta(hours=1)


@pytest.fixture(scope="module")
def candles():
    return synth_candles(400, seed=21)


@pytest.fixture(scope="module")
def features(candles):
    return build_features(candles)


@pytest.fixture
def symbol() -> str:
    return f"SYM{uuid.uuid4().hex[:8].upper()}"


async def store_candles(conn, symbol: str, candles) -> None:
    await conn.copy_records_to_table(
        "candles", columns=["symbol", "timeframe", "ts", "open", "high", "low", "close", "volume"],
        records=[(symbol, "1h", r.ts.to_pydatetime(), r.open, r.high, r.low, r.close, r.volume)
                 for r in candles.itertuples()])


async def register_version(registry, model_name: str, symbol: str, reference_features) -> int:
    names = list(reference_features.columns)
    metadata = {
        "feature_names": names, "label_horizon": HORIZON, "timeframe": "1h",
        "psi_reference": {n: reference_bins(reference_features[n]).to_dict() for n in names},
    }
    reg = await registry.register_model_version(make_lineage(model_name, symbol=symbol), model={"w": uuid.uuid4().hex},
                                                version_metadata=metadata)
    return reg.version.version


def prediction_event(model_name, version, symbol, *, at, bar_ts, prediction, features=None, success=True,
                     shadow=False, latency=2.0):
    return (at, bar_ts.to_pydatetime(), model_name, version, "trending", symbol, shadow, success,
            None if success else "ArtifactIntegrityError: x", latency, prediction if success else None,
            0.5 if success else None, features)


async def test_matured_outcomes_give_the_accuracy_of_the_constructed_case_and_immature_ones_wait(
    registry, settings, conn, model_name, symbol, candles, features
):
    await store_candles(conn, symbol, candles)
    version = await register_version(registry, model_name, symbol, features.dropna())
    labels = make_labels(candles, HORIZON)
    # The clock stands just after the last candle closed: its last HORIZON bars have not matured.
    now = candles["ts"].iloc[-1].to_pydatetime() + timedelta(hours=1)
    inside = now - timedelta(minutes=30)
    events = []
    for i in range(100, 140):  # matured: right on the first 30, wrong on the last 10
        truth = int(labels.iloc[i])
        events.append(prediction_event(model_name, version, symbol, at=inside, bar_ts=candles["ts"].iloc[i],
                                       prediction=truth if i < 130 else 1 - truth))
    for i in range(len(candles) - HORIZON, len(candles)):  # horizon not yet over: excluded
        events.append(prediction_event(model_name, version, symbol, at=inside, bar_ts=candles["ts"].iloc[i],
                                       prediction=0))
    for _ in range(2):  # failed predictions count in the error rate only
        events.append(prediction_event(model_name, version, symbol, at=inside, bar_ts=candles["ts"].iloc[150],
                                       prediction=None, success=False))
    later = prediction_event(model_name, version, symbol, at=now, bar_ts=candles["ts"].iloc[100],
                             prediction=1 - int(labels.iloc[100]))  # made at the clock: not yet happened
    await write_events(registry.repo.pool, events + [later], [])

    service = await OutcomeService.open(settings)
    resolution = await service.resolve(model_name=model_name, now=now)
    (record,) = resolution.records
    assert (record.metrics.n_samples, record.metrics.n_correct) == (40, 30)
    assert (resolution.immature, resolution.awaiting_candles, len(resolution.accounted)) == (HORIZON, 0, 42)

    (row,) = await fetch_performance_history(registry.repo.pool, model_name, version=version)
    assert (row["source"], row["n_samples"], row["n_correct"]) == ("live", 40, 30)
    assert row["accuracy"] == pytest.approx(0.75)
    assert (row["total_inferences"], row["error_count"]) == (40 + 2, 2)
    assert row["error_rate"] == pytest.approx(2 / 42)
    assert row["latency_p50_ms"] == pytest.approx(2.0)
    assert (row["ts"], row["window_start"]) == (now, inside)
    tp, fp, fn = (row["metrics"][k] for k in ("true_positives", "false_positives", "false_negatives"))
    assert row["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))


async def test_resolving_again_changes_nothing(registry, settings, conn, model_name, symbol, candles, features):
    await store_candles(conn, symbol, candles)
    version = await register_version(registry, model_name, symbol, features.dropna())
    at = WINDOW_END - timedelta(minutes=5)
    await write_events(registry.repo.pool, [prediction_event(model_name, version, symbol, at=at,
                                                             bar_ts=candles["ts"].iloc[50], prediction=1)], [])
    service = await OutcomeService.open(settings)
    assert len(await service.resolve_outcomes(model_name=model_name, now=NOW)) == 1
    accounted = await conn.fetchval("SELECT count(*) FROM accounted_events WHERE model_name = $1", model_name)
    for clock in (NOW, NOW + timedelta(hours=5)):
        assert await service.resolve_outcomes(model_name=model_name, now=clock) == []
    assert len(await fetch_performance_history(registry.repo.pool, model_name)) == 1
    assert await conn.fetchval("SELECT count(*) FROM accounted_events WHERE model_name = $1", model_name) == accounted


async def test_psi_is_near_zero_on_the_training_distribution_and_a_clear_shift_is_stored(
    registry, settings, conn, model_name, symbol, candles, features
):
    await store_candles(conn, symbol, candles)
    reference = features.dropna()
    stable = await register_version(registry, model_name, symbol, reference)
    drifted = await register_version(registry, model_name, symbol, reference)
    shifted = reference.copy()
    shifted["rsi_14"] = shifted["rsi_14"] + 30.0
    at = WINDOW_END - timedelta(minutes=10)
    events = []
    for (i, row), (_, moved) in zip(reference.iterrows(), shifted.iterrows()):
        bar = candles["ts"].iloc[i]
        events.append(prediction_event(model_name, stable, symbol, at=at, bar_ts=bar, prediction=1,
                                       features=row.tolist()))
        events.append(prediction_event(model_name, drifted, symbol, at=at, bar_ts=bar, prediction=1,
                                       features=moved.tolist(), shadow=True))
    await write_events(registry.repo.pool, events, [])
    service = await OutcomeService.open(settings)
    await service.resolve_outcomes(model_name=model_name, now=NOW)

    (same,) = await fetch_performance_history(registry.repo.pool, model_name, version=stable)
    assert same["source"] == "live" and same["max_psi"] < 0.02
    assert set(same["drift_metrics"]) == set(reference.columns)
    (moved,) = await fetch_performance_history(registry.repo.pool, model_name, version=drifted)
    assert moved["source"] == "shadow" and moved["max_psi"] > 0.25
    assert moved["metrics"]["max_psi_feature"] == "rsi_14"
    assert moved["drift_metrics"]["rsi_14"]["value"] == pytest.approx(moved["max_psi"])
    assert np.isclose(moved["drift_metrics"]["ret_1"]["value"], same["drift_metrics"]["ret_1"]["value"])


async def test_each_bar_counts_once_and_a_bar_counted_by_an_earlier_resolution_stays_there(
    registry, settings, conn, model_name, symbol, candles, features
):
    await store_candles(conn, symbol, candles)
    version = await register_version(registry, model_name, symbol, features.dropna())
    labels = make_labels(candles, HORIZON)
    before = WINDOW_END - timedelta(minutes=90)
    inside = WINDOW_END - timedelta(minutes=30)
    await write_events(registry.repo.pool, [prediction_event(model_name, version, symbol, at=before,
                                                             bar_ts=candles["ts"].iloc[100],
                                                             prediction=int(labels.iloc[100]))], [])
    service = await OutcomeService.open(settings)
    await service.resolve_outcomes(model_name=model_name,
                                                                  now=WINDOW_END - timedelta(hours=1))
    events = []
    for i in range(100, 110):  # bar 100 was predicted in the previous window; each bar five times, wrong after
        truth = int(labels.iloc[i])
        for k in range(5):
            events.append(prediction_event(model_name, version, symbol, at=inside + timedelta(seconds=k),
                                           bar_ts=candles["ts"].iloc[i], prediction=truth if k == 0 else 1 - truth))
    await write_events(registry.repo.pool, events, [])
    (record,) = await service.resolve_outcomes(model_name=model_name, now=NOW)
    assert (record.metrics.n_samples, record.metrics.n_correct) == (9, 9)
    assert record.metrics.total_inferences == 50 and record.details["n_repeated_predictions"] == 41


async def test_psi_is_measured_once_the_latest_windows_hold_enough_distinct_bars(
    registry, settings, conn, model_name, symbol, candles, features
):
    await store_candles(conn, symbol, candles)
    reference = features.dropna()
    version = await register_version(registry, model_name, symbol, reference)
    previous_end = WINDOW_END - timedelta(hours=1)
    for end, rows in ((previous_end, reference.iloc[:150]), (WINDOW_END, reference.iloc[150:250])):
        at = end - timedelta(minutes=10)
        await write_events(registry.repo.pool, [
            prediction_event(model_name, version, symbol, at=at, bar_ts=candles["ts"].iloc[i], prediction=1,
                             features=row.tolist()) for i, row in rows.iterrows()], [])
        service = await OutcomeService.open(settings)
        await service.resolve_outcomes(model_name=model_name, now=end)
    first, second = await fetch_performance_history(registry.repo.pool, model_name, version=version)
    assert first["max_psi"] is None and "only 150" in first["drift_metrics"]["rsi_14"]["reason"]
    assert second["max_psi"] is not None and second["drift_metrics"]["rsi_14"]["n"] == 250
    assert (second["metrics"]["psi_bars"], second["metrics"]["psi_window_bars"]) == (100, 200)

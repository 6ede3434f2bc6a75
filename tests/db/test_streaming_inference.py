"""The streaming engine on a real PostgreSQL: on_bar, predict_many and warm_up answer with the production
model on exactly the features training computes, record each prediction, keep each symbol's state
through promotions, and refuse what they cannot answer."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace

import numpy as np
import pytest

from alphaplus.core.errors import InvalidInput, NoProductionVersion
from alphaplus.inference.engine import Bar, InferenceEngine
from alphaplus.inference.sync import SyncInferenceEngine
from alphaplus.market.synth import synth_candles
from alphaplus.ml.features import FeatureSpec, build_features
from alphaplus.ml.regimes import REGIMES, classify_regimes
from alphaplus.ml.training import TrainedModel, predict_proba
from tests.db.trained_versions import register_bundle, train_small

WARM_BARS = 600
LIVE_BARS = 40


@pytest.fixture(scope="module")
def bundle():
    """One small trained model (with its training frame and parameters), registered for many slots."""
    return train_small(201)


@pytest.fixture(scope="module")
def market():
    """Candles, their training features and regimes (the training path over the same bars)."""
    candles = synth_candles(WARM_BARS + LIVE_BARS, seed=17)
    return candles, build_features(candles), classify_regimes(candles)


def new_symbol() -> str:
    return f"SYM{uuid.uuid4().hex[:8].upper()}"


async def serve_every_regime(registry, model_name, symbol, bundle) -> dict[str, int]:
    """Promote the bundle for the symbol's three slots; the version number of each regime."""
    versions = {}
    for regime in REGIMES:
        version = await register_bundle(registry, model_name, regime, symbol, *bundle, seed=201)
        await registry.promote(model_name, version.version, reason="serve")
        versions[regime] = version.version
    return versions


async def warm_served_symbol(engine, registry, model_name, market, bundle) -> str:
    """A new symbol whose three slots serve the bundle, its state warmed with the market's first bars."""
    symbol = new_symbol()
    await serve_every_regime(registry, model_name, symbol, bundle)
    engine.warm_up(symbol, market[0].iloc[:WARM_BARS])
    return symbol


def bar(candles, i: int) -> Bar:
    row = candles.iloc[i]
    return Bar(row["ts"], row["open"], row["high"], row["low"], row["close"], row["volume"])


def training_probability(trained: TrainedModel, features, i: int) -> float:
    return float(predict_proba(trained, features.iloc[[i]])[0])


@pytest.fixture
async def engine(settings, model_name):
    engine = await InferenceEngine.open(settings, model_name=model_name)
    yield engine
    await engine.close()


async def test_on_bar_answers_with_the_production_model_on_the_features_training_computes(
    engine, registry, model_name, market, bundle, conn
):
    candles, features, regimes = market
    symbol = new_symbol()
    versions = await serve_every_regime(registry, model_name, symbol, bundle)
    engine.warm_up(symbol, candles.iloc[:WARM_BARS])
    answers = [await engine.on_bar(symbol, bar(candles, i)) for i in range(WARM_BARS, len(candles))]
    for i, answer in zip(range(WARM_BARS, len(candles)), answers):
        assert answer.regime == regimes.iloc[i]
        assert answer.version == versions[answer.regime]
        assert answer.probability == training_probability(bundle[0], features, i)
        assert answer.prediction == int(answer.probability > 0.5)
        assert answer.bar_ts == candles["ts"].iloc[i]
    await engine.recorder.flush()
    recorded = await conn.fetchval("SELECT count(*) FROM inference_events WHERE model_name = $1 AND symbol = $2",
                                   model_name, symbol)
    assert recorded == LIVE_BARS


async def test_predict_many_answers_every_symbol_of_a_bar_close_and_records_each_prediction(
    engine, registry, model_name, market, bundle, conn
):
    candles, features, _ = market
    served = [new_symbol() for _ in range(3)]
    for symbol in served:
        await serve_every_regime(registry, model_name, symbol, bundle)
        engine.warm_up(symbol, candles.iloc[:WARM_BARS])
    unserved = new_symbol()
    engine.warm_up(unserved, candles.iloc[:WARM_BARS])
    for i in range(WARM_BARS, WARM_BARS + 5):
        batch = await engine.predict_many({s: bar(candles, i) for s in [*served, unserved]})
        assert sorted(batch.predictions) == sorted(served)
        assert isinstance(batch.errors[unserved], NoProductionVersion)
        expected = training_probability(bundle[0], features, i)
        assert {p.probability for p in batch.predictions.values()} == {expected}
    await engine.recorder.flush()
    rows = await conn.fetch("SELECT symbol, count(*) AS n FROM inference_events WHERE model_name = $1"
                            " AND symbol = ANY($2::text[]) GROUP BY symbol", model_name, [*served, unserved])
    assert {r["symbol"]: r["n"] for r in rows} == {s: 5 for s in served}


async def test_a_bar_that_is_not_the_next_one_is_refused_and_changes_nothing(
    engine, registry, model_name, market, bundle
):
    candles, features, _ = market
    symbol = await warm_served_symbol(engine, registry, model_name, market, bundle)
    with pytest.raises(InvalidInput, match="not after the last bar"):
        await engine.on_bar(symbol, bar(candles, WARM_BARS - 1))
    batch = await engine.predict_many({symbol: bar(candles, WARM_BARS - 2)})
    assert isinstance(batch.errors[symbol], InvalidInput) and not batch.predictions
    answer = await engine.on_bar(symbol, bar(candles, WARM_BARS))
    assert answer.probability == training_probability(bundle[0], features, WARM_BARS)


async def test_a_symbol_without_history_is_refused_with_the_history_it_needs(engine, market):
    candles, _, _ = market
    with pytest.raises(InvalidInput, match=r"its state has 1 bars, the rule needs \d+ .*warm_up"):
        await engine.on_bar(new_symbol(), bar(candles, 0))
    with pytest.raises(InvalidInput, match="a bar is a Bar"):
        await engine.on_bar(new_symbol(), {"ts": candles["ts"].iloc[0], "close": 1.0})


async def test_the_state_keeps_serving_through_a_promotion_and_a_rollback(
    engine, registry, model_name, market, bundle
):
    candles, features, regimes = market
    symbol = new_symbol()
    first = await serve_every_regime(registry, model_name, symbol, bundle)
    other = train_small(202)
    second = {}
    for regime in REGIMES:
        second[regime] = (await register_bundle(registry, model_name, regime, symbol, *other, seed=202)).version
    engine.warm_up(symbol, candles.iloc[:WARM_BARS])
    i = WARM_BARS
    assert (await engine.on_bar(symbol, bar(candles, i))).version == first[regimes.iloc[i]]
    for moves, model in ((second, other), (first, bundle)):  # promote the new ones, then roll back
        for regime in REGIMES:
            await registry.promote(model_name, moves[regime], reason="move")
        deadline = asyncio.get_running_loop().time() + 1.0
        while True:
            i += 1
            answer = await engine.on_bar(symbol, bar(candles, i))
            if answer.version == moves[answer.regime] or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.01)
        assert answer.version == moves[answer.regime], "the move is served within a second"
        assert answer.probability == training_probability(model[0], features, i), "no warm-up needed"


async def test_predict_on_a_frame_answers_from_its_tail_and_leaves_symbol_states_alone(
    engine, registry, model_name, market, bundle
):
    candles, features, _ = market
    symbol = await warm_served_symbol(engine, registry, model_name, market, bundle)
    frame = synth_candles(800, seed=99)
    answer = await engine.predict(symbol, frame)
    tail_features = build_features(frame.iloc[-engine.history_bars:])
    assert answer.probability == training_probability(bundle[0], tail_features, len(tail_features) - 1)
    streamed = await engine.on_bar(symbol, bar(candles, WARM_BARS))
    assert streamed.probability == training_probability(bundle[0], features, WARM_BARS)


async def test_a_model_on_a_feature_set_the_engine_does_not_compute_fails_loudly_and_is_recorded(
    engine, registry, model_name, market, bundle, conn
):
    candles, _, regimes = market
    symbol = new_symbol()
    trained, X, params = bundle
    foreign = replace(trained, feature_spec=FeatureSpec(return_windows=(1, 2)))
    version = await register_bundle(registry, model_name, regimes.iloc[WARM_BARS], symbol, foreign, X, params, seed=1)
    await registry.promote(model_name, version.version, reason="serve")
    engine.warm_up(symbol, candles.iloc[:WARM_BARS])
    with pytest.raises(InvalidInput, match="feature set this engine does not compute"):
        await engine.on_bar(symbol, bar(candles, WARM_BARS))
    await engine.recorder.flush()
    assert (await registry.usage_stats(model_name, version.version)).error_count == 1


async def test_shadow_versions_score_the_bars_of_a_bar_close_without_being_returned(
    settings, registry, model_name, market, bundle, conn
):
    candles, _, _ = market
    symbols = [new_symbol() for _ in range(2)]
    for symbol in symbols:
        await serve_every_regime(registry, model_name, symbol, bundle)  # the old champions
        await serve_every_regime(registry, model_name, symbol, train_small(203))
    async with await InferenceEngine.open(settings, model_name=model_name, shadow=True) as engine:
        for symbol in symbols:
            engine.warm_up(symbol, candles.iloc[:WARM_BARS])
        for i in range(WARM_BARS, WARM_BARS + 3):
            batch = await engine.predict_many({s: bar(candles, i) for s in symbols})
            assert len(batch.predictions) == 2
    rows = await conn.fetch("SELECT shadow, count(*) AS n FROM inference_events WHERE model_name = $1"
                            " AND symbol = ANY($2::text[]) GROUP BY shadow ORDER BY shadow", model_name, symbols)
    assert [(r["shadow"], r["n"]) for r in rows] == [(False, 6), (True, 6)]


async def test_the_synchronous_engine_streams_for_callers_without_an_event_loop(
    settings, registry, model_name, market, bundle
):
    candles, features, _ = market
    symbol = new_symbol()
    await serve_every_regime(registry, model_name, symbol, bundle)

    def use() -> tuple:
        with SyncInferenceEngine(settings, model_name=model_name) as engine:
            engine.warm_up(symbol, candles.iloc[:WARM_BARS])
            first = engine.on_bar(symbol, bar(candles, WARM_BARS))
            second = engine.predict_many({symbol: bar(candles, WARM_BARS + 1)}).predictions[symbol]
            return first, second, engine.recorder_stats()

    first, second, stats = await asyncio.to_thread(use)
    assert first.probability == training_probability(bundle[0], features, WARM_BARS)
    assert second.probability == training_probability(bundle[0], features, WARM_BARS + 1)
    assert stats.accepted == 2


def test_bars_are_taken_as_tuples_mappings_and_pandas_rows(market):
    from alphaplus.inference.state import parse_bar

    candles, _, _ = market
    row = candles.iloc[5]
    expected = parse_bar(bar(candles, 5))
    assert parse_bar(tuple(row[["ts", "open", "high", "low", "close", "volume"]])) == expected
    assert parse_bar(row) == expected
    assert parse_bar(row.to_dict()) == expected
    assert parse_bar(bar(candles, 5)._replace(ts=row["ts"].to_pydatetime()))[1] == expected[1]
    assert np.isnan(parse_bar(bar(candles, 5)._replace(close=float("nan")))[2][3])


async def test_a_bar_close_of_many_symbols_is_stored_row_for_row(registry, model_name, conn):
    from datetime import datetime, timedelta, timezone

    from db.inference import write_events

    t = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
    symbols = [f"S{k}" for k in range(120)] + ["ÄÖÜ/€", "BTCUSDT", "X"]
    events = [(t, t - timedelta(hours=1), model_name, 1 + k % 3, "ranging", s, k % 5 == 0, True, None, 0.5 + k, k % 2,
               k / 1000, np.arange(4.0) + k) for k, s in enumerate(symbols)]
    await write_events(registry.repo.pool, events, [])
    rows = await conn.fetch("SELECT symbol, version, shadow, latency_ms, prediction, probability, features"
                            " FROM inference_events WHERE model_name = $1", model_name)
    stored = {r["symbol"]: r for r in rows}
    assert sorted(stored) == sorted(symbols)
    for ev in events:
        r = stored[ev[5]]
        assert (r["version"], r["shadow"], r["latency_ms"], r["prediction"], r["probability"]) == (
            ev[3], ev[6], ev[9], ev[10], ev[11])
        assert list(r["features"]) == list(ev[12])

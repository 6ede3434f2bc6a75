"""Outcome resolution in trading time, on a real PostgreSQL: a Friday FX prediction resolves on Monday
after its twelfth trading hour, an equity one after a weekend and a holiday; the issue's case of 468
live EURUSD predictions resolves without any window, once, and --since/--until select a period."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pandas as pd
import pytest

from alphaplus.ml.labels import make_labels
from alphaplus.monitoring.service import OutcomeService
from db.inference import write_events
from db.instruments import set_calendar
from db.performance import fetch_performance_history
from tests.db.conftest import make_lineage
from tests.market_shapes import market_candles

HORIZON = 12


async def store(conn, symbol: str, candles: pd.DataFrame) -> None:
    await conn.copy_records_to_table(
        "candles", columns=["symbol", "timeframe", "ts", "open", "high", "low", "close", "volume"],
        records=[(symbol, "1h", r.ts.to_pydatetime(), r.open, r.high, r.low, r.close, r.volume)
                 for r in candles.itertuples()])


async def version_of(registry, model_name: str, symbol: str, horizon: int) -> int:
    reg = await registry.register_model_version(
        make_lineage(model_name, symbol=symbol), model={"w": uuid.uuid4().hex},
        version_metadata={"label_horizon": horizon, "timeframe": "1h", "feature_names": []})
    return reg.version.version


def event(model_name, version, symbol, bar: pd.Timestamp, prediction: int):
    # Recorded a few seconds after the bar closed, as a live engine would.
    at = (bar + pd.Timedelta(hours=1, seconds=3)).to_pydatetime()
    return (at, bar.to_pydatetime(), model_name, version, "trending", symbol, False, True, None, 1.5,
            prediction, 0.6, None)


@pytest.fixture
def symbol() -> str:
    return f"FX{uuid.uuid4().hex[:8].upper()}"


@pytest.mark.parametrize(
    "calendar, history, bar, horizon, matures",
    [
        # 2026-01-09 is a Friday (New York on EST: the FX week closes 22:00 UTC, reopens Sunday 22:00).
        ("24/5", ("2026-01-05", "2026-01-16"), "2026-01-09 18:00", 12, "2026-01-12 07:00"),
        # Friday 2026-01-16's last XNYS hour, then Martin Luther King Jr. Day: Tuesday's third bar.
        ("XNYS", ("2026-01-12", "2026-01-23"), "2026-01-16 20:30", 3, "2026-01-20 17:30"),
    ],
)
async def test_a_friday_prediction_resolves_after_its_horizon_in_trading_bars(
    registry, settings, conn, model_name, symbol, calendar, history, bar, horizon, matures
):
    candles = market_candles(calendar, *history, "1h", seed=8)
    await store(conn, symbol, candles)
    await set_calendar(conn, symbol=symbol, calendar=calendar)
    version = await version_of(registry, model_name, symbol, horizon)
    bar, matures = pd.Timestamp(bar, tz="UTC"), pd.Timestamp(matures, tz="UTC").to_pydatetime()
    position = int(candles.index[candles["ts"] == bar][0])
    truth = int(make_labels(candles, horizon).iloc[position])
    await write_events(registry.repo.pool, [event(model_name, version, symbol, bar, truth)], [])

    saturday = bar.normalize().to_pydatetime() + timedelta(days=1, hours=12)
    service = await OutcomeService.open(settings)
    waiting = await service.resolve(model_name=model_name, now=saturday)
    assert (waiting.records, waiting.immature, waiting.next_maturity) == ([], 1, matures)
    assert (await service.resolve(model_name=model_name, now=matures - timedelta(minutes=1))).records == []

    (record,) = (await service.resolve(model_name=model_name, now=matures)).records
    assert (record.metrics.n_samples, record.metrics.n_correct) == (1, 1)
    again = await service.resolve(model_name=model_name, now=matures + timedelta(days=3))
    assert (again.records, again.accounted, again.immature) == ([], [], 0)


async def test_468_live_predictions_resolve_without_a_window_and_a_period_selects_part(
    registry, settings, conn, model_name, symbol
):
    # The case: hourly EURUSD predicted live bar after bar, weekends included; the old
    # resolver resolved nothing with a 120-minute window because the current tile had not closed.
    candles = market_candles("24/5", "2026-02-02", "2026-03-06", "1h", seed=4)
    await store(conn, symbol, candles)
    await set_calendar(conn, symbol=symbol, calendar="24/5")
    version = await version_of(registry, model_name, symbol, HORIZON)
    labels = make_labels(candles, HORIZON)
    predicted = candles.iloc[len(candles) - 468:]
    events = [event(model_name, version, symbol, r.ts, int(labels.iloc[i]) if i < len(candles) - HORIZON else 0)
              for i, r in predicted.iterrows()]
    await write_events(registry.repo.pool, events, [])
    now = events[-1][0] + timedelta(minutes=1)
    middle = predicted["ts"].iloc[200].to_pydatetime()

    service = await OutcomeService.open(settings)
    (first,) = (await service.resolve(model_name=model_name, now=now, until=middle)).records
    assert first.metrics.n_samples == first.metrics.n_correct == 199  # predicted before the 200th bar closed
    rest = await service.resolve(model_name=model_name, now=now)
    (second,) = rest.records
    assert second.metrics.n_samples == 468 - 199 - HORIZON == second.metrics.n_correct
    assert rest.immature == HORIZON  # the last twelve bars' horizons run past the clock
    assert (await service.resolve(model_name=model_name, now=now)).accounted == []
    rows = await fetch_performance_history(registry.repo.pool, model_name, version=version)
    assert [r["n_samples"] for r in rows] == [199, 468 - 199 - HORIZON]


async def test_the_resolver_login_resolves_and_a_reader_cannot_mark_predictions_resolved(
    registry, settings, conn, model_name, symbol, logins, connect_as
):
    from alphaplus.core.settings import Settings

    candles = market_candles("24/7", "2026-01-05", "2026-01-07", "1h", seed=1)
    await store(conn, symbol, candles)
    version = await version_of(registry, model_name, symbol, HORIZON)
    await write_events(registry.repo.pool, [event(model_name, version, symbol, candles["ts"].iloc[3], 1)], [])
    as_resolver = Settings(database_url=logins["dsn"]["resolver"], home=settings.home)
    service = await OutcomeService.open(as_resolver)
    (record,) = (await service.resolve(model_name=model_name, now=candles["ts"].iloc[-1])).records
    assert record.metrics.n_samples == 1
    reader = await connect_as("reader")
    with pytest.raises(Exception, match="permission denied"):
        await reader.execute("INSERT INTO accounted_events VALUES (-1, now(), 'm', 1, false, NULL, false, now())")

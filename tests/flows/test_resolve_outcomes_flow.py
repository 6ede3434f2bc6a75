"""The resolve-outcomes flow (what the hourly deployment runs): no window or delay parameters; each run
resolves what has matured since the last one, and a run with nothing new writes nothing."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest

from tests.db.conftest import make_lineage
from tests.market_shapes import market_candles

pytestmark = pytest.mark.prefect


async def test_each_run_resolves_what_matured_and_a_second_run_writes_nothing(flow_env, model_name):
    from alphaplus.registry.service import Registry
    from db.candles import upsert_candles
    from db.inference import write_events
    from flows.resolve_outcomes import resolve_outcomes_flow

    symbol = f"X{uuid.uuid4().hex[:8].upper()}"
    candles = market_candles("XNYS", "2026-01-12", "2026-01-23", "1h", seed=5)
    registry = await Registry.open(flow_env)
    await upsert_candles(registry.repo.pool, symbol=symbol, timeframe="1h", frame=candles, calendar="XNYS")
    reg = await registry.register_model_version(
        make_lineage(model_name, symbol=symbol), model={"w": uuid.uuid4().hex},
        version_metadata={"label_horizon": 3, "timeframe": "1h", "feature_names": []})
    events = [((r.ts + pd.Timedelta(hours=1)).to_pydatetime(), r.ts.to_pydatetime(), model_name, reg.version.version,
               "trending", symbol, False, True, None, 1.0, 1, 0.6, None) for r in candles.iloc[:20].itertuples()]
    await write_events(registry.repo.pool, events, [])

    (row,) = await resolve_outcomes_flow(model_name=model_name)
    assert (row["version"], row["n_samples"], row["total_inferences"]) == (reg.version.version, 20, 20)
    assert await resolve_outcomes_flow(model_name=model_name) == []

"""Training from where users keep candles: their own table with other column names, and a drop folder
whose new files the next retrain picks up; nothing is copied into the candles table."""

from __future__ import annotations

import uuid

import pytest

from alphaplus.core.settings import get_settings
from alphaplus.market.sources import canonical_candles
from alphaplus.market.synth import synth_candles
from alphaplus.ml.lineage import hash_frame

pytestmark = pytest.mark.prefect


@pytest.fixture
def source_env(flow_env, monkeypatch):
    """Set ALPHAPLUS_* candle source variables for the flows of this test."""

    def use(**values: str) -> None:
        for key, value in values.items():
            monkeypatch.setenv(f"ALPHAPLUS_{key.upper()}", value)
        get_settings.cache_clear()

    return use


async def _stored_bars(settings, symbol: str) -> int:
    from db.pool import get_pool

    return await (await get_pool(settings=settings)).fetchval("SELECT count(*) FROM candles WHERE symbol = $1", symbol)


async def test_training_reads_a_users_own_table_with_its_column_names(flow_env, source_env, model_name):
    from alphaplus.registry.service import Registry
    from db.pool import get_pool
    from flows.retrain import retrain

    symbol, table = f"U{uuid.uuid4().hex[:7].upper()}", f"ohlcv_{uuid.uuid4().hex[:8]}"
    candles = synth_candles(5000, seed=11)
    pool = await get_pool(settings=flow_env)
    await pool.execute(f'CREATE TABLE {table} (open_time timestamptz, o float8, h float8, l float8, c float8, '
                       '"Volume (base)" float8, pair text, bar text)')
    await pool.copy_records_to_table(table, records=[
        (r.ts.to_pydatetime(), r.open, r.high, r.low, r.close, r.volume, symbol, "1h") for r in candles.itertuples()])
    source_env(candle_source="table", candle_table=table,
               candle_columns="ts=open_time,open=o,high=h,low=l,close=c,volume=Volume (base),symbol=pair,timeframe=bar")

    (result,) = await retrain(symbols=[symbol], regime="trending", model_name=model_name, promote=False)
    assert result["status"] == "registered", result
    lineage = await (await Registry.open(flow_env)).get_lineage(model_name, result["version"])
    assert lineage.training_data_hash == hash_frame(canonical_candles(candles))
    assert await _stored_bars(flow_env, symbol) == 0  # read in place, not copied


async def test_a_scheduled_retrain_picks_up_a_file_dropped_after_the_last_one(
    flow_env, source_env, model_name, tmp_path
):
    from alphaplus.core.errors import InvalidInput
    from alphaplus.registry.service import Registry
    from flows.retrain import retrain

    symbol = f"D{uuid.uuid4().hex[:7].upper()}"
    candles = synth_candles(5000, seed=12)
    folder = tmp_path / symbol / "1h"
    folder.mkdir(parents=True)
    candles.iloc[:4000].to_csv(folder / "2024-part-1.csv", index=False)
    source_env(candle_source="folder", candle_folder=str(tmp_path))
    registry = await Registry.open(flow_env)

    (first,) = await retrain(symbols=[symbol], regime="trending", model_name=model_name, promote=False)
    candles.iloc[4000:].to_parquet(folder / "2024-part-2.parquet")  # another process drops the next file
    (second,) = await retrain(symbols=[symbol], regime="trending", model_name=model_name, promote=False)
    assert first["status"] == second["status"] == "registered" and second["version"] != first["version"]
    ends = [(await registry.get_lineage(model_name, r["version"])).training_data_end for r in (first, second)]
    assert ends == [candles["ts"].iloc[3999], candles["ts"].iloc[-1]]
    lineage = await registry.get_lineage(model_name, second["version"])
    assert lineage.training_data_hash == hash_frame(canonical_candles(candles))
    assert await _stored_bars(flow_env, symbol) == 0

    candles.iloc[:3990].to_csv(folder / "2024-part-1.csv", index=False)  # rewritten after it was read
    with pytest.raises(InvalidInput, match="2024-part-1.csv changed after it was read"):
        await retrain(symbols=[symbol], regime="trending", model_name=model_name, promote=False)

"""Candle sources on a real PostgreSQL: the user's own table or view (own column names, quoted names,
symbol/timeframe filters optional) and a drop folder read in place, each giving the very frame the
candles table gives, so the training data hash is the same whichever holds the candles."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest

from alphaplus.core.errors import ConfigurationError, InvalidInput
from alphaplus.core.settings import Settings
from alphaplus.market.source_service import read_candles
from alphaplus.ml.lineage import hash_frame
from db.candles import upsert_candles
from tests.market_shapes import market_candles


@pytest.fixture
def symbol() -> str:
    return f"S{uuid.uuid4().hex[:8].upper()}"


@pytest.fixture
def candles() -> pd.DataFrame:
    return market_candles("24/5", "2026-01-05", "2026-01-23", "1h", seed=9)


async def user_table(conn, candles: pd.DataFrame, symbol: str) -> str:
    """A schema and table named as a user might (a quote and spaces included), its own column names,
    a numeric volume, a naive timestamp, and rows of another symbol and timeframe beside."""
    schema = f'My "Market" {uuid.uuid4().hex[:6]}'
    quoted = '"' + schema.replace('"', '""') + '"'
    await conn.execute(f'CREATE SCHEMA {quoted}')
    await conn.execute(f'CREATE TABLE {quoted}."Bars" ("Time" timestamp, o float8, h float8, l float8, '
                       f'"Last Price" float8, vol numeric(20, 8), ticker text, tf text)')
    rows = [(r.ts.tz_convert(None).to_pydatetime(), r.open, r.high, r.low, r.close, round(r.volume, 8), sym, tf)
            for sym, tf in ((symbol, "1h"), ("OTHER", "1h"), (symbol, "15m")) for r in candles.itertuples()]
    await conn.copy_records_to_table("Bars", schema_name=schema, records=rows)
    return schema


def table_settings(settings: Settings, schema: str, **extra) -> Settings:
    return settings.model_copy(update=dict(
        candle_source="table", candle_table=f"{schema}.Bars",
        candle_columns="ts=Time, open=o, high=h, low=l, close=Last Price, volume=vol, symbol=ticker, timeframe=tf",
        **extra))


async def test_the_same_candles_from_the_table_a_user_table_and_a_drop_folder_hash_the_same(
    settings, conn, symbol, candles, tmp_path
):
    candles = candles.assign(volume=candles["volume"].round(8))
    from db.pool import get_pool

    await upsert_candles(await get_pool(settings=settings), symbol=symbol, timeframe="1h", frame=candles)
    schema = await user_table(conn, candles, symbol)
    folder = tmp_path / "drop" / symbol / "1h"
    folder.mkdir(parents=True)
    half = len(candles) // 2
    candles.iloc[:half].to_csv(folder / "part-1.csv", index=False)
    candles.iloc[half:].to_parquet(folder / "part-2.parquet")

    stored = await read_candles(symbol=symbol, timeframe="1h", settings=settings)
    from_table = await read_candles(symbol=symbol, timeframe="1h", settings=table_settings(settings, schema))
    from_folder = await read_candles(symbol=symbol, timeframe="1h", settings=settings.model_copy(
        update=dict(candle_source="folder", candle_folder=tmp_path / "drop")))
    assert len(stored) == len(candles)
    pd.testing.assert_frame_equal(from_table, stored)
    pd.testing.assert_frame_equal(from_folder, stored)
    assert hash_frame(stored) == hash_frame(from_table) == hash_frame(from_folder)


async def test_a_view_per_symbol_needs_no_symbol_or_timeframe_column_and_bounds_apply(
    settings, conn, symbol, candles
):
    schema = await user_table(conn, candles, symbol)
    quoted = '"' + schema.replace('"', '""') + '"'
    await conn.execute(f'CREATE VIEW {quoted}.eurusd AS SELECT "Time" AS ts, o AS open, h AS high, l AS low, '
                       f'"Last Price" AS close, vol AS volume FROM {quoted}."Bars" WHERE ticker = $${symbol}$$ '
                       "AND tf = '1h'")
    view = settings.model_copy(update=dict(candle_source="table", candle_table=f"{schema}.eurusd", candle_columns=""))
    start, end = candles["ts"].iloc[10].to_pydatetime(), candles["ts"].iloc[50].to_pydatetime()
    frame = await read_candles(symbol=symbol, timeframe="1h", start=start, end=end, settings=view)
    assert frame["ts"].tolist() == candles["ts"].iloc[10:50].tolist()


@pytest.mark.parametrize("update, message", [
    (dict(candle_table="nowhere.Bars"), "does not exist"),
    (dict(candle_columns="ts=Time, open=o, high=h, low=l, close=price, volume=vol"), "has no column 'price' (for close)"),
    (dict(candle_columns="ts=Time, open=o, high=h, low=l, close=ticker, volume=vol"), "is text, not a number"),
    (dict(candle_columns="ts=ticker"), "not a timestamp"),
])
async def test_a_wrong_table_or_column_name_is_one_clear_error(settings, conn, symbol, candles, update, message):
    schema = await user_table(conn, candles.iloc[:20], symbol)
    base = settings.model_copy(update=dict(candle_source="table", candle_table=f"{schema}.Bars"))
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        await read_candles(symbol=symbol, timeframe="1h", settings=base.model_copy(update=update))


async def test_a_drop_folder_remembers_what_it_read_and_refuses_a_file_changed_afterwards(
    settings, conn, symbol, candles, tmp_path
):
    folder = tmp_path / symbol / "1h"
    folder.mkdir(parents=True)
    drop = settings.model_copy(update=dict(candle_source="folder", candle_folder=tmp_path))
    candles.iloc[:100].to_csv(folder / "a.csv", index=False)
    (folder / "b.csv.part").write_text("being written")
    assert len(await read_candles(symbol=symbol, timeframe="1h", settings=drop)) == 100

    candles.iloc[100:].to_parquet(folder / "b.parquet")  # dropped later: picked up by the next read
    assert len(await read_candles(symbol=symbol, timeframe="1h", settings=drop)) == len(candles)
    files = await conn.fetch("SELECT path, rows FROM source_files WHERE folder = $1 ORDER BY path", str(tmp_path))
    assert [(f["path"], f["rows"]) for f in files] == [(f"{symbol}/1h/a.csv", 100),
                                                       (f"{symbol}/1h/b.parquet", len(candles) - 100)]

    candles.iloc[:99].to_csv(folder / "a.csv", index=False)
    with pytest.raises(InvalidInput, match=f"file {symbol}/1h/a.csv changed after it was read"):
        await read_candles(symbol=symbol, timeframe="1h", settings=drop)

"""Candle source configuration and the canonical frame, without a database: column maps, table names
(always quoted, never spliced), and one frame shape whichever source the candles came from."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from alphaplus.core.errors import ConfigurationError
from alphaplus.core.settings import Settings
from alphaplus.market.drop_folder import combine
from alphaplus.market.sources import (
    CANDLES_TABLE,
    FolderSource,
    TableSource,
    canonical_candles,
    parse_table_name,
    source_of,
)
from db.candle_sources import quote_ident, table_query
from tests.market_shapes import market_candles


def test_the_default_source_is_the_candles_table():
    assert source_of(Settings()) == CANDLES_TABLE


def test_a_table_source_maps_only_the_columns_named_and_keeps_the_rest():
    settings = Settings(candle_source="table", candle_table="market.ohlcv",
                        candle_columns="ts=Time, close=last, symbol=ticker")
    source = source_of(settings)
    assert isinstance(source, TableSource) and source.name == ("market", "ohlcv")
    assert dict(source.columns) == {"ts": "Time", "open": "open", "high": "high", "low": "low", "close": "last",
                                    "volume": "volume"}
    assert (source.symbol_column, source.timeframe_column) == ("ticker", None)


@pytest.mark.parametrize("settings, message", [
    (dict(candle_source="table"), "needs ALPHAPLUS_CANDLE_TABLE"),
    (dict(candle_source="folder"), "needs ALPHAPLUS_CANDLE_FOLDER"),
    (dict(candle_source="table", candle_table="a.b.c"), "name or schema.name"),
    (dict(candle_source="table", candle_table="t", candle_columns="price=p"), "expected field=column"),
    (dict(candle_source="table", candle_table="t", candle_columns="ts=a,ts=b"), "names ts twice"),
    (dict(candle_source="table", candle_table="t", candle_columns="ts=x\ny"), "not a usable name"),
    (dict(candle_source="table", candle_table="x" * 64), "not a usable name"),
])
def test_incomplete_or_malformed_source_settings_are_one_clear_error(settings, message):
    with pytest.raises(ConfigurationError, match=message):
        source_of(Settings(**settings))


def test_a_folder_source_is_an_absolute_folder(tmp_path):
    source = source_of(Settings(candle_source="folder", candle_folder=tmp_path / "drop" / ".." / "drop"))
    assert source == FolderSource(Path(tmp_path / "drop").resolve())


def test_names_are_quoted_as_one_identifier_whatever_they_hold():
    assert quote_ident('x"; DROP TABLE candles; --') == '"x""; DROP TABLE candles; --"'
    sql = table_query(("s", 't"'), {"ts": "Time", "open": "o", "high": "h", "low": "l", "close": "c",
                                    "volume": 'v"); --'}, "ticker", None)
    assert 'FROM "s"."t"""' in sql and '"v""); --"::float8 AS volume' in sql
    assert '"ticker" = $1' in sql and "$2::text IS NOT NULL" in sql
    with pytest.raises(ConfigurationError):
        parse_table_name("")


def test_the_canonical_frame_is_the_same_bytes_whatever_the_column_order_zone_and_row_order():
    from alphaplus.ml.lineage import hash_frame

    candles = market_candles("24/5", "2026-01-05", "2026-01-09", "1h", seed=7)
    shuffled = candles.sample(frac=1.0, random_state=1)[["volume", "close", "ts", "low", "high", "open"]]
    shuffled["ts"] = shuffled["ts"].dt.tz_convert("Europe/London")
    a, b = canonical_candles(candles), canonical_candles(shuffled)
    pd.testing.assert_frame_equal(a, b)
    assert hash_frame(a) == hash_frame(b)
    assert list(a.columns) == ["ts", "open", "high", "low", "close", "volume"]
    assert str(a["ts"].dtype) == "datetime64[ns, UTC]"


def test_files_combined_in_read_order_let_the_later_file_win_a_shared_bar():
    candles = market_candles("24/7", "2026-01-05", "2026-01-06", "1h", seed=2)
    correction = candles.iloc[5:8].assign(close=candles["close"].iloc[5:8] * 1.01, high=candles["high"].iloc[5:8] * 1.02)
    combined = combine([canonical_candles(candles), canonical_candles(correction)])
    assert len(combined) == len(candles)
    assert combined["close"].iloc[5:8].tolist() == correction["close"].tolist()

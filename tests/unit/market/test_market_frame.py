"""The candle reader: user files in many spellings become the canonical frame, bad files fail clearly."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from alphaplus.core.errors import AlphaPlusError
from alphaplus.market import CANDLE_COLUMNS, CandleFormatError, read_candles, timeframe_to_timedelta

ROWS = {
    "open": [100.0, 101.0, 102.0],
    "high": [101.5, 102.5, 103.5],
    "low": [99.5, 100.5, 101.5],
    "close": [101.0, 102.0, 103.0],
    "volume": [10.0, 11.0, 12.0],
}
EXPECTED_TS = pd.to_datetime(
    ["2024-01-01 00:00", "2024-01-01 01:00", "2024-01-01 02:00"], utc=True
).astype("datetime64[ns, UTC]")


def assert_canonical(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == list(CANDLE_COLUMNS)
    assert str(frame["ts"].dtype) == "datetime64[ns, UTC]"
    for col in CANDLE_COLUMNS[1:]:
        assert frame[col].dtype == np.float64
    assert isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0


@pytest.mark.parametrize(
    "ts_name,ts_values",
    [
        ("timestamp", [1704067200, 1704070800, 1704074400]),
        ("time", [1704067200000, 1704070800000, 1704074400000]),
        ("date", ["2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z", "2024-01-01T02:00:00Z"]),
        ("datetime", ["2024-01-01 00:00:00", "2024-01-01 01:00:00", "2024-01-01 02:00:00"]),
        ("Date", ["2024-01-01T01:00:00+01:00", "2024-01-01T02:00:00+01:00", "2024-01-01T03:00:00+01:00"]),
        ("ts", ["2024-01-01T00:00:00.000Z", "2024-01-01T01:00:00.000Z", "2024-01-01T02:00:00.000Z"]),
    ],
)
def test_csv_timestamps_in_seconds_millis_iso_naive_or_offset_all_become_utc(tmp_path, ts_name, ts_values):
    path = tmp_path / "c.csv"
    pd.DataFrame({ts_name: ts_values, **ROWS}).to_csv(path, index=False)
    frame = read_candles(path)
    assert_canonical(frame)
    assert frame["ts"].tolist() == EXPECTED_TS.tolist()
    assert frame["close"].tolist() == ROWS["close"]


@pytest.mark.parametrize(
    "names",
    [
        {"open": "Open", "high": "High", "low": "Low", "close": "Close", "volume": "Volume"},
        {"open": "OPEN", "high": "HIGH", "low": "LOW", "close": "CLOSE", "volume": "VOLUME"},
        {"open": "o", "high": "h", "low": "l", "close": "c", "volume": "v"},
    ],
)
def test_common_column_spellings_are_recognised(tmp_path, names):
    path = tmp_path / "c.csv"
    data = {"Timestamp": [1704067200, 1704070800, 1704074400]}
    data.update({names[k]: v for k, v in ROWS.items()})
    pd.DataFrame(data).to_csv(path, index=False)
    frame = read_candles(path)
    assert_canonical(frame)
    assert frame["high"].tolist() == ROWS["high"]


def test_parquet_with_a_datetime_index_is_read(tmp_path):
    path = tmp_path / "c.parquet"
    index = pd.DatetimeIndex(EXPECTED_TS.tz_convert("America/New_York"), name="Date")
    pd.DataFrame(ROWS, index=index).to_parquet(path)
    frame = read_candles(path)
    assert_canonical(frame)
    assert frame["ts"].tolist() == EXPECTED_TS.tolist()


def test_csv_written_with_its_datetime_index_is_read(tmp_path):
    path = tmp_path / "c.csv"
    pd.DataFrame(ROWS, index=pd.DatetimeIndex(EXPECTED_TS)).to_csv(path)
    assert read_candles(path)["ts"].tolist() == EXPECTED_TS.tolist()


def test_semicolon_separated_csv_is_read(tmp_path):
    path = tmp_path / "c.csv"
    pd.DataFrame({"ts": [1704067200, 1704070800, 1704074400], **ROWS}).to_csv(path, index=False, sep=";")
    assert read_candles(path)["volume"].tolist() == ROWS["volume"]


def test_reader_keeps_unsorted_and_duplicate_rows_for_the_quality_gate_to_see(tmp_path):
    path = tmp_path / "c.csv"
    ts = [1704074400, 1704067200, 1704067200]
    pd.DataFrame({"ts": ts, **ROWS}).to_csv(path, index=False)
    frame = read_candles(path)
    assert frame["ts"].astype("int64").tolist() == [t * 10**9 for t in ts]
    assert len(frame) == 3


def test_missing_cells_become_nan_rather_than_an_error(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("ts,open,high,low,close,volume\n1704067200,1,2,0.5,1.5,\n1704070800,1,2,0.5,,3\n")
    frame = read_candles(path)
    assert frame["volume"].isna().tolist() == [True, False]
    assert frame["close"].isna().tolist() == [False, True]


@pytest.mark.parametrize(
    "content,fragment",
    [
        ("ts,open,high,low,volume\n1704067200,1,2,0.5,3\n", "missing column(s) close"),
        ("open,high,low,close,volume\n1,2,0.5,1.5,3\n", "no timestamp column"),
        ("ts,open,high,low,close,volume\nyesterday-ish,1,2,0.5,1.5,3\n", "unparseable timestamps"),
        ("ts,open,high,low,close,volume\n1704067200,1,2,0.5,abc,3\n", "column close has non-numeric value 'abc'"),
        ("", "is empty"),
        ("ts,open,high,low,close,volume\n", "empty"),
    ],
)
def test_bad_csv_raises_one_clear_line_naming_the_problem(tmp_path, content, fragment):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(CandleFormatError) as info:
        read_candles(path)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message


def test_binary_junk_is_rejected_as_not_csv_or_parquet(tmp_path):
    path = tmp_path / "junk.csv"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(CandleFormatError, match="binary"):
        read_candles(path)


def test_corrupt_parquet_is_rejected(tmp_path):
    path = tmp_path / "junk.parquet"
    path.write_bytes(b"PAR1" + b"\x01\x02garbage" * 50)
    with pytest.raises(CandleFormatError, match="Parquet"):
        read_candles(path)


def test_missing_file_is_a_candle_format_error(tmp_path):
    with pytest.raises(CandleFormatError, match="does not exist"):
        read_candles(tmp_path / "nope.csv")


def test_candle_format_error_is_both_a_value_error_and_a_domain_error():
    err = CandleFormatError("x")
    assert isinstance(err, ValueError) and isinstance(err, AlphaPlusError)
    assert err.code == "candle_format"


@pytest.mark.parametrize(
    "text,expected",
    [("1m", timedelta(minutes=1)), ("5m", timedelta(minutes=5)), ("15m", timedelta(minutes=15)),
     ("1h", timedelta(hours=1)), ("4h", timedelta(hours=4)), ("1d", timedelta(days=1))],
)
def test_timeframe_strings_map_to_bar_lengths(text, expected):
    assert timeframe_to_timedelta(text) == expected


@pytest.mark.parametrize("text", ["", "h", "0m", "1y", "five minutes"])
def test_unknown_timeframe_is_rejected(text):
    with pytest.raises(CandleFormatError, match="unknown timeframe"):
        timeframe_to_timedelta(text)

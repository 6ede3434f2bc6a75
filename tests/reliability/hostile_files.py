"""Malformed candle files for the hostile-input tests: each maker writes one file into a folder and
returns its path. ``REFUSED`` files must be refused whole; ``ACCEPTED`` ones are valid (if unusual)
and must be stored exactly."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from alphaplus.market.synth import synth_candles

HEADER = "ts,open,high,low,close,volume\n"


def good_rows(n: int = 24, seed: int = 5) -> pd.DataFrame:
    return synth_candles(n, seed=seed)


def csv_text(frame: pd.DataFrame) -> str:
    return frame.to_csv(index=False)


def with_cell(row: int, column: str, value) -> Callable[[Path], Path]:
    """A valid CSV whose cell (row, column) is replaced by ``value`` (written as text)."""

    def make(folder: Path) -> Path:
        frame = good_rows().astype({"open": object, "high": object, "low": object, "close": object,
                                    "volume": object, "ts": object})
        frame.loc[row, column] = value
        path = folder / f"cell_{column}.csv"
        path.write_text(csv_text(frame))
        return path

    return make


def text(name: str, content: str | bytes) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return path

    return make


def ten_million_row_parquet(folder: Path, how: str) -> Path:
    """A Parquet file whose footer says 10,000,000 rows (dictionary-encoded, so it is small), damaged."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = 10_000_000
    idx = pa.array(np.zeros(n, dtype=np.int8))
    table = pa.table({
        "ts": pa.DictionaryArray.from_arrays(idx, pa.array([1_700_000_000_000], type=pa.int64())),
        **{c: pa.DictionaryArray.from_arrays(idx, pa.array([1.0])) for c in ("open", "high", "low", "close", "volume")},
    })
    whole = folder / "whole.parquet"
    pq.write_table(table, whole, row_group_size=n)
    assert pq.ParquetFile(whole).metadata.num_rows == n
    data = whole.read_bytes()
    whole.unlink()
    footer_start = len(data) - 8 - struct.unpack("<I", data[-8:-4])[0]
    path = folder / f"ten_million_{how}.parquet"
    if how == "cut":  # the download stopped half-way: no footer
        path.write_bytes(data[: len(data) // 2])
    elif how == "zeroed":  # the footer is intact and promises pages that are zeros
        path.write_bytes(data[:4] + b"\0" * (footer_start - 4) + data[footer_start:])
    else:  # the footer is intact, the pages are gone
        path.write_bytes(data[:4] + data[footer_start:])
    return path


def parquet_of(frame_maker: Callable[[], pd.DataFrame], name: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        frame_maker().to_parquet(path, index=False)
        return path

    return make


def _text_prices() -> pd.DataFrame:
    f = good_rows()
    return f.assign(open=f["open"].map(lambda v: f"${v:.2f}"))


def _bool_volume() -> pd.DataFrame:
    return good_rows().assign(volume=True)


def _no_time() -> pd.DataFrame:
    return good_rows().drop(columns=["ts"])


def _rows(frame: pd.DataFrame, order) -> str:
    return csv_text(frame.iloc[order].reset_index(drop=True))


def _mixed_zones(duplicate: bool) -> str:
    # 00:00Z, then 02:00+01:00 (= 01:00Z) or 01:00+00:00 written as 02:00+01:00 next to 01:00Z.
    f = good_rows(3)
    stamps = ["2024-01-01T00:00:00Z", "2024-01-01T02:00:00+01:00",
              "2024-01-01T01:00:00+00:00" if duplicate else "2024-01-01T07:00:00+05:00"]
    return csv_text(f.assign(ts=stamps))


def _huge_line() -> str:
    return HEADER + "2024-01-01T00:00:00Z," + "9" * 20_000_000 + "x,1,1,1,1\n"


def _non_utf8_late() -> bytes:
    # Valid UTF-8 for the first 4 KiB (what the reader sniffs), Latin-1 further down.
    body = csv_text(good_rows(200)).encode()
    return body + "2030-01-01T00:00:00Z,1,1,1,1,1 caf\xe9\n".encode("latin-1")


# name -> maker. Every one of these must be refused with one line and store nothing.
REFUSED: dict[str, Callable[[Path], Path]] = {
    "empty_file": text("empty.csv", b""),
    "header_only": text("header.csv", HEADER),
    "wrong_columns": text("wrong.csv", "a,b,c\n1,2,3\n4,5,6\n"),
    "missing_volume": text("novol.csv", "ts,open,high,low,close\n2024-01-01,1,1,1,1\n"),
    "single_column": text("single.csv", "ts\n2024-01-01\n2024-01-02\n"),
    "text_in_price": with_cell(3, "close", "twelve"),
    "text_in_volume": with_cell(5, "volume", "1,000"),
    "nan_close": with_cell(2, "close", "NaN"),
    "empty_cell": with_cell(2, "low", ""),
    "inf_high": with_cell(4, "high", "inf"),
    "overflowing_number": with_cell(4, "high", "1e400"),
    "high_below_low": with_cell(6, "high", "0.5"),
    "negative_volume": with_cell(1, "volume", "-3"),
    "negative_prices": text("neg.csv", HEADER + "2024-01-01T00:00:00Z,-5,-4,-6,-5,10\n"),
    "zero_price": text("zero.csv", HEADER + "2024-01-01T00:00:00Z,0,0,0,0,10\n"),
    "open_outside_range": text("open.csv", HEADER + "2024-01-01T00:00:00Z,100,10,5,7,1\n"),
    "duplicate_timestamps": text("dup.csv", HEADER + "2024-01-01T00:00:00Z,2,3,1,2,1\n"
                                 "2024-01-01T00:00:00Z,2,3,1,2,1\n"),
    "mixed_zones_colliding": text("tz_dup.csv", _mixed_zones(duplicate=True)),
    "unparseable_timestamp": with_cell(3, "ts", "yesterday at noon"),
    "missing_timestamp": with_cell(3, "ts", ""),
    "timestamp_year_10000": with_cell(3, "ts", "10000-01-01T00:00:00"),
    "epoch_out_of_range": text("epoch.csv", HEADER + "1e30,2,3,1,2,1\n"),
    "boolean_prices": text("bool.csv", HEADER + "2024-01-01T00:00:00Z,True,True,True,True,True\n"),
    "ragged_rows": text("ragged.csv", HEADER + "2024-01-01T00:00:00Z,2,3,1,2,1\n"
                        "2024-01-01T01:00:00Z,2,3,1,2,1,7,8,9\n"),
    "unterminated_quote": text("quote.csv", HEADER + '2024-01-01T00:00:00Z,"2,3,1,2,1\n'),
    "only_a_bom": text("bom.csv", b"\xef\xbb\xbf"),
    "binary_junk": text("junk.csv", bytes(np.random.default_rng(7).integers(0, 256, 8192, dtype=np.uint8))),
    "gzip_named_csv": text("gz.csv", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\x00" * 64),
    "zero_byte_parquet": text("empty.parquet", b""),
    "junk_parquet": text("junk.parquet", b"PAR1" + b"\xff" * 100 + b"PAR1"),
    "ten_million_rows_cut": lambda folder: ten_million_row_parquet(folder, "cut"),
    "ten_million_rows_zeroed_pages": lambda folder: ten_million_row_parquet(folder, "zeroed"),
    "ten_million_rows_no_pages": lambda folder: ten_million_row_parquet(folder, "gone"),
    "huge_line": text("huge.csv", _huge_line()),
    "non_utf8_header": text("latin1.csv", "zeit;öffnen;hoch;tief;schluss;menge\n".encode("latin-1")
                            + b"2024-01-01;1;2;0,5;1;9\n"),
    "non_utf8_late": text("latin1_late.csv", _non_utf8_late()),
    "parquet_text_prices": parquet_of(_text_prices, "text.parquet"),
    "parquet_bool_volume": parquet_of(_bool_volume, "bool.parquet"),
    "parquet_without_time": parquet_of(_no_time, "notime.parquet"),
    "a_directory": lambda folder: (folder / "adir.csv").mkdir() or folder / "adir.csv",
    "a_missing_file": lambda folder: folder / "does_not_exist.csv",
}

# name -> (maker, rows it must store).
ACCEPTED: dict[str, tuple[Callable[[Path], Path], int]] = {
    "unsorted_timestamps": (text("unsorted.csv", _rows(good_rows(), list(range(23, -1, -1)))), 24),
    "mixed_time_zones": (text("tz.csv", _mixed_zones(duplicate=False)), 3),
    "semicolon_separated": (text("semi.csv", csv_text(good_rows()).replace(",", ";")), 24),
}

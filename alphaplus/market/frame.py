"""The canonical candle frame and a reader that turns user CSV/Parquet files into it.

Canonical frame: columns exactly ``ts`` (datetime64[ns, UTC]), ``open``, ``high``, ``low``,
``close``, ``volume`` (float64), default RangeIndex. ``read_candles`` normalises names, units and
time zones but deliberately does not sort, de-duplicate or fill anything: the data-quality gate must
see the file as it is, so that unsorted or duplicated input is reported rather than silently fixed.
"""

from __future__ import annotations

import csv
import re
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from alphaplus.core.errors import InvalidInput

CANDLE_COLUMNS: tuple[str, ...] = ("ts", "open", "high", "low", "close", "volume")
VALUE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "volume")

# Accepted spellings, compared after lower-casing and stripping spaces/underscores.
_ALIASES: dict[str, tuple[str, ...]] = {
    "ts": ("ts", "timestamp", "time", "date", "datetime", "opentime", "candletime", "t"),
    "open": ("open", "o", "openprice"),
    "high": ("high", "h", "highprice"),
    "low": ("low", "l", "lowprice"),
    "close": ("close", "c", "closeprice", "last"),
    "volume": ("volume", "v", "vol", "basevolume"),
}

_TIMEFRAMES = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

# Epoch numbers above this are milliseconds (1e11 s is the year 5138; 1e11 ms is 1973).
_EPOCH_MS_THRESHOLD = 1e11
_EPOCH_US_THRESHOLD = 1e14
_EPOCH_NS_THRESHOLD = 1e17


class CandleFormatError(InvalidInput, ValueError):
    """A candle file or frame cannot be read into the canonical frame; the message says why."""

    code = "candle_format"


def timeframe_to_timedelta(timeframe: str) -> timedelta:
    """The bar length of a timeframe such as ``"1m"``, ``"15m"``, ``"1h"``, ``"4h"`` or ``"1d"``."""
    # At most 9 digits: int() of a very long digit string raises ValueError, and a count that large
    # overflows timedelta anyway.
    match = re.fullmatch(r"\s*(\d{1,9})\s*([mhdw])\s*", str(timeframe).lower())
    unknown = CandleFormatError(
        f"unknown timeframe {str(timeframe)[:40]!r}; use a count and a unit such as 1m, 5m, 15m, 1h, 4h, 1d"
    )
    if match is None or int(match.group(1)) <= 0:
        raise unknown
    try:
        return timedelta(**{_TIMEFRAMES[match.group(2)]: int(match.group(1))})
    except OverflowError:
        raise unknown from None


def _norm(name: object) -> str:
    return re.sub(r"[\s_\-]", "", str(name)).lower()


def _find_column(frame: pd.DataFrame, canonical: str) -> str | None:
    by_norm: dict[str, str] = {}
    for col in frame.columns:
        by_norm.setdefault(_norm(col), col)
    for alias in _ALIASES[canonical]:
        if alias in by_norm:
            return by_norm[alias]
    return None


def parse_timestamps(values: pd.Series | pd.Index, *, source: str = "timestamp column") -> pd.Series:
    """Parse epoch seconds/milliseconds or ISO strings into datetime64[ns, UTC]; naive means UTC."""
    series = pd.Series(values).reset_index(drop=True)
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        parsed = series.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_dtype(series.dtype):
        parsed = series.dt.tz_localize("UTC")
    elif pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        parsed = _parse_epoch(series.astype("float64"), source)
    else:
        parsed = _parse_text_timestamps(series, source)
    return parsed.astype("datetime64[ns, UTC]")


def _parse_epoch(numbers: pd.Series, source: str) -> pd.Series:
    finite = numbers[np.isfinite(numbers)]
    if finite.empty:
        raise CandleFormatError(f"{source} has no usable timestamps")
    magnitude = float(finite.abs().median())
    if magnitude >= _EPOCH_NS_THRESHOLD:
        unit = "ns"
    elif magnitude >= _EPOCH_US_THRESHOLD:
        unit = "us"
    elif magnitude >= _EPOCH_MS_THRESHOLD:
        unit = "ms"
    else:
        unit = "s"
    try:
        return pd.to_datetime(numbers, unit=unit, utc=True)
    except (ValueError, OverflowError, pd.errors.OutOfBoundsDatetime) as e:
        raise CandleFormatError(f"{source} holds numbers that are not epoch timestamps ({e})") from e


def _parse_text_timestamps(series: pd.Series, source: str) -> pd.Series:
    text = series.astype("string").str.strip()
    # Columns of digits (epoch values read as text) are numbers, not dates.
    numeric = pd.to_numeric(text, errors="coerce")
    if numeric.notna().all() and len(numeric) > 0:
        return _parse_epoch(numeric.astype("float64"), source)
    try:
        parsed = pd.to_datetime(text, utc=True, format="ISO8601")
    except (ValueError, TypeError):
        try:
            parsed = pd.to_datetime(text, utc=True, format="mixed")
        except (ValueError, TypeError, OverflowError) as e:
            first_bad = _first_unparseable(text)
            raise CandleFormatError(
                f"{source} has unparseable timestamps (first: {first_bad!r}); "
                "use ISO 8601 strings or epoch seconds/milliseconds"
            ) from e
    return parsed


def _first_unparseable(text: pd.Series) -> str:
    for value in text.dropna():
        try:
            pd.Timestamp(value)
        except (ValueError, TypeError):
            return str(value)[:40]
    return str(text.iloc[0])[:40] if len(text) else ""


def to_candle_frame(raw: pd.DataFrame, *, source: str = "candles") -> pd.DataFrame:
    """Normalise any frame with OHLCV columns and a time column (or time index) to the canonical frame."""
    if raw.shape[0] == 0:
        raise CandleFormatError(f"{source} is empty: no rows")
    columns: dict[str, pd.Series] = {}
    ts_col = _find_column(raw, "ts")
    if ts_col is not None:
        ts_values: pd.Series | pd.Index = raw[ts_col]
    elif isinstance(raw.index, pd.DatetimeIndex) or _norm(raw.index.name or "") in _ALIASES["ts"]:
        ts_values = raw.index
    else:
        raise CandleFormatError(
            f"{source} has no timestamp column (looked for ts, timestamp, time, date, datetime "
            f"or a datetime index); columns are {', '.join(map(str, raw.columns))}"
        )
    columns["ts"] = parse_timestamps(ts_values, source=f"{source}: timestamp column")
    missing = []
    for name in VALUE_COLUMNS:
        col = _find_column(raw, name)
        if col is None:
            missing.append(name)
            continue
        columns[name] = _to_float(raw[col], name=name, source=source)
    if missing:
        raise CandleFormatError(
            f"{source} is missing column(s) {', '.join(missing)}; "
            f"columns are {', '.join(map(str, raw.columns))}"
        )
    return pd.DataFrame(columns, columns=list(CANDLE_COLUMNS))


def _to_float(values: pd.Series, *, name: str, source: str) -> pd.Series:
    series = values.reset_index(drop=True)
    if pd.api.types.is_bool_dtype(series.dtype):
        raise CandleFormatError(f"{source}: column {name} holds booleans, not numbers")
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series.astype("float64")
    text = series.astype("string").str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    # Missing cells stay NaN for the quality gate to report; text that is present but not a number is
    # a format error, because the gate cannot say anything useful about it.
    bad = numbers.isna() & text.notna() & (text != "") & ~text.str.lower().isin(["nan", "null", "none"])
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        raise CandleFormatError(
            f"{source}: column {name} has non-numeric value {str(text.iloc[first])[:40]!r} at row {first}"
        )
    return numbers.astype("float64")


def read_candles(path: str | Path) -> pd.DataFrame:
    """Read an OHLCV CSV or Parquet file into the canonical candle frame, unsorted and unrepaired."""
    path = Path(path)
    if not path.exists():
        raise CandleFormatError(f"candle file {path} does not exist")
    if path.is_dir():
        raise CandleFormatError(f"candle file {path} is a directory")
    if path.stat().st_size == 0:
        raise CandleFormatError(f"candle file {path} is empty")
    with path.open("rb") as fh:
        head = fh.read(4096)
    if head[:4] == b"PAR1" or path.suffix.lower() in {".parquet", ".pq"}:
        raw = _read_parquet(path)
    else:
        raw = _read_csv(path, head)
    return to_candle_frame(raw, source=f"candle file {path.name}")


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as e:  # pyarrow raises many unrelated types for a corrupt file
        raise CandleFormatError(
            f"candle file {path.name} is not a readable Parquet file ({type(e).__name__})"
        ) from e


def _read_csv(path: Path, head: bytes) -> pd.DataFrame:
    if b"\x00" in head:
        raise CandleFormatError(f"candle file {path.name} is binary, not CSV or Parquet")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        # A cut in the middle of a multi-byte character at the 4096 boundary is not junk.
        if e.start < len(head) - 4:
            raise CandleFormatError(f"candle file {path.name} is not UTF-8 text (CSV) or Parquet") from e
    try:
        raw = pd.read_csv(path, sep=_sniff_delimiter(head))
    except pd.errors.EmptyDataError as e:
        raise CandleFormatError(f"candle file {path.name} is empty") from e
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, TypeError, csv.Error) as e:
        reason = (str(e).splitlines() or [type(e).__name__])[0][:120]
        raise CandleFormatError(f"candle file {path.name} is not a readable CSV ({reason})") from e
    if raw.shape[1] <= 1 and _find_column(raw, "open") is None:
        raise CandleFormatError(
            f"candle file {path.name} has a single column; expected ts, open, high, low, close, volume"
        )
    # An unnamed first column is an index written by DataFrame.to_csv(); use it as time if nothing else is.
    first = raw.columns[0]
    if str(first).startswith("Unnamed") and _find_column(raw, "ts") is None:
        raw = raw.rename(columns={first: "ts"})
    return raw


def _sniff_delimiter(head: bytes) -> str:
    # The C parser is much faster than sep=None's python engine, so sniff the delimiter once here.
    sample = head.decode("utf-8", errors="ignore")
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","

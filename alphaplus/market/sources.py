"""Where candles come from: the ``candles`` table (the default), the user's own table or view (with its
own column names), or a drop folder of CSV/Parquet files. Each source yields the same canonical frame
(``canonical_candles``), so the quality gate and the lineage hash see what was trained on, never where
it came from. Pure: configuration and frame shaping only (reads: ``alphaplus.market.source_service``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from alphaplus.core.errors import ConfigurationError

CANDLE_COLUMNS = ("ts", "open", "high", "low", "close", "volume")
FILTER_COLUMNS = ("symbol", "timeframe")
# PostgreSQL's identifier length (NAMEDATALEN - 1 bytes).
_MAX_IDENTIFIER_BYTES = 63


@dataclass(frozen=True)
class TableSource:
    """The user's table or view: its qualified name (schema optional), the column of each canonical
    field, and the optional symbol and timeframe columns it is filtered on."""

    name: tuple[str, ...]
    columns: Mapping[str, str]
    symbol_column: str | None = None
    timeframe_column: str | None = None
    url: str | None = None

    def describe(self) -> str:
        return "table " + ".".join(self.name)


@dataclass(frozen=True)
class FolderSource:
    """A folder another process drops candle files into: ``<root>/<SYMBOL>/<timeframe>/*.csv|*.parquet``."""

    root: Path

    def describe(self) -> str:
        return f"drop folder {self.root}"


CANDLES_TABLE = "candles"


def check_identifier(text: str, what: str) -> str:
    """A table, schema or column name as the user wrote it (it is always quoted, never spliced raw);
    refused when empty, too long or holding control characters."""
    name = text.strip()
    if not name or len(name.encode()) > _MAX_IDENTIFIER_BYTES or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise ConfigurationError(
            f"{what} {text[:80]!r} is not a usable name (1 to {_MAX_IDENTIFIER_BYTES} bytes, no control characters)")
    return name


def parse_table_name(text: str) -> tuple[str, ...]:
    """``name`` or ``schema.name`` (a name holding a dot needs a view under a plainer name)."""
    parts = text.strip().split(".")
    if len(parts) > 2:
        raise ConfigurationError(
            f"ALPHAPLUS_CANDLE_TABLE {text[:80]!r}: use name or schema.name (a name with a dot needs a view)")
    return tuple(check_identifier(p, "ALPHAPLUS_CANDLE_TABLE part") for p in parts)


def parse_column_map(text: str) -> dict[str, str]:
    """``field=column`` pairs, comma-separated, for fields ts, open, high, low, close, volume, symbol,
    timeframe; the OHLCV fields default to their own names, symbol and timeframe to none."""
    mapping: dict[str, str] = {}
    for item in (p for p in text.split(",") if p.strip()):
        field, sep, column = item.partition("=")
        field = field.strip().lower()
        if not sep or field not in CANDLE_COLUMNS + FILTER_COLUMNS:
            raise ConfigurationError(
                f"ALPHAPLUS_CANDLE_COLUMNS item {item.strip()[:60]!r}: expected field=column with field one of "
                + ", ".join(CANDLE_COLUMNS + FILTER_COLUMNS))
        if field in mapping:
            raise ConfigurationError(f"ALPHAPLUS_CANDLE_COLUMNS names {field} twice")
        mapping[field] = check_identifier(column, f"column of {field}")
    return mapping


def source_of(settings: Any, choice: str | None = None) -> str | TableSource | FolderSource:
    """The configured source (``choice`` overrides ``settings.candle_source``): ``CANDLES_TABLE``, a
    TableSource or a FolderSource; refused with what to set when its settings are missing."""
    kind = choice or settings.candle_source
    if kind == "candles":
        return CANDLES_TABLE
    if kind == "table":
        if not settings.candle_table:
            raise ConfigurationError("candle source 'table' needs ALPHAPLUS_CANDLE_TABLE (name or schema.name)")
        mapping = parse_column_map(settings.candle_columns or "")
        return TableSource(
            name=parse_table_name(settings.candle_table),
            columns={c: mapping.get(c, c) for c in CANDLE_COLUMNS},
            symbol_column=mapping.get("symbol"), timeframe_column=mapping.get("timeframe"),
            url=settings.candle_table_url,
        )
    if kind == "folder":
        if settings.candle_folder is None:
            raise ConfigurationError("candle source 'folder' needs ALPHAPLUS_CANDLE_FOLDER")
        return FolderSource(Path(settings.candle_folder).expanduser().resolve())
    raise ConfigurationError(f"unknown candle source {kind!r}; use candles, table or folder")


def canonical_candles(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame every source hands to training: ts (UTC, ns) and float64 OHLCV in that order, sorted
    by ts, a fresh RangeIndex. Same candles in, same bytes out, whichever source they came from."""
    ts = pd.to_datetime(pd.Series(frame["ts"]).reset_index(drop=True), utc=True).astype("datetime64[ns, UTC]")
    out = pd.DataFrame({"ts": ts, **{c: np.asarray(frame[c], dtype=np.float64) for c in CANDLE_COLUMNS[1:]}})
    return out.sort_values("ts", kind="stable", ignore_index=True)


def within(frame: pd.DataFrame, start: Any, end: Any) -> pd.DataFrame:
    """Rows with start <= ts < end (either bound optional), index renumbered."""
    keep = np.ones(len(frame), dtype=bool)
    if start is not None:
        keep &= (frame["ts"] >= pd.Timestamp(start)).to_numpy()
    if end is not None:
        keep &= (frame["ts"] < pd.Timestamp(end)).to_numpy()
    return frame[keep].reset_index(drop=True)

"""SQL of candle sources other than the candles table: the user's own table or view (names quoted as
identifiers, never spliced as text; existence and column types checked first, so a wrong name is a
clear error), and the record of the files read from a drop folder."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Mapping, Sequence

import asyncpg

from alphaplus.core.errors import ConfigurationError
from db.errors import translated

OHLCV = ("open", "high", "low", "close", "volume")
_TIME_TYPES = {"timestamp with time zone", "timestamp without time zone", "date"}
_NUMERIC_TYPES = {"double precision", "real", "numeric", "integer", "bigint", "smallint"}

_RELATION = "SELECT to_regclass($1)::oid"
_COLUMNS = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type
FROM pg_attribute a
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
"""


def quote_ident(name: str) -> str:
    """PostgreSQL's quote_ident, always quoting: the name is one identifier whatever it holds."""
    if "\x00" in name:
        raise ConfigurationError("a name cannot hold a NUL character")
    return '"' + name.replace('"', '""') + '"'


def _qualified(name: Sequence[str]) -> str:
    return ".".join(quote_ident(p) for p in name)


async def _checked_columns(conn: asyncpg.Connection | asyncpg.Pool, name: Sequence[str],
                           wanted: Mapping[str, str]) -> None:
    """Refuse a missing relation, a missing column or a column of the wrong type, naming it."""
    shown = ".".join(name)
    with translated():
        oid = await conn.fetchval(_RELATION, _qualified(name))
        if oid is None:
            raise ConfigurationError(f"candle table {shown} does not exist (or this login cannot see it)")
        types = {r["attname"]: r["type"] for r in await conn.fetch(_COLUMNS, oid)}
    for field, column in wanted.items():
        if column not in types:
            raise ConfigurationError(
                f"candle table {shown} has no column {column!r} (for {field}); its columns: "
                + ", ".join(sorted(types))[:300] + "; map them with ALPHAPLUS_CANDLE_COLUMNS")
        kind = re.sub(r"\(.*?\)", "", types[column])
        expected = _TIME_TYPES if field == "ts" else _NUMERIC_TYPES if field in OHLCV else None
        if expected is not None and kind not in expected:
            raise ConfigurationError(
                f"column {column!r} of candle table {shown} is {types[column]}, not a "
                + ("timestamp" if field == "ts" else "number") + f" (for {field}); map another or make a view")


def table_query(name: Sequence[str], columns: Mapping[str, str], symbol_column: str | None,
                timeframe_column: str | None) -> str:
    """The SELECT of a user's table: canonical names and types out; $1 symbol, $2 timeframe (used
    only when their columns are named), $3 start, $4 end (NULL: unbounded)."""
    ts = quote_ident(columns["ts"])
    # A timestamp without time zone is read as UTC (every AlphaPlus session runs with timezone UTC).
    select = [f"{ts}::timestamptz AS ts"] + [f"{quote_ident(columns[c])}::float8 AS {c}" for c in OHLCV]
    where = [f"($3::timestamptz IS NULL OR {ts} >= $3)", f"($4::timestamptz IS NULL OR {ts} < $4)",
             f"{ts} IS NOT NULL"]
    where.append(f"{quote_ident(symbol_column)} = $1" if symbol_column else "$1::text IS NOT NULL")
    where.append(f"{quote_ident(timeframe_column)} = $2" if timeframe_column else "$2::text IS NOT NULL")
    return (f"SELECT {', '.join(select)} FROM {_qualified(name)} WHERE {' AND '.join(where)} ORDER BY 1")


async def fetch_table_candles(
    conn: asyncpg.Connection | asyncpg.Pool, *, name: Sequence[str], columns: Mapping[str, str],
    symbol_column: str | None, timeframe_column: str | None, symbol: str, timeframe: str,
    start: datetime | None, end: datetime | None,
) -> list[tuple]:
    """Rows (ts, open, high, low, close, volume) of the user's table for one symbol and timeframe."""
    wanted = {**columns, **({"symbol": symbol_column} if symbol_column else {}),
              **({"timeframe": timeframe_column} if timeframe_column else {})}
    await _checked_columns(conn, name, wanted)
    sql = table_query(name, columns, symbol_column, timeframe_column)
    with translated():
        rows = await conn.fetch(sql, symbol, timeframe, start, end)
    return [tuple(r) for r in rows]


# --- drop folders ------------------------------------------------------------------------------

_FILES = """
SELECT path, size, mtime_ns, sha256, rows, first_read_at
FROM source_files WHERE folder = $1 AND symbol = $2 AND timeframe = $3
"""
_RECORD_FILES = """
INSERT INTO source_files (folder, symbol, timeframe, path, size, mtime_ns, sha256, rows, first_ts, last_ts)
SELECT $1, $2, $3, * FROM unnest($4::text[], $5::bigint[], $6::bigint[], $7::text[], $8::int[],
                               $9::timestamptz[], $10::timestamptz[])
ON CONFLICT (folder, path) DO UPDATE SET size = EXCLUDED.size, mtime_ns = EXCLUDED.mtime_ns
WHERE source_files.sha256 = EXCLUDED.sha256
"""


async def read_files(pool: asyncpg.Pool, *, folder: str, symbol: str, timeframe: str) -> dict[str, dict[str, Any]]:
    """The files of (symbol, timeframe) read from ``folder`` before, by path relative to it."""
    with translated():
        rows = await pool.fetch(_FILES, folder, symbol, timeframe)
    return {r["path"]: dict(r) for r in rows}


async def record_files(pool: asyncpg.Pool, *, folder: str, symbol: str, timeframe: str,
                       files: Sequence[tuple]) -> None:
    """Remember files read (path, size, mtime_ns, sha256, rows, first_ts, last_ts); a file already
    recorded with the same content gets its new size/mtime, one with other content is left as it was
    (the reader refuses a changed file before getting here)."""
    if not files:
        return
    with translated():
        await pool.execute(_RECORD_FILES, folder, symbol, timeframe, *[list(c) for c in zip(*files)])

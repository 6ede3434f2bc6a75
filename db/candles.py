"""Market data in PostgreSQL: bulk upsert of candle frames with COPY, and time-range reads."""

from __future__ import annotations

from datetime import datetime
from typing import Callable

import asyncpg
import numpy as np
import pandas as pd

from db.errors import translated
from db.instruments import DEFAULT_CALENDAR, set_calendar

CANDLE_COLUMNS = ("ts", "open", "high", "low", "close", "volume")

_STAGE = """
CREATE TEMP TABLE candles_in (
    ts timestamptz, open float8, high float8, low float8, close float8, volume float8
) ON COMMIT DROP
"""
_MERGE = """
INSERT INTO candles AS c (symbol, timeframe, ts, open, high, low, close, volume)
SELECT $1, $2, ts, open, high, low, close, volume FROM candles_in
ON CONFLICT (symbol, timeframe, ts) DO UPDATE
SET open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low, close = EXCLUDED.close,
    volume = EXCLUDED.volume
"""
_FETCH = """
SELECT ts, open, high, low, close, volume FROM candles
WHERE symbol = $1 AND timeframe = $2
  AND ($3::timestamptz IS NULL OR ts >= $3) AND ($4::timestamptz IS NULL OR ts < $4)
ORDER BY ts
"""
_FETCH_LAST = """
SELECT * FROM (
    SELECT ts, open, high, low, close, volume FROM candles
    WHERE symbol = $1 AND timeframe = $2 AND ($3::timestamptz IS NULL OR ts < $3)
    ORDER BY ts DESC LIMIT $4
) last ORDER BY ts
"""
_SUMMARY = """
SELECT c.symbol, c.timeframe, coalesce(i.calendar, $2) AS calendar, c.bars, c.first, c.last
FROM (SELECT symbol, timeframe, count(*) AS bars, min(ts) AS first, max(ts) AS last
      FROM candles WHERE ($1::text IS NULL OR symbol = $1)
      GROUP BY symbol, timeframe) c
LEFT JOIN instruments i ON i.symbol = c.symbol
ORDER BY c.symbol, c.timeframe
"""

_CHUNK_ROWS = 50_000


async def upsert_candles(
    pool: asyncpg.Pool,
    *,
    symbol: str,
    timeframe: str,
    frame: pd.DataFrame,
    on_progress: Callable[[int], None] | None = None,
    calendar: str | None = None,
) -> int:
    """Insert or replace candles of (symbol, timeframe) in ONE transaction; returns rows written.

    With ``calendar``, the symbol's trading calendar is recorded in the same transaction.

    Rows are streamed with COPY into a staging table, then merged on (symbol, timeframe, ts); the
    table's CHECK constraints refuse insane rows, and then nothing of the import is kept.
    """
    with translated():
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(_STAGE)
            for start in range(0, len(frame), _CHUNK_ROWS):
                chunk = frame.iloc[start : start + _CHUNK_ROWS]
                await conn.copy_records_to_table("candles_in", records=_records(chunk), columns=list(CANDLE_COLUMNS))
                if on_progress is not None:
                    on_progress(len(chunk))
            status = await conn.execute(_MERGE, symbol, timeframe)
            if calendar is not None:
                await set_calendar(conn, symbol=symbol, calendar=calendar)
    return int(status.split()[-1])


def _records(chunk: pd.DataFrame) -> list[tuple]:
    ts = chunk["ts"].dt.tz_convert("UTC").dt.to_pydatetime()
    values = chunk.loc[:, list(CANDLE_COLUMNS[1:])].to_numpy(dtype=np.float64).tolist()
    return [(t, *v) for t, v in zip(ts, values)]


def _frame(rows: list[asyncpg.Record]) -> pd.DataFrame:
    frame = pd.DataFrame([tuple(r) for r in rows], columns=list(CANDLE_COLUMNS))
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True).astype("datetime64[ns, UTC]")
    for c in CANDLE_COLUMNS[1:]:
        frame[c] = frame[c].astype("float64")
    return frame


async def fetch_candles(
    pool: asyncpg.Pool,
    *,
    symbol: str,
    timeframe: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> pd.DataFrame:
    """Candles of (symbol, timeframe) with start <= ts < end, oldest first, as a canonical frame."""
    with translated():
        rows = await pool.fetch(_FETCH, symbol, timeframe, start, end)
    return _frame(rows)


async def fetch_last_candles(
    pool: asyncpg.Pool, *, symbol: str, timeframe: str, limit: int, before: datetime | None = None
) -> pd.DataFrame:
    """The ``limit`` most recent candles (before ``before``), oldest first."""
    with translated():
        rows = await pool.fetch(_FETCH_LAST, symbol, timeframe, before, limit)
    return _frame(rows)


async def candle_summary(pool: asyncpg.Pool, *, symbol: str | None = None) -> list[dict]:
    """Bars per (symbol, timeframe) with their first and last timestamps."""
    with translated():
        rows = await pool.fetch(_SUMMARY, symbol, DEFAULT_CALENDAR)
    return [dict(r) for r in rows]

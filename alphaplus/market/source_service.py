"""Reading candles from the configured source (``alphaplus.market.sources``): the candles table, the
user's own table or view, or a drop folder. Every read returns the canonical frame, so training, the
quality gate, the lineage hash and reproduction see the same candles whichever source holds them."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from alphaplus.core.settings import Settings, get_settings
from alphaplus.market.sources import (
    CANDLE_COLUMNS,
    CANDLES_TABLE,
    FolderSource,
    TableSource,
    canonical_candles,
    source_of,
    within,
)


async def read_candles(
    *, symbol: str, timeframe: str, start: datetime | None = None, end: datetime | None = None,
    source: str | None = None, settings: Settings | None = None, remember: bool = True, pool: Any = None,
) -> pd.DataFrame:
    """Candles of (symbol, timeframe) with start <= ts < end from the configured source (``source``:
    candles, table or folder, overriding ALPHAPLUS_CANDLE_SOURCE), as the canonical frame.
    ``remember``: record the drop folder's new files as read (training does; outcome resolution,
    whose login may not write, only reads). ``pool``: the AlphaPlus database's pool to read the candles
    table or the drop folder's record through (default: the settings' database)."""
    from db.pool import get_pool

    settings = settings or get_settings()
    where = source_of(settings, source)
    if isinstance(where, TableSource):
        return await _read_table(where, symbol, timeframe, start, end, settings)
    pool = pool or await get_pool(settings=settings)
    if isinstance(where, FolderSource):
        return await _read_folder(pool, where.root, symbol, timeframe, start, end, remember)
    from db.candles import fetch_candles

    return canonical_candles(await fetch_candles(pool, symbol=symbol, timeframe=timeframe, start=start, end=end))


async def _read_table(where: TableSource, symbol: str, timeframe: str, start, end, settings: Settings) -> pd.DataFrame:
    from db.candle_sources import fetch_table_candles
    from db.pool import connect, get_pool

    args = dict(name=where.name, columns=where.columns, symbol_column=where.symbol_column,
                timeframe_column=where.timeframe_column, symbol=symbol, timeframe=timeframe, start=start, end=end)
    if where.url is None:
        rows = await fetch_table_candles(await get_pool(settings=settings), **args)
    else:
        conn = await connect(where.url, settings)
        try:
            rows = await fetch_table_candles(conn, **args)
        finally:
            await conn.close()
    return canonical_candles(pd.DataFrame(rows, columns=list(CANDLE_COLUMNS)))


async def _read_folder(pool, root: Path, symbol: str, timeframe: str, start, end, remember: bool) -> pd.DataFrame:
    from alphaplus.market.drop_folder import read_folder
    from db.candle_sources import read_files, record_files

    folder = str(root)
    remembered = await read_files(pool, folder=folder, symbol=symbol, timeframe=timeframe)
    result = await asyncio.to_thread(read_folder, root, symbol, timeframe, remembered)
    if remember:
        await record_files(pool, folder=folder, symbol=symbol, timeframe=timeframe, files=result.new_files)
    return within(result.candles, start, end)


async def outcome_candles(
    requests: list[tuple[str, str, datetime, datetime, int]], settings: Settings | None = None
) -> dict[tuple[str, str], pd.DataFrame]:
    """Candles (ts, close) per (symbol, timeframe) for outcome requests (symbol, timeframe, first bar,
    last bar, horizon), from the configured source: the bars from the first one on."""
    from db.performance import fetch_outcome_candles
    from db.pool import get_pool

    settings = settings or get_settings()
    if source_of(settings) == CANDLES_TABLE:
        return await fetch_outcome_candles(await get_pool(settings=settings), requests)
    out = {}
    for symbol, timeframe, first, _last, _horizon in requests:
        frame = await read_candles(symbol=symbol, timeframe=timeframe, start=first, settings=settings, remember=False)
        out[(symbol, timeframe)] = frame[["ts", "close"]]
    return out

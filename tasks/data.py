"""Tasks that read market data and check its quality."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from alphaplus.ml.quality import QualityReport
from alphaplus.core.settings import get_settings
from tasks.retry import transient_only


@task(retries=2, retry_delay_seconds=1, retry_condition_fn=transient_only, cache_policy=NO_CACHE)
async def fetch_candles(
    symbol: str, timeframe: str, start: datetime | None, end: datetime | None, source: str | None = None
) -> pd.DataFrame:
    """Read a symbol's candles for [start, end) from the configured source (candles table, the user's
    table or view, or a drop folder; ``source`` overrides ALPHAPLUS_CANDLE_SOURCE)."""
    from alphaplus.market.source_service import read_candles

    return await read_candles(symbol=symbol, timeframe=timeframe, start=start, end=end, source=source)


@task(retries=2, retry_delay_seconds=1, retry_condition_fn=transient_only, cache_policy=NO_CACHE)
async def symbol_calendar(symbol: str) -> str:
    """The symbol's trading calendar (``24/7`` unless one was set)."""
    from db.instruments import calendar_of
    from db.pool import get_pool

    return await calendar_of(await get_pool(), symbol)


@task(cache_policy=NO_CACHE)
def validate_candles(candles: pd.DataFrame, symbol: str, timeframe: str, calendar: str, horizon: int) -> QualityReport:
    """Run the Great Expectations candle suite against the symbol's calendar (GX is imported here: it
    costs seconds to load)."""
    from alphaplus.ml.quality import validate_candles as validate

    settings = get_settings()
    return validate(
        candles,
        min_rows=settings.min_training_rows,
        max_missing_bar_share=settings.max_missing_bar_share,
        max_return_z=settings.max_return_z,
        calendar=calendar,
        timeframe=timeframe,
        symbol=symbol,
        rows_need=f" (ALPHAPLUS_MIN_TRAINING_ROWS: features, regimes and {horizon}-bar labels need them)",
    )

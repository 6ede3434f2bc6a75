"""Market data: the canonical candle frame, readers for user files, and synthetic candles."""

from alphaplus.market.frame import (
    CANDLE_COLUMNS,
    CandleFormatError,
    read_candles,
    timeframe_to_timedelta,
)

__all__ = ["CANDLE_COLUMNS", "CandleFormatError", "read_candles", "timeframe_to_timedelta"]

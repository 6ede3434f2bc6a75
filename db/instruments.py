"""Instruments: each symbol's trading calendar (a symbol without a row trades ``24/7``)."""

from __future__ import annotations

import asyncpg

from db.errors import translated

DEFAULT_CALENDAR = "24/7"

_SET = """
INSERT INTO instruments (symbol, calendar) VALUES ($1, $2)
ON CONFLICT (symbol) DO UPDATE SET calendar = EXCLUDED.calendar
RETURNING symbol, calendar, notes, created_at, updated_at
"""
_GET = "SELECT calendar FROM instruments WHERE symbol = $1"
_GET_MANY = "SELECT symbol, calendar FROM instruments WHERE symbol = ANY($1::text[])"
# Every symbol with a calendar or candles: those without a row show the default.
_LIST = """
SELECT s.symbol, coalesce(i.calendar, $1) AS calendar, i.updated_at,
       (SELECT count(*) FROM candles c WHERE c.symbol = s.symbol) AS bars
FROM (SELECT symbol FROM instruments UNION SELECT DISTINCT symbol FROM candles) s
LEFT JOIN instruments i ON i.symbol = s.symbol
ORDER BY s.symbol
"""


async def set_calendar(pool: asyncpg.Pool | asyncpg.Connection, *, symbol: str, calendar: str) -> dict:
    """Record (or change) the symbol's trading calendar; returns the instrument row."""
    with translated():
        row = await pool.fetchrow(_SET, symbol, calendar)
    return dict(row)


async def calendar_of(pool: asyncpg.Pool | asyncpg.Connection, symbol: str) -> str:
    """The symbol's trading calendar (``24/7`` when none was set)."""
    with translated():
        value = await pool.fetchval(_GET, symbol)
    return DEFAULT_CALENDAR if value is None else str(value)


async def calendars_of(pool: asyncpg.Pool | asyncpg.Connection, symbols: list[str]) -> dict[str, str]:
    """Each symbol's trading calendar (``24/7`` for those without one)."""
    with translated():
        rows = await pool.fetch(_GET_MANY, list(symbols))
    found = {r["symbol"]: str(r["calendar"]) for r in rows}
    return {s: found.get(s, DEFAULT_CALENDAR) for s in symbols}


async def list_instruments(pool: asyncpg.Pool) -> list[dict]:
    """Every known symbol with its calendar and number of stored bars."""
    with translated():
        rows = await pool.fetch(_LIST, DEFAULT_CALENDAR)
    return [dict(r) for r in rows]

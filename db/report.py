"""Queries behind the slot report: live performance windows and production pointer moves of a slot."""

from __future__ import annotations

from typing import Any

import asyncpg

from alphaplus.core.entities import Slot
from db.errors import translated

_LIVE_HISTORY = """
SELECT ts, window_start, version, n_samples, accuracy, f1, error_rate, max_psi
FROM model_performance_history
WHERE model_name = $1 AND regime = $2 AND symbol = $3 AND source = 'live'
ORDER BY ts, version
"""
_MOVES = """
SELECT ts, from_version, to_version, actor, on_behalf_of, reason, metadata
FROM lifecycle_audit
WHERE event = 'production_moved' AND model_name = $1 AND regime = $2 AND symbol = $3
ORDER BY ts, id
"""


async def live_history(pool: asyncpg.Pool, slot: Slot) -> list[dict[str, Any]]:
    """The slot's live windows, every version, oldest first."""
    with translated():
        rows = await pool.fetch(_LIVE_HISTORY, slot.model_name, slot.regime, slot.symbol)
    return [dict(r) for r in rows]


async def pointer_moves(pool: asyncpg.Pool, slot: Slot) -> list[dict[str, Any]]:
    """Audit rows of the slot's production pointer moves (with their metadata), oldest first."""
    with translated():
        rows = await pool.fetch(_MOVES, slot.model_name, slot.regime, slot.symbol)
    return [dict(r) for r in rows]

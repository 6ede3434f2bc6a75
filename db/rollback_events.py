"""Rollback events (append-only) and the production moves of a flow run."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Mapping, Sequence

import asyncpg

from alphaplus.core.entities import Slot
from alphaplus.core.records import FlowRunMove, RollbackEvent
from db.errors import translated

_INSERT_EVENT = """
INSERT INTO rollback_events (model_name, regime, symbol, from_version, to_version, rollback_type, outcome,
    rollback_reason, triggers, metrics_snapshot, degradation, confidence, risk, on_behalf_of, flow_run_id,
    for_cause, n_outcomes, n_effective, test_name, statistic, p_value)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
RETURNING id, event_time, actor
"""

_EVENT_COLUMNS = """
    id, event_time, model_name, regime, symbol, from_version, to_version, rollback_type, outcome,
    rollback_reason, triggers, metrics_snapshot, degradation, confidence, risk, actor, on_behalf_of,
    flow_run_id, for_cause, n_outcomes, n_effective, test_name, statistic, p_value
"""
_LIST_EVENTS = f"""
SELECT {_EVENT_COLUMNS} FROM rollback_events
WHERE ($1::text IS NULL OR model_name = $1) AND ($2::text IS NULL OR regime = $2)
  AND ($3::text IS NULL OR symbol = $3) AND ($4::text IS NULL OR outcome = $4)
ORDER BY event_time DESC, id DESC
LIMIT $5
"""

# Pointer moves a flow run made that still stand: the failure hook rolls these back.
# A slot whose training job in that run succeeded finished its work correctly, so its move is kept.
# A rollback's own move is never one to undo (the failure hook undoes a run inside that run, so its
# rollbacks carry the failed run's id too).
_MOVES_BY_FLOW_RUN = """
SELECT a.model_name, a.regime, a.symbol, a.from_version, a.to_version, a.ts
FROM lifecycle_audit a
JOIN production_slots p
  ON p.model_name = a.model_name AND p.regime = a.regime AND p.symbol = a.symbol AND p.version = a.to_version
WHERE a.event = 'production_moved' AND a.flow_run_id = $1 AND a.to_version IS NOT NULL
  AND NOT a.metadata ? 'rollback_type'
  AND NOT EXISTS (
      SELECT 1 FROM ml_training_jobs j
      WHERE j.flow_run_id = a.flow_run_id AND j.status = 'succeeded'
        AND j.model_name = a.model_name AND j.regime = a.regime AND j.symbol = a.symbol)
ORDER BY a.ts
"""

# The rollbacks that undid a failed run's moves (metrics_snapshot.undoes_flow_run names the run).
_UNDO_EVENTS = f"""
SELECT {_EVENT_COLUMNS} FROM rollback_events
WHERE outcome = 'executed' AND metrics_snapshot ->> 'undoes_flow_run' = $1
ORDER BY event_time, id
"""






async def insert_event(
    conn: asyncpg.Connection,
    *,
    slot: Slot,
    from_version: int | None,
    to_version: int | None,
    rollback_type: str,
    outcome: str,
    reason: str,
    triggers: Sequence[str],
    metrics_snapshot: Mapping[str, Any],
    degradation: float | None,
    confidence: float | None,
    risk: str | None,
    on_behalf_of: str | None,
    flow_run_id: str | None,
    for_cause: bool,
    evidence: Sequence[Any] = (None, None, None, None, None),
) -> tuple[int, datetime, str]:
    """Append a rollback_events row; returns (id, event_time, actor). ``evidence``: (n_outcomes,
    n_effective, test_name, statistic, p_value) of the test that decided, when one did."""
    # Round-trip through JSON so non-finite floats fail here, not half-way through a transaction.
    snapshot = json.loads(json.dumps(dict(metrics_snapshot), allow_nan=False, default=str))
    with translated():
        row = await conn.fetchrow(
            _INSERT_EVENT, slot.model_name, slot.regime, slot.symbol, from_version, to_version, rollback_type,
            outcome, reason, list(triggers), snapshot, degradation, confidence, risk, on_behalf_of, flow_run_id,
            for_cause, *evidence,
        )
    return row["id"], row["event_time"], row["actor"]


async def list_events(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    model_name: str | None = None,
    regime: str | None = None,
    symbol: str | None = None,
    outcome: str | None = None,
    limit: int = 100,
) -> list[RollbackEvent]:
    """Rollback events matching the filters, newest first."""
    with translated():
        rows = await conn.fetch(_LIST_EVENTS, model_name, regime, symbol, outcome, limit)
    return [RollbackEvent(**dict(r)) for r in rows]


async def moves_by_flow_run(conn: asyncpg.Connection | asyncpg.Pool, flow_run_id: str) -> list[FlowRunMove]:
    """Production moves made by ``flow_run_id`` whose target still serves its slot."""
    with translated():
        rows = await conn.fetch(_MOVES_BY_FLOW_RUN, flow_run_id)
    return [
        FlowRunMove(Slot(r["model_name"], r["regime"], r["symbol"]), r["from_version"], r["to_version"], r["ts"])
        for r in rows
    ]


async def undo_events(conn: asyncpg.Connection | asyncpg.Pool, flow_run_id: str) -> list[RollbackEvent]:
    """The executed rollbacks that undid moves of the failed run ``flow_run_id``, oldest first."""
    with translated():
        rows = await conn.fetch(_UNDO_EVENTS, flow_run_id)
    return [RollbackEvent(**dict(r)) for r in rows]

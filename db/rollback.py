"""Rollback queries: evidence of every production slot in one round trip, rollback candidates and their
shadow record, slot assessment state (compare-and-set). Rollback events: db.rollback_events."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping, Sequence

import asyncpg

from alphaplus.core.entities import Slot
from alphaplus.core.records import CandidateRecord, SlotEvidence, SlotState, WindowTotals
from db.errors import translated

# Live windows written by the performance recorder carry confusion counts in ``metrics`` under these
# keys; with them the policy measures skill, without them the loss of edge cannot be tested.
CONFUSION_KEYS = ("true_positives", "false_positives", "false_negatives")
# Cap on the windows read for a candidate's recent live record: it keeps one lateral scan short per
# version; windows hold one outcome or more each.
WINDOW_SCAN_CAP = 2_000

# Windows pooled into one: counts are summed, F1 without counts is a sample-weighted mean.
_AGG = """
    count(*)::int AS windows,
    min(h.window_start) AS window_start,
    max(h.ts) AS window_end,
    coalesce(sum(h.n_samples) FILTER (WHERE h.n_correct IS NOT NULL OR h.accuracy IS NOT NULL), 0)::bigint AS n,
    coalesce(sum(coalesce(h.n_correct, round(h.accuracy * h.n_samples)::bigint)), 0)::bigint AS n_correct,
    coalesce(bool_and(h.metrics ?& ARRAY['true_positives', 'false_positives', 'false_negatives']), false)
        AS has_counts,
    sum((h.metrics ->> 'true_positives')::bigint)::bigint AS tp,
    sum((h.metrics ->> 'false_positives')::bigint)::bigint AS fp,
    sum((h.metrics ->> 'false_negatives')::bigint)::bigint AS fn,
    sum(h.f1 * h.n_samples) / nullif(sum(h.n_samples) FILTER (WHERE h.f1 IS NOT NULL), 0) AS f1,
    coalesce(sum(h.error_count), 0)::bigint AS errors,
    coalesce(sum(h.total_inferences), 0)::bigint AS inferences,
    max(h.max_psi) AS max_psi,
    max((h.metrics ->> 'label_horizon')::int) AS label_horizon,
    max((h.metrics ->> 'psi_threshold')::float8) AS psi_threshold
"""


def _prefixed(prefix: str) -> str:
    names = ("windows", "window_start", "window_end", "n", "n_correct", "has_counts", "tp", "fp", "fn", "f1",
             "errors", "inferences", "max_psi", "label_horizon", "psi_threshold")
    return ", ".join(f"{prefix}.{n} AS {prefix}_{n}" for n in names)


# Every production slot (optionally filtered) with what one assessment needs: the version's stored
# metrics (its holdout baseline lives in training_metrics), the stored slot state and the live windows
# not yet consumed in this production stint (after the pointer moved, after the stored cursor).
# One statement, one index scan per slot.
_ASSESSMENT_INPUTS = f"""
SELECT p.model_name, p.regime, p.symbol, p.version, p.since,
       v.training_metrics, v.validation_metrics,
       s.history, s.production_version AS state_version, s.production_since AS state_since,
       s.last_window_end, coalesce(s.revision, 0) AS revision,
       {_prefixed("w")}
FROM production_slots p
JOIN model_versions v ON v.model_name = p.model_name AND v.version = p.version
LEFT JOIN slot_assessments s
       ON s.model_name = p.model_name AND s.regime = p.regime AND s.symbol = p.symbol
LEFT JOIN LATERAL (
    SELECT {_AGG}
    FROM model_performance_history h
    WHERE h.model_name = p.model_name AND h.version = p.version AND h.source = 'live'
      AND h.ts > p.since
      AND h.ts > coalesce(
          CASE WHEN s.production_version = p.version AND s.production_since = p.since
               THEN s.last_window_end END,
          '-infinity'::timestamptz)
) w ON true
WHERE ($1::text IS NULL OR p.model_name = $1) AND ($2::text IS NULL OR p.regime = $2)
  AND ($3::text IS NULL OR p.symbol = $3)
  AND ($4::text[] IS NULL OR (p.model_name || chr(31) || p.regime || chr(31) || p.symbol) = ANY($4))
ORDER BY p.model_name, p.regime, p.symbol
"""

# Compare-and-set upsert of many slots' state in one statement: a row is written only when its
# revision is still the one read (``revision`` in the input is that value + 1). Slots another
# assessor wrote in between are left alone and missing from RETURNING.
_SAVE_STATES = """
INSERT INTO slot_assessments AS s (model_name, regime, symbol, production_version, production_since, history,
    last_window_end, last_assessed_at, last_status, last_assessment, last_n, last_n_effective, last_test,
    last_statistic, last_p_value, revision, updated_at)
SELECT u.model_name, u.regime, u.symbol, u.production_version, u.production_since, u.history,
       u.last_window_end, u.last_assessed_at, u.last_status, u.last_assessment, u.n, u.n_effective, u.test,
       u.statistic, u.p_value, u.revision, clock_timestamp()
FROM jsonb_to_recordset($1::jsonb) AS u(model_name text, regime text, symbol text, production_version int,
    production_since timestamptz, history jsonb, last_window_end timestamptz, last_assessed_at timestamptz,
    last_status text, last_assessment jsonb, n bigint, n_effective float8, test text, statistic float8,
    p_value float8, revision bigint)
ORDER BY u.model_name, u.regime, u.symbol
ON CONFLICT (model_name, regime, symbol) DO UPDATE SET
    production_version = EXCLUDED.production_version, production_since = EXCLUDED.production_since,
    history = EXCLUDED.history, last_window_end = EXCLUDED.last_window_end,
    last_assessed_at = EXCLUDED.last_assessed_at, last_status = EXCLUDED.last_status,
    last_assessment = EXCLUDED.last_assessment, last_n = EXCLUDED.last_n,
    last_n_effective = EXCLUDED.last_n_effective, last_test = EXCLUDED.last_test,
    last_statistic = EXCLUDED.last_statistic, last_p_value = EXCLUDED.last_p_value,
    revision = EXCLUDED.revision, updated_at = clock_timestamp()
WHERE s.revision = EXCLUDED.revision - 1
RETURNING s.model_name, s.regime, s.symbol
"""

_STATE = """
SELECT history FROM slot_assessments WHERE model_name = $1 AND regime = $2 AND symbol = $3
"""
_STATE_FOR_UPDATE = """
SELECT history, revision FROM slot_assessments
WHERE model_name = $1 AND regime = $2 AND symbol = $3 FOR UPDATE
"""
# Written under the slot lock after a rollback: no compare-and-set needed, the revision still moves
# so that an assessor holding an older read cannot overwrite it.
_SAVE_STATE_LOCKED = """
INSERT INTO slot_assessments AS s (model_name, regime, symbol, production_version, production_since, history,
    last_window_end, last_assessed_at, last_status, last_assessment, last_n, last_n_effective, last_test,
    last_statistic, last_p_value, revision)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 1)
ON CONFLICT (model_name, regime, symbol) DO UPDATE SET
    production_version = EXCLUDED.production_version, production_since = EXCLUDED.production_since,
    history = EXCLUDED.history, last_window_end = EXCLUDED.last_window_end,
    last_assessed_at = EXCLUDED.last_assessed_at, last_status = EXCLUDED.last_status,
    last_assessment = EXCLUDED.last_assessment, last_n = EXCLUDED.last_n,
    last_n_effective = EXCLUDED.last_n_effective, last_test = EXCLUDED.last_test,
    last_statistic = EXCLUDED.last_statistic, last_p_value = EXCLUDED.last_p_value,
    revision = s.revision + 1, updated_at = clock_timestamp()
"""

_POINTER = "SELECT version, since FROM production_slots WHERE model_name = $1 AND regime = $2 AND symbol = $3"

# Versions of a slot that could be restored (and failed ones, so the ranking shows why not), each
# with its artifact, quarantine, recent live/shadow record and production track record.
_CANDIDATES = f"""
SELECT v.version, v.status, v.model_artifact_path, v.model_size_bytes, v.model_artifact_hash, v.training_metrics,
       v.validation_metrics,
       alphaplus_quarantine_reason(v.model_name, v.version) AS quarantine_reason,
       {_prefixed("r")},
       EXISTS (SELECT 1 FROM lifecycle_audit a
               WHERE a.event = 'production_moved' AND a.model_name = v.model_name
                 AND a.to_version = v.version) AS served_production,
       (SELECT max(a.ts) FROM lifecycle_audit a
        WHERE a.event = 'production_moved' AND a.model_name = v.model_name
          AND a.from_version = v.version) AS last_production_end,
       (SELECT max(e.event_time) FROM rollback_events e
        WHERE e.model_name = v.model_name AND e.from_version = v.version
          AND e.outcome = 'executed' AND e.for_cause) AS rolled_back_for_cause_at
FROM model_versions v
LEFT JOIN LATERAL (
    SELECT {_AGG}
    FROM (
        SELECT e.*, coalesce(sum(e.n_samples) OVER (ORDER BY e.ts DESC ROWS BETWEEN UNBOUNDED PRECEDING
                                                    AND 1 PRECEDING), 0) AS before
        FROM (SELECT * FROM model_performance_history h0
              WHERE h0.model_name = v.model_name AND h0.version = v.version
                AND h0.source IN ('live', 'shadow')
              ORDER BY h0.ts DESC LIMIT {WINDOW_SCAN_CAP}) e
    ) h
    WHERE h.before < $4
) r ON true
WHERE v.model_name = $1 AND v.regime = $2 AND v.symbol = $3
  AND v.status IN ('rollback_candidate', 'archived', 'failed')
ORDER BY v.version DESC
"""

# Per version of a slot: its shadow windows after $4 (the production stint's start) pooled, i.e. how
# a rollback target did, scored in shadow, over the same period the production version is judged on.
_SHADOW_SINCE = f"""
SELECT v.version, {_prefixed("r")}
FROM unnest($4::int[]) AS v(version)
LEFT JOIN LATERAL (
    SELECT {_AGG}
    FROM model_performance_history h
    WHERE h.model_name = $1 AND h.version = v.version AND h.source = 'shadow' AND h.ts > $5
      AND EXISTS (SELECT 1 FROM model_versions m
                  WHERE m.model_name = $1 AND m.version = v.version AND m.regime = $2 AND m.symbol = $3)
) r ON true
"""

_VERSION_BRIEF = "SELECT version, regime, symbol, status FROM model_versions WHERE model_name = $1 AND version = $2"
_MODEL_EXISTS = "SELECT EXISTS (SELECT 1 FROM ml_models WHERE model_name = $1)"



def _totals(row: Mapping[str, Any], prefix: str) -> WindowTotals:
    get = lambda name: row[f"{prefix}_{name}"]  # noqa: E731
    if not get("windows"):
        return WindowTotals()
    counts = (int(get("tp")), int(get("fp")), int(get("fn"))) if get("has_counts") else None
    return WindowTotals(
        windows=int(get("windows")), window_start=get("window_start"), window_end=get("window_end"),
        n=int(get("n")), n_correct=int(get("n_correct")), confusion=counts, f1=get("f1"),
        errors=int(get("errors")), inferences=int(get("inferences")), max_psi=get("max_psi"),
        label_horizon=get("label_horizon"), psi_threshold=get("psi_threshold"),
    )








def _iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.isoformat()


async def assessment_inputs(
    conn: asyncpg.Connection | asyncpg.Pool,
    *,
    model_name: str | None = None,
    regime: str | None = None,
    symbol: str | None = None,
    slots: Sequence[Slot] | None = None,
) -> list[SlotEvidence]:
    """Evidence of every production slot matching the filters, in one query."""
    keys = None if slots is None else [f"{s.model_name}\x1f{s.regime}\x1f{s.symbol}" for s in slots]
    with translated():
        rows = await conn.fetch(_ASSESSMENT_INPUTS, model_name, regime, symbol, keys)
    return [
        SlotEvidence(
            slot=Slot(r["model_name"], r["regime"], r["symbol"]), version=r["version"], since=r["since"],
            training_metrics=r["training_metrics"] or {}, validation_metrics=r["validation_metrics"] or {},
            history=r["history"], state_version=r["state_version"], state_since=r["state_since"],
            last_window_end=r["last_window_end"], revision=int(r["revision"]), new_windows=_totals(r, "w"),
        )
        for r in rows
    ]


async def save_states(conn: asyncpg.Connection | asyncpg.Pool, states: Sequence[SlotState]) -> set[Slot]:
    """Store many slots' assessment state if unchanged since read; returns the slots written."""
    if not states:
        return set()
    payload = [
        {
            "model_name": s.slot.model_name, "regime": s.slot.regime, "symbol": s.slot.symbol,
            "production_version": s.production_version, "production_since": _iso(s.production_since),
            "history": dict(s.history), "last_window_end": _iso(s.last_window_end),
            "last_assessed_at": _iso(s.last_assessed_at), "last_status": s.last_status,
            "last_assessment": None if s.last_assessment is None else dict(s.last_assessment),
            **dict(zip(("n", "n_effective", "test", "statistic", "p_value"), s.evidence_columns())),
            "revision": s.revision + 1,
        }
        for s in states
    ]
    with translated():
        rows = await conn.fetch(_SAVE_STATES, payload)
    return {Slot(r["model_name"], r["regime"], r["symbol"]) for r in rows}


async def read_state(conn: asyncpg.Connection | asyncpg.Pool, slot: Slot) -> Mapping[str, Any] | None:
    """The stored history of a slot (None: no state yet)."""
    with translated():
        return await conn.fetchval(_STATE, slot.model_name, slot.regime, slot.symbol)


async def state_for_update(conn: asyncpg.Connection, slot: Slot) -> Mapping[str, Any] | None:
    """The stored history of a slot, row-locked until the transaction ends (None: no state yet)."""
    with translated():
        row = await conn.fetchrow(_STATE_FOR_UPDATE, slot.model_name, slot.regime, slot.symbol)
    return None if row is None else (row["history"] or {})


async def save_state_locked(conn: asyncpg.Connection, state: SlotState) -> None:
    """Store a slot's state unconditionally (the caller holds the slot lock and the row lock)."""
    s = state
    with translated():
        await conn.execute(
            _SAVE_STATE_LOCKED, s.slot.model_name, s.slot.regime, s.slot.symbol, s.production_version,
            s.production_since, dict(s.history), s.last_window_end, s.last_assessed_at, s.last_status,
            None if s.last_assessment is None else dict(s.last_assessment), *s.evidence_columns(),
        )


async def current_pointer(conn: asyncpg.Connection | asyncpg.Pool, slot: Slot) -> tuple[int, datetime] | None:
    """(version, since) of the slot's production pointer, or None."""
    with translated():
        row = await conn.fetchrow(_POINTER, slot.model_name, slot.regime, slot.symbol)
    return None if row is None else (row["version"], row["since"])


async def candidates(
    conn: asyncpg.Connection | asyncpg.Pool, slot: Slot, *, min_samples: int
) -> list[CandidateRecord]:
    """Every rollback_candidate, archived or failed version of a slot with its track record, newest first."""
    with translated():
        rows = await conn.fetch(_CANDIDATES, slot.model_name, slot.regime, slot.symbol, min_samples)
    return [
        CandidateRecord(
            version=r["version"], status=r["status"], model_artifact_path=r["model_artifact_path"],
            model_size_bytes=r["model_size_bytes"], model_artifact_hash=r["model_artifact_hash"],
            training_metrics=r["training_metrics"] or {}, validation_metrics=r["validation_metrics"] or {},
            quarantine_reason=r["quarantine_reason"],
            recent=_totals(r, "r"), served_production=r["served_production"],
            last_production_end=r["last_production_end"], rolled_back_for_cause_at=r["rolled_back_for_cause_at"],
        )
        for r in rows
    ]


async def shadow_since(
    conn: asyncpg.Connection | asyncpg.Pool, slot: Slot, versions: Sequence[int], since: datetime
) -> dict[int, WindowTotals]:
    """Per version of ``slot``: its shadow windows after ``since``, pooled."""
    if not versions:
        return {}
    with translated():
        rows = await conn.fetch(_SHADOW_SINCE, slot.model_name, slot.regime, slot.symbol,
                                [int(v) for v in versions], since)
    return {r["version"]: _totals(r, "r") for r in rows}


async def version_brief(
    conn: asyncpg.Connection | asyncpg.Pool, model_name: str, version: int
) -> Mapping[str, Any] | None:
    """Slot and status of one version (None: no such version)."""
    with translated():
        row = await conn.fetchrow(_VERSION_BRIEF, model_name, version)
    return None if row is None else dict(row)


async def model_exists(conn: asyncpg.Connection | asyncpg.Pool, model_name: str) -> bool:
    """True when the model is registered."""
    with translated():
        return bool(await conn.fetchval(_MODEL_EXISTS, model_name))

"""Queries of the read-only dashboard (alphaplus/ui): one statement per page, or two where a page
also draws a chart, each a bounded index scan (indexes of 0016_dashboard_indexes.sql).

Pages with many sections (slot, version) get them in one round trip: every section is a subquery
aggregated to JSON, whose timestamps are turned back into datetimes here. Nothing here writes; the
dashboard's pool also starts every transaction read-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Mapping

import asyncpg

from db.errors import translated

# Session settings of the dashboard's connections: every transaction read-only, whatever the login
# may do; no JIT compilation, which costs more (~0.25 s) than the page's short queries take.
SESSION = {"default_transaction_read_only": "on", "jit": "off"}

# Columns whose names changed with the specification's column contract (0009); the queries name
# them only through these.
ARTIFACT_PATH = "model_artifact_path"
ARTIFACT_HASH = "model_artifact_hash"
VERSION_METADATA = "version_metadata"
PARENT_MODEL = "parent_model_name"
PARENT_VERSION = "parent_model_version"
TRAINING_ENVIRONMENT = "training_environment"

# Skill of a live window: accuracy above the majority class of the window's realized outcomes (the
# best constant prediction for that window), from the confusion counts outcome resolution stores;
# a 'skill' number recorded with the window wins.
_SKILL = """CASE WHEN jsonb_typeof(h.metrics -> 'skill') = 'number' THEN (h.metrics ->> 'skill')::float8
     ELSE h.accuracy - greatest((h.metrics ->> 'true_positives')::float8 + (h.metrics ->> 'false_negatives')::float8,
                                (h.metrics ->> 'false_positives')::float8 + (h.metrics ->> 'true_negatives')::float8)
                       / nullif(h.n_samples, 0) END"""

# Pooled quality of many windows: correct outcomes, and the larger class of the realized outcomes.
_POOLED = """
    count(*)::int AS windows, min(h.window_start) AS first_window, max(h.ts) AS last_window,
    coalesce(sum(h.n_samples), 0)::bigint AS n_samples,
    sum(coalesce(h.n_correct, round(h.accuracy * h.n_samples)))::bigint AS n_correct,
    sum((h.metrics ->> 'true_positives')::bigint + (h.metrics ->> 'false_negatives')::bigint)::bigint AS n_up,
    sum((h.metrics ->> 'false_positives')::bigint + (h.metrics ->> 'true_negatives')::bigint)::bigint AS n_down,
    coalesce(sum(h.total_inferences), 0)::bigint AS inferences, coalesce(sum(h.error_count), 0)::bigint AS errors,
    max(h.max_psi) AS max_psi
"""

# --- overview ----------------------------------------------------------------------------------

# Every slot with a version (of the models whose name contains $1), and how many there are.
_SLOTS = """
    SELECT model_name, regime, symbol, count(*) OVER () AS total
    FROM (SELECT DISTINCT model_name, regime, symbol FROM model_versions
          WHERE ($1::text IS NULL OR strpos(lower(model_name), lower($1)) > 0)) d
"""
_SLOT_COUNT = f"SELECT count(*) FROM ({_SLOTS}) s"
# A page of slots (every (model, regime, symbol) with a version), each with its production pointer,
# quarantine, canaries, rollbacks of the last 24 hours, latest assessment and latest live windows.
# Quarantine is inherited from ancestors: the page's production versions' ancestries are walked
# together (and only when anything is quarantined); the reason is worded by the schema's function.
_OVERVIEW = f"""
WITH RECURSIVE slots AS ({_SLOTS} ORDER BY model_name, regime, symbol LIMIT $2 OFFSET $3),
pointed AS (
    SELECT p.* FROM slots s
    JOIN production_slots p ON p.model_name = s.model_name AND p.regime = s.regime AND p.symbol = s.symbol
), ancestry AS (
    SELECT p.model_name AS head_model, p.version AS head, p.model_name, p.version, 0 AS depth FROM pointed p
    WHERE EXISTS (SELECT 1 FROM quarantine)
  UNION ALL
    SELECT a.head_model, a.head, l.{PARENT_MODEL}, l.{PARENT_VERSION}, a.depth + 1
    FROM ancestry a
    JOIN model_versions v ON v.model_name = a.model_name AND v.version = a.version
    JOIN model_lineage l ON l.lineage_id = v.lineage_id
    WHERE l.{PARENT_VERSION} IS NOT NULL AND a.depth < 10000
), quarantined AS (
    SELECT DISTINCT a.head_model, a.head FROM ancestry a
    JOIN model_versions v ON v.model_name = a.model_name AND v.version = a.version
    JOIN model_lineage l ON l.lineage_id = v.lineage_id
    WHERE EXISTS (SELECT 1 FROM quarantine q
                  WHERE q.kind = 'version' AND q.model_name = a.model_name AND q.version = a.version)
       OR EXISTS (SELECT 1 FROM quarantine q
                  WHERE q.kind = 'training_data' AND q.training_data_hash = l.training_data_hash)
)
SELECT s.model_name, s.regime, s.symbol, s.total,
       p.version AS production_version, p.since AS production_since, p.moved_by,
       CASE WHEN qv.head IS NOT NULL THEN alphaplus_quarantine_reason(p.model_name, p.version) END
           AS quarantine_reason,
       c.canaries, r.rollbacks_24h, r.last_rollback_at,
       a.last_status, a.last_assessed_at, a.last_assessment -> 'triggers' AS triggers,
       w.window_ts, w.window_n, w.skill, w.accuracy
FROM slots s
LEFT JOIN pointed p ON p.model_name = s.model_name AND p.regime = s.regime AND p.symbol = s.symbol
LEFT JOIN quarantined qv ON qv.head_model = p.model_name AND qv.head = p.version
LEFT JOIN slot_assessments a ON a.model_name = s.model_name AND a.regime = s.regime AND a.symbol = s.symbol
LEFT JOIN LATERAL (
    SELECT array_agg(v.version ORDER BY v.version) AS canaries FROM model_versions v
    WHERE v.status = 'canary' AND v.model_name = s.model_name AND v.regime = s.regime AND v.symbol = s.symbol
) c ON true
LEFT JOIN LATERAL (
    SELECT count(*)::int AS rollbacks_24h, max(e.event_time) AS last_rollback_at FROM rollback_events e
    WHERE e.model_name = s.model_name AND e.regime = s.regime AND e.symbol = s.symbol
      AND e.event_time > now() - interval '24 hours' AND e.outcome = 'executed'
) r ON true
LEFT JOIN LATERAL (
    -- The latest windows, oldest first: accuracy for the sparkline; time, size and skill of the last.
    SELECT array_agg(x.accuracy ORDER BY x.ts) AS accuracy, max(x.ts) AS window_ts,
           (array_agg(x.n_samples ORDER BY x.ts DESC))[1] AS window_n,
           (array_agg(x.skill ORDER BY x.ts DESC))[1] AS skill
    FROM (SELECT h.ts, h.n_samples, h.accuracy, {_SKILL} AS skill
          FROM model_performance_history h
          WHERE h.model_name = s.model_name AND h.regime = s.regime AND h.symbol = s.symbol
            AND h.source = 'live'
          ORDER BY h.ts DESC LIMIT $4) x
) w ON true
ORDER BY s.model_name, s.regime, s.symbol
"""

# --- slot --------------------------------------------------------------------------------------

_SLOT_WHERE = "model_name = $1 AND regime = $2 AND symbol = $3"
# $4: rows per section, $5: offset into the versions, $6: offset into the gate decisions,
# $7: shadow windows pooled per candidate (newest first).
_SLOT = f"""
SELECT
  EXISTS (SELECT 1 FROM model_versions WHERE {_SLOT_WHERE}) AS known,
  (SELECT to_jsonb(x) FROM (SELECT version, since, moved_by FROM production_slots WHERE {_SLOT_WHERE}) x)
      AS production,
  (SELECT to_jsonb(x) FROM (SELECT production_version, last_status, last_assessed_at, last_assessment
                            FROM slot_assessments WHERE {_SLOT_WHERE}) x) AS assessment,
  (SELECT count(*) FROM model_versions WHERE {_SLOT_WHERE})::int AS version_count,
  (SELECT coalesce(jsonb_agg(x ORDER BY x.created_at DESC, x.version DESC), '[]')
   FROM (SELECT version, status, created_at, promoted_at, deprecated_at, validation_metrics, total_inferences,
                error_count, last_used_timestamp
         FROM model_versions WHERE {_SLOT_WHERE}
         ORDER BY created_at DESC, version DESC LIMIT $4 OFFSET $5) x) AS versions,
  (SELECT coalesce(jsonb_agg(x ORDER BY x.ts DESC, x.id DESC), '[]')
   FROM (SELECT id, ts, from_version, to_version, actor, on_behalf_of, reason, flow_run_id, metadata
         FROM lifecycle_audit WHERE event = 'production_moved' AND {_SLOT_WHERE}
         ORDER BY ts DESC, id DESC LIMIT $4) x) AS moves,
  (SELECT count(*) FROM model_comparison WHERE {_SLOT_WHERE})::int AS comparison_count,
  (SELECT coalesce(jsonb_agg(x ORDER BY x.created_at DESC, x.id DESC), '[]')
   FROM (SELECT id, created_at, challenger_version, champion_version, window_start, window_end, n_samples,
                challenger_metrics, champion_metrics, metric_deltas, test_name, statistic, p_value, decision,
                reasons, flow_run_id, created_by
         FROM model_comparison WHERE {_SLOT_WHERE}
         ORDER BY created_at DESC, id DESC LIMIT $4 OFFSET $6) x) AS comparisons,
  (SELECT coalesce(jsonb_agg(x ORDER BY x.event_time DESC, x.id DESC), '[]')
   FROM (SELECT id, event_time, from_version, to_version, rollback_type, outcome, rollback_reason, triggers,
                degradation, confidence, risk, actor, on_behalf_of, flow_run_id, for_cause
         FROM rollback_events WHERE {_SLOT_WHERE}
         ORDER BY event_time DESC, id DESC LIMIT $4) x) AS rollbacks,
  (SELECT coalesce(jsonb_agg(x ORDER BY x.version DESC), '[]')
   FROM (SELECT h.version, {_POOLED}
         FROM (SELECT * FROM model_performance_history h
               WHERE {_SLOT_WHERE} AND source = 'shadow' ORDER BY ts DESC LIMIT $7) h
         GROUP BY h.version) x) AS shadow
"""
_SLOT_CHART = f"""
SELECT ts, window_start, version, n_samples, accuracy, skill, error_rate, max_psi
FROM (SELECT h.ts, h.window_start, h.version, h.n_samples, h.accuracy, {_SKILL} AS skill, h.error_rate,
             h.max_psi
      FROM model_performance_history h
      WHERE h.model_name = $1 AND h.regime = $2 AND h.symbol = $3 AND h.source = 'live'
      ORDER BY h.ts DESC LIMIT $4) w
ORDER BY ts, version
"""

# --- version -----------------------------------------------------------------------------------

# $1 model, $2 version, $3 rows per section, $4 deepest ancestor shown.
_VERSION = f"""
WITH RECURSIVE chain AS (
    SELECT v.model_name, v.version, l.{PARENT_MODEL} AS parent_model, l.{PARENT_VERSION} AS parent_version,
           0 AS depth, ARRAY[v.model_name || chr(31) || v.version] AS path
    FROM model_versions v JOIN model_lineage l ON l.lineage_id = v.lineage_id
    WHERE v.model_name = $1 AND v.version = $2
  UNION ALL
    SELECT v.model_name, v.version, l.{PARENT_MODEL}, l.{PARENT_VERSION}, c.depth + 1,
           c.path || (v.model_name || chr(31) || v.version)
    FROM chain c
    JOIN model_versions v ON v.model_name = c.parent_model AND v.version = c.parent_version
    JOIN model_lineage l ON l.lineage_id = v.lineage_id
    WHERE NOT (v.model_name || chr(31) || v.version) = ANY(c.path) AND c.depth < $4
)
SELECT v.model_name, v.version, v.regime, v.symbol, v.status, v.created_at, v.updated_at, v.promoted_at,
       v.deprecated_at, v.{ARTIFACT_PATH} AS artifact_path, v.model_size_bytes AS artifact_size,
       v.{ARTIFACT_HASH} AS artifact_hash, v.training_metrics, v.validation_metrics,
       v.{VERSION_METADATA} AS version_metadata, v.model_artifact_size_mb, v.performance_metrics, v.drift_metrics,
       v.rollback_metrics, v.deployment_timestamp, v.usage_count, v.total_inferences, v.error_count,
       v.avg_inference_time_ms, v.last_used_timestamp,
       l.{PARENT_MODEL} AS parent_model, l.{PARENT_VERSION} AS parent_version, l.training_data_hash,
       l.feature_set_hash, l.hyperparameters_hash, l.training_samples, l.validation_samples, l.lineage_metadata,
       l.lineage_key, l.timeframe, l.training_data_start, l.training_data_end, l.n_samples, l.n_features,
       l.hyperparameters, l.training_config, l.{TRAINING_ENVIRONMENT} AS training_environment,
       l.training_duration_seconds, l.flow_run_id, l.created_by,
       alphaplus_quarantine_reason(v.model_name, v.version) AS quarantine_reason,
       (SELECT version FROM production_slots p
        WHERE p.model_name = v.model_name AND p.regime = v.regime AND p.symbol = v.symbol) AS serving_version,
       (SELECT coalesce(jsonb_agg(x ORDER BY x.created_at), '[]')
        FROM (SELECT kind, training_data_hash, version, reason, created_by, created_at FROM quarantine q
              WHERE (q.kind = 'version' AND q.model_name = v.model_name AND q.version = v.version)
                 OR (q.kind = 'training_data' AND q.training_data_hash = l.training_data_hash)) x) AS quarantines,
       (SELECT coalesce(jsonb_agg(x ORDER BY x.depth), '[]')
        FROM (SELECT c.depth, c.model_name, c.version, c.parent_version, a.status,
                     alphaplus_quarantine_reason(c.model_name, c.version) AS quarantine_reason
              FROM chain c JOIN model_versions a ON a.model_name = c.model_name AND a.version = c.version
              WHERE c.depth > 0) x) AS ancestors,
       (SELECT coalesce(jsonb_agg(x ORDER BY x.model_name, x.version), '[]')
        FROM (SELECT k.model_name, k.version, k.status, k.regime, k.symbol
              FROM model_lineage cl JOIN model_versions k ON k.lineage_id = cl.lineage_id
              WHERE cl.{PARENT_MODEL} = v.model_name AND cl.{PARENT_VERSION} = v.version
              ORDER BY k.model_name, k.version LIMIT $3) x) AS children,
       (SELECT coalesce(jsonb_agg(x ORDER BY x.model_name, x.version), '[]')
        FROM (SELECT k.model_name, k.version, k.status, k.regime, k.symbol
              FROM model_lineage sl JOIN model_versions k ON k.lineage_id = sl.lineage_id
              WHERE sl.training_data_hash = l.training_data_hash AND sl.lineage_id <> l.lineage_id
              ORDER BY k.model_name, k.version LIMIT $3) x) AS same_data,
       (SELECT to_jsonb(x) FROM (SELECT {_POOLED} FROM model_performance_history h
                                 WHERE h.model_name = v.model_name AND h.version = v.version
                                   AND h.source = 'live') x) AS live,
       (SELECT to_jsonb(x) FROM (SELECT {_POOLED} FROM model_performance_history h
                                 WHERE h.model_name = v.model_name AND h.version = v.version
                                   AND h.source = 'shadow') x) AS shadow,
       (SELECT coalesce(jsonb_agg(x ORDER BY x.created_at DESC, x.id DESC), '[]')
        FROM (SELECT id, created_at, challenger_version, champion_version, n_samples, test_name, p_value,
                     decision, reasons, metric_deltas
              FROM model_comparison m
              WHERE m.model_name = v.model_name AND m.regime = v.regime AND m.symbol = v.symbol
                AND (m.challenger_version = v.version OR m.champion_version = v.version)
              ORDER BY created_at DESC, id DESC LIMIT $3) x) AS comparisons,
       (SELECT to_jsonb(x) FROM (SELECT m.challenger_metrics AS metrics, m.n_samples, m.window_start,
                                        m.window_end, m.created_at
              FROM model_comparison m
              WHERE m.model_name = v.model_name AND m.challenger_version = v.version
              ORDER BY created_at DESC, id DESC LIMIT 1) x) AS gate,
       (SELECT coalesce(jsonb_agg(x ORDER BY x.ts DESC, x.id DESC), '[]')
        FROM (SELECT id, ts, event, from_status, to_status, from_version, to_version, actor, on_behalf_of,
                     reason, flow_run_id
              FROM lifecycle_audit a
              WHERE a.model_name = v.model_name AND a.version = v.version
              ORDER BY ts DESC, id DESC LIMIT $3) x) AS events
FROM model_versions v JOIN model_lineage l ON l.lineage_id = v.lineage_id
WHERE v.model_name = $1 AND v.version = $2
"""

# --- rollbacks and audit: filtered, newest first, a (time, id) cursor ----------------------------

_ROLLBACKS = """
SELECT id, event_time AS ts, model_name, regime, symbol, from_version, to_version, rollback_type, outcome,
       rollback_reason, triggers, metrics_snapshot, degradation, confidence, risk, actor, on_behalf_of,
       flow_run_id, for_cause
FROM rollback_events
WHERE ($1::text IS NULL OR model_name = $1) AND ($2::text IS NULL OR regime = $2)
  AND ($3::text IS NULL OR symbol = $3) AND ($4::text IS NULL OR rollback_type = $4)
  AND ($5::text IS NULL OR outcome = $5)
  AND ($6::timestamptz IS NULL OR (event_time, id) {op} ($6, $7))
ORDER BY event_time {order}, id {order}
LIMIT $8
"""
_AUDIT = """
SELECT id, ts, event, model_name, regime, symbol, version, from_status, to_status, from_version, to_version,
       actor, on_behalf_of, reason, flow_run_id, metadata
FROM lifecycle_audit
WHERE ($1::text IS NULL OR model_name = $1) AND ($2::text IS NULL OR regime = $2)
  AND ($3::text IS NULL OR symbol = $3)
  AND ($4::int IS NULL OR version = $4 OR from_version = $4 OR to_version = $4)
  AND ($5::text IS NULL OR event = $5) AND ($6::text IS NULL OR actor = $6)
  AND ($7::timestamptz IS NULL OR (ts, id) {op} ($7, $8))
ORDER BY ts {order}, id {order}
LIMIT $9
"""


def _both_ways(sql: str) -> dict[bool, str]:
    """The statement reading older rows (newest first) and newer rows (oldest first), by ``newer``:
    two plain ORDER BYs, so either direction is one index scan."""
    return {False: sql.format(op="<", order="DESC"), True: sql.format(op=">", order="ASC")}


_ROLLBACKS_BY_DIRECTION = _both_ways(_ROLLBACKS)
_AUDIT_BY_DIRECTION = _both_ways(_AUDIT)


@dataclass(frozen=True)
class Cursor:
    """A position in a newest-first list: rows older than (ts, id), or newer when ``newer``."""

    ts: datetime
    id: int
    newer: bool = False


# Keys of JSON sections that hold timestamps (to_jsonb writes them as ISO 8601 text).
_TIME_KEYS = frozenset({
    "since", "last_assessed_at", "created_at", "promoted_at", "deprecated_at", "last_used_timestamp", "ts",
    "window_start", "window_end", "event_time", "first_window", "last_window", "assessed_at",
})


def _with_times(value: Any) -> Any:
    """A JSON section with its timestamp strings parsed (objects, and lists of objects)."""
    if isinstance(value, list):
        return [_with_times(v) for v in value]
    if isinstance(value, dict):
        return {k: (datetime.fromisoformat(v) if k in _TIME_KEYS and isinstance(v, str) else v)
                for k, v in value.items()}
    return value


def _record(row: asyncpg.Record | None, sections: Iterable[str]) -> dict[str, Any] | None:
    if row is None:
        return None
    out = dict(row)
    for key in sections:
        out[key] = _with_times(out[key])
    return out


async def overview(
    pool: asyncpg.Pool, *, model_filter: str | None, limit: int, offset: int, windows: int
) -> tuple[int, list[dict[str, Any]]]:
    """(slots whose model matches the filter, one page of them with what the grid shows)."""
    with translated():
        async with pool.acquire() as conn:
            rows = await conn.fetch(_OVERVIEW, model_filter, limit, offset, windows)
            # Past the last page the page is empty and does not carry the count.
            total = rows[0]["total"] if rows else await conn.fetchval(_SLOT_COUNT, model_filter)
    return total, [dict(r) for r in rows]


async def slot_page(
    pool: asyncpg.Pool, model_name: str, regime: str, symbol: str, *, limit: int, versions_offset: int,
    comparisons_offset: int, chart_windows: int, shadow_windows: int,
) -> dict[str, Any] | None:
    """Everything the slot page shows, or None when the slot has no version."""
    with translated():
        async with pool.acquire() as conn:
            row = await conn.fetchrow(_SLOT, model_name, regime, symbol, limit, versions_offset, comparisons_offset,
                                      shadow_windows)
            if not row["known"]:
                return None
            chart = await conn.fetch(_SLOT_CHART, model_name, regime, symbol, chart_windows)
    page = _record(row, ("production", "assessment", "versions", "moves", "comparisons", "rollbacks", "shadow"))
    page["chart"] = [dict(r) for r in chart]
    return page


async def version_page(pool: asyncpg.Pool, model_name: str, version: int, *, limit: int,
                       max_depth: int) -> dict[str, Any] | None:
    """Everything the version page shows, or None when the version does not exist."""
    with translated():
        row = await pool.fetchrow(_VERSION, model_name, version, limit, max_depth)
    return _record(row, ("quarantines", "ancestors", "children", "same_data", "live", "shadow", "comparisons",
                         "gate", "events", "performance_metrics", "drift_metrics", "rollback_metrics"))


def _cursor_args(cursor: Cursor | None) -> tuple[datetime | None, int | None]:
    return (None, None) if cursor is None else (cursor.ts, cursor.id)


def _newer(cursor: Cursor | None) -> bool:
    return cursor is not None and cursor.newer


def _newest_first(rows: list[asyncpg.Record], cursor: Cursor | None) -> list[dict[str, Any]]:
    out = [dict(r) for r in rows]
    return out[::-1] if _newer(cursor) else out


async def rollback_events(pool: asyncpg.Pool, filters: Mapping[str, Any], cursor: Cursor | None,
                          limit: int) -> list[dict[str, Any]]:
    """Rollback events matching ``filters`` (model_name, regime, symbol, rollback_type, outcome), newest
    first: ``limit`` of them on the cursor's side."""
    f = filters
    with translated():
        rows = await pool.fetch(_ROLLBACKS_BY_DIRECTION[_newer(cursor)], f.get("model_name"), f.get("regime"),
                                f.get("symbol"), f.get("rollback_type"), f.get("outcome"), *_cursor_args(cursor),
                                limit)
    return _newest_first(rows, cursor)


async def audit_events(pool: asyncpg.Pool, filters: Mapping[str, Any], cursor: Cursor | None,
                       limit: int) -> list[dict[str, Any]]:
    """Audit rows matching ``filters`` (model_name, regime, symbol, version, event, actor), newest first."""
    f = filters
    with translated():
        rows = await pool.fetch(_AUDIT_BY_DIRECTION[_newer(cursor)], f.get("model_name"), f.get("regime"),
                                f.get("symbol"), f.get("version"), f.get("event"), f.get("actor"),
                                *_cursor_args(cursor), limit)
    return _newest_first(rows, cursor)


async def login_facts(pool: asyncpg.Pool) -> dict[str, Any]:
    """Who the dashboard connects as, and whether that login could change the registry."""
    with translated():
        row = await pool.fetchrow(
            "SELECT session_user AS login, current_database() AS database, "
            "CASE WHEN to_regrole('alphaplus_trainer') IS NULL THEN NULL "
            "ELSE pg_has_role(session_user, 'alphaplus_trainer', 'USAGE') END AS can_write, "
            "current_setting('default_transaction_read_only') = 'on' AS read_only"
        )
    return dict(row)

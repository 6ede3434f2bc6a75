"""Catalog queries for operators: models with their version counts and slots, lineage chains, slots.

Read-only; the registry repository (db/registry.py) owns every write.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from db.errors import translated

_MODELS = """
SELECT m.model_name, m.model_type, m.description, m.latest_version, m.created_at, m.updated_at,
       coalesce(c.versions, 0)::int AS versions, coalesce(c.by_status, '{}'::jsonb) AS by_status,
       coalesce(p.production, '[]'::jsonb) AS production
FROM ml_models m
LEFT JOIN LATERAL (
    SELECT sum(n) AS versions, jsonb_object_agg(status, n) AS by_status
    FROM (SELECT v.status, count(*)::int AS n FROM model_versions v
          WHERE v.model_name = m.model_name GROUP BY v.status) s
) c ON true
LEFT JOIN LATERAL (
    SELECT jsonb_agg(jsonb_build_object('regime', ps.regime, 'symbol', ps.symbol, 'version', ps.version,
                                        'since', ps.since, 'moved_by', ps.moved_by)
                     ORDER BY ps.regime, ps.symbol) AS production
    FROM production_slots ps WHERE ps.model_name = m.model_name
) p ON true
WHERE ($1::text IS NULL OR m.model_name = $1)
ORDER BY m.model_name
"""
# The version and its ancestors, child first. The path array stops a (corrupt) cycle of parents.
_LINEAGE_CHAIN = """
WITH RECURSIVE chain AS (
    SELECT v.model_name, v.version, l.parent_model_name, l.parent_model_version, 0 AS depth,
           ARRAY[v.model_name || chr(31) || v.version] AS path
    FROM model_versions v JOIN model_lineage l ON l.lineage_id = v.lineage_id
    WHERE v.model_name = $1 AND v.version = $2
  UNION ALL
    SELECT v.model_name, v.version, l.parent_model_name, l.parent_model_version, c.depth + 1,
           c.path || (v.model_name || chr(31) || v.version)
    FROM chain c
    JOIN model_versions v ON v.model_name = c.parent_model_name AND v.version = c.parent_model_version
    JOIN model_lineage l ON l.lineage_id = v.lineage_id
    WHERE NOT (v.model_name || chr(31) || v.version) = ANY(c.path)
)
SELECT c.depth, v.model_name, v.version, v.status, v.regime, v.symbol, v.created_at, v.model_artifact_hash,
       l.parent_model_name, l.parent_model_version, l.training_data_hash, l.feature_set_hash,
       l.hyperparameters_hash, l.lineage_key, l.timeframe, l.training_data_start, l.training_data_end,
       l.n_samples, l.training_samples, l.validation_samples, l.n_features, l.hyperparameters,
       l.training_config, l.training_environment, l.training_duration_seconds, l.lineage_metadata,
       l.flow_run_id, l.created_by, alphaplus_quarantine_reason(v.model_name, v.version) AS quarantine_reason
FROM chain c
JOIN model_versions v ON v.model_name = c.model_name AND v.version = c.version
JOIN model_lineage l ON l.lineage_id = v.lineage_id
ORDER BY c.depth
"""
_VERSIONS_TRAINED_ON = """
SELECT v.model_name, v.version FROM model_lineage l JOIN model_versions v ON v.lineage_id = l.lineage_id
WHERE l.training_data_hash = $1 ORDER BY v.model_name, v.version
"""


async def list_models(pool: asyncpg.Pool, *, model_name: str | None = None) -> list[dict[str, Any]]:
    """Every model (or one) with its version count, counts per status and production slots."""
    with translated():
        rows = await pool.fetch(_MODELS, model_name)
    return [dict(r) for r in rows]


async def lineage_chain(pool: asyncpg.Pool, model_name: str, version: int) -> list[dict[str, Any]]:
    """A version's lineage then its parent's, up to the root; empty when the version does not exist."""
    with translated():
        rows = await pool.fetch(_LINEAGE_CHAIN, model_name, version)
    return [dict(r) for r in rows]


async def versions_trained_on(pool: asyncpg.Pool, training_data_hash: str) -> list[tuple[str, int]]:
    """(model_name, version) of every version trained on the data with this hash."""
    with translated():
        rows = await pool.fetch(_VERSIONS_TRAINED_ON, training_data_hash)
    return [(r["model_name"], r["version"]) for r in rows]

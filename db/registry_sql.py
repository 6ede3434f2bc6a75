"""The SQL text of the registry repository (db.registry): versions, lineage, the production pointer,
quarantine reasons, usage and audit."""

VERSION_COLUMNS = """
    v.model_name, v.version, v.regime, v.symbol, v.status, v.lineage_id, v.model_artifact_path,
    v.model_size_bytes, v.model_artifact_size_mb, v.model_artifact_hash, v.training_metrics,
    v.validation_metrics, v.version_metadata, v.created_at, v.updated_at, v.promoted_at, v.deprecated_at,
    v.usage_count, v.total_inferences, v.error_count, v.avg_inference_time_ms, v.last_used_timestamp,
    v.performance_metrics, v.drift_metrics, v.rollback_metrics, v.deployment_timestamp
"""

SET_CONTEXT = """
SELECT set_config('alphaplus.reason', $1, true), set_config('alphaplus.on_behalf_of', $2, true),
       set_config('alphaplus.flow_run_id', $3, true), set_config('alphaplus.metadata', $4, true)
"""
# One lock per slot for every pointer move and status change: serialises promotions and rollbacks of
# a slot while leaving other slots free. A row lock on slot_locks (created on first use), held until
# the transaction ends, so a crash releases it. Taking it needs UPDATE on slot_locks, which readers
# lack (an advisory lock anyone could take, and hold, to block a rollback).
LOCK_SLOT = """
INSERT INTO slot_locks AS l (model_name, regime, symbol) VALUES ($1, $2, $3)
ON CONFLICT (model_name, regime, symbol) DO UPDATE SET model_name = l.model_name
"""

ENSURE_MODEL = "INSERT INTO ml_models (model_name) VALUES ($1) ON CONFLICT (model_name) DO NOTHING"
LOCK_MODEL = "SELECT latest_version FROM ml_models WHERE model_name = $1 FOR UPDATE"
NEXT_VERSION = """
UPDATE ml_models SET latest_version = latest_version + 1, updated_at = now()
WHERE model_name = $1 RETURNING latest_version
"""
FIND_BY_LINEAGE_KEY = f"""
SELECT {VERSION_COLUMNS} FROM model_versions v JOIN model_lineage l ON l.lineage_id = v.lineage_id
WHERE l.model_name = $1 AND l.regime = $2 AND l.symbol = $3 AND l.lineage_key = $4
"""
# The lineage names its version; the version row (inserted next, same transaction) names the lineage.
# A parent given by version alone is a version of the same model.
INSERT_LINEAGE = """
INSERT INTO model_lineage (model_name, model_version, regime, symbol, parent_model_name, parent_model_version,
    training_data_hash, feature_set_hash, hyperparameters_hash, lineage_key, timeframe, training_data_start,
    training_data_end, n_samples, training_samples, validation_samples, n_features, feature_set,
    hyperparameters, training_config, training_environment, training_duration_seconds, lineage_metadata,
    flow_run_id)
VALUES ($1, $2, $3, $4, CASE WHEN $6::int IS NOT NULL THEN coalesce($5, $1) END, $6, $7, $8, $9, $10, $11, $12,
        $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)
RETURNING lineage_id
"""
INSERT_VERSION = f"""
INSERT INTO model_versions AS v (model_name, version, regime, symbol, lineage_id, model_artifact_path,
    model_size_bytes, model_artifact_hash, training_metrics, validation_metrics, version_metadata)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
RETURNING {VERSION_COLUMNS}
"""
GET_VERSION = f"SELECT {VERSION_COLUMNS} FROM model_versions v WHERE v.model_name = $1 AND v.version = $2"
GET_VERSION_FOR_UPDATE = GET_VERSION + " FOR UPDATE"
GET_LINEAGE = """
SELECT l.* FROM model_lineage l JOIN model_versions v ON v.lineage_id = l.lineage_id
WHERE v.model_name = $1 AND v.version = $2
"""
GET_PRODUCTION = f"""
SELECT {VERSION_COLUMNS} FROM production_slots p
JOIN model_versions v ON v.model_name = p.model_name AND v.version = p.version
WHERE p.model_name = $1 AND p.regime = $2 AND p.symbol = $3
"""
ALL_PRODUCTION = f"""
SELECT {VERSION_COLUMNS} FROM production_slots p
JOIN model_versions v ON v.model_name = p.model_name AND v.version = p.version
WHERE ($1::text IS NULL OR p.model_name = $1)
ORDER BY p.model_name, p.regime, p.symbol
"""
CURRENT_POINTER = "SELECT version FROM production_slots WHERE model_name = $1 AND regime = $2 AND symbol = $3"
SET_STATUS = "UPDATE model_versions SET status = $3 WHERE model_name = $1 AND version = $2"
UPSERT_POINTER = """
INSERT INTO production_slots AS p (model_name, regime, symbol, version)
VALUES ($1, $2, $3, $4)
ON CONFLICT (model_name, regime, symbol)
DO UPDATE SET version = EXCLUDED.version, since = clock_timestamp(), moved_by = session_user
RETURNING p.since
"""
DELETE_POINTER = """
DELETE FROM production_slots WHERE model_name = $1 AND regime = $2 AND symbol = $3 AND version = $4
"""
LIST_VERSIONS = f"""
SELECT {VERSION_COLUMNS} FROM model_versions v
WHERE ($1::text IS NULL OR v.model_name = $1) AND ($2::text IS NULL OR v.regime = $2)
  AND ($3::text IS NULL OR v.symbol = $3) AND ($4::text IS NULL OR v.status = $4)
ORDER BY v.model_name, v.version DESC
LIMIT $5
"""
PRODUCTION_AT = """
SELECT to_version FROM lifecycle_audit
WHERE event = 'production_moved' AND model_name = $1 AND regime = $2 AND symbol = $3 AND ts <= $4
ORDER BY ts DESC, id DESC
LIMIT 1
"""
POINTER_MOVES = """
SELECT ts, to_version, actor, reason FROM lifecycle_audit
WHERE event = 'production_moved' AND model_name = $1 AND regime = $2 AND symbol = $3
ORDER BY ts, id
"""
AUDIT = """
SELECT id, ts, event, model_name, regime, symbol, version, from_status, to_status, from_version,
       to_version, actor, on_behalf_of, reason, flow_run_id, metadata
FROM lifecycle_audit
WHERE model_name = $1 AND ($2::text IS NULL OR regime = $2) AND ($3::text IS NULL OR symbol = $3)
  AND ($4::int IS NULL OR version = $4 OR to_version = $4 OR from_version = $4)
ORDER BY ts, id
"""
QUARANTINE_REASON = "SELECT alphaplus_quarantine_reason($1, $2)"
LATEST_VERSION = "SELECT latest_version FROM ml_models WHERE model_name = $1"
MODEL_SLOTS = "SELECT DISTINCT regime, symbol FROM model_versions WHERE model_name = $1 ORDER BY regime, symbol"
ARTIFACT_PATHS = "SELECT DISTINCT model_artifact_path FROM model_versions"
# Batched usage: one statement for many versions; the running mean is kept exact.
RECORD_USAGE = """
UPDATE model_versions v SET
    usage_count = v.usage_count + u.n,
    total_inferences = v.total_inferences + u.n,
    error_count = v.error_count + u.errors,
    avg_inference_time_ms = (v.avg_inference_time_ms * v.total_inferences + u.latency_sum_ms)
                            / nullif(v.total_inferences + u.n, 0),
    last_used_timestamp = greatest(v.last_used_timestamp, u.last_used)
FROM unnest($1::text[], $2::int[], $3::bigint[], $4::bigint[], $5::float8[], $6::timestamptz[])
     AS u(model_name, version, n, errors, latency_sum_ms, last_used)
WHERE v.model_name = u.model_name AND v.version = u.version AND u.n > 0
"""
# A slot's versions in the given statuses, most recently promoted (or changed) first: shadow scoring.
SHADOW_VERSIONS = """
SELECT version FROM model_versions
WHERE model_name = $1 AND regime = $2 AND symbol = $3 AND status = ANY($4::text[])
ORDER BY coalesce(promoted_at, updated_at) DESC, version DESC
LIMIT $5
"""

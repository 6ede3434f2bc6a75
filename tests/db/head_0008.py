"""A database at migration 0008 (before the column contract), filled the way the system filled it then:
four versions with lineage, promotions, a rollback with its event, slot assessments, live and shadow
performance windows (one resolved late), usage, a comparison, a quarantine, inference events and a
training job. The SQL uses the column names of that schema."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import asyncpg

from db.migrate import MIGRATIONS_DIR, migrate

HEAD = "0008_inference_write_path.sql"
T0 = datetime(2025, 3, 3, tzinfo=timezone.utc)
SLOT = ("trending", "BTCUSDT")
OTHER_SLOT = ("ranging", "ETHUSDT")
# version -> (slot, parent, size in bytes, metadata)
VERSIONS = {
    1: (SLOT, None, 2_500_000, {"split_sizes": [600, 200, 180], "feature_names": ["ret_1", "vol"]}),
    2: (SLOT, 1, 2_600_000, {"split_sizes": [640, 210, 190], "feature_names": ["ret_1", "vol"]}),
    3: (SLOT, 2, 900, {"feature_names": ["ret_1", "vol"]}),
    4: (OTHER_SLOT, None, 52_428_800, {"split_sizes": "not a list"}),
}


async def migrate_to_head_0008(conn: asyncpg.Connection, folder: Path) -> None:
    """Apply the migrations up to and including 0008 (copies of the released files)."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        if path.name <= HEAD:
            shutil.copy(path, folder / path.name)
    await migrate(conn, folder)


async def _move(conn: asyncpg.Connection, model: str, slot: tuple[str, str], changes: list[tuple[int, str]],
                to_version: int, reason: str) -> None:
    async with conn.transaction():
        await conn.execute("SELECT set_config('alphaplus.reason', $1, true)", reason)
        for version, status in changes:
            await conn.execute("UPDATE model_versions SET status = $3 WHERE model_name = $1 AND version = $2",
                               model, version, status)
        await conn.execute(
            """INSERT INTO production_slots AS p (model_name, regime, symbol, version) VALUES ($1, $2, $3, $4)
               ON CONFLICT (model_name, regime, symbol)
               DO UPDATE SET version = EXCLUDED.version, since = clock_timestamp()""",
            model, *slot, to_version)


async def _history(conn: asyncpg.Connection, model: str, version: int, slot: tuple[str, str], source: str,
                   hour: int, accuracy: float, drift: dict, max_psi: float | None, worst: str | None) -> None:
    await conn.execute(
        """INSERT INTO model_performance_history (ts, window_start, model_name, version, regime, symbol, source,
               n_samples, n_correct, accuracy, f1, precision, recall, total_inferences, error_count, error_rate,
               latency_p50_ms, latency_p95_ms, latency_p99_ms, drift_metrics, max_psi, metrics)
           VALUES ($1, $2, $3, $4, $5, $6, $7, 500, $8, $9, 0.5, 0.55, 0.45, 505, 5, 5 / 505.0, 1.5, 3.0, 4.5,
                   $10, $11, $12)""",
        T0 + timedelta(hours=hour + 1), T0 + timedelta(hours=hour), model, version, *slot, source,
        round(accuracy * 500), accuracy, drift, max_psi, {"max_psi_feature": worst, "true_positives": 120})


async def fill(conn: asyncpg.Connection, model: str) -> None:
    """Everything a running system of that time would have written for ``model``."""
    await conn.execute("INSERT INTO ml_models (model_name, latest_version) VALUES ($1, $2)", model, len(VERSIONS))
    for version, (slot, parent, size, metadata) in VERSIONS.items():
        async with conn.transaction():
            lineage = await conn.fetchval(
                """INSERT INTO model_lineage (model_name, regime, symbol, parent_version, training_data_hash,
                       feature_set_hash, hyperparameters_hash, lineage_key, timeframe, n_samples, n_features,
                       environment, training_duration_seconds)
                   VALUES ($1, $2, $3, $4, $5, 'sha256:f', 'sha256:h', $6, '1h', 1000, 2, $7, 1.25)
                   RETURNING lineage_id""",
                model, *slot, parent, f"xxh3_128:{model}-data{version}", f"sha256:key{version}",
                {"python": "3.12.3", "packages": {"lightgbm": "4.5.0"}})
            await conn.execute(
                """INSERT INTO model_versions (model_name, version, regime, symbol, lineage_id, model_path,
                       model_size_bytes, model_hash, training_metrics, validation_metrics, metadata)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '{"train": {"f1": 0.7}}', '{"f1": 0.6, "accuracy": 0.58}',
                           $9)""",
                model, version, *slot, lineage, f"ab/{version:02d}.joblib", size, f"{version:x}" * 64, metadata)
    await _move(conn, model, SLOT, [(1, "production")], 1, "first promotion")
    await _move(conn, model, SLOT, [(1, "rollback_candidate"), (2, "production")], 2, "promoted v2")
    await _move(conn, model, SLOT, [(2, "failed"), (1, "production")], 1, "rollback (automatic): accuracy fell")
    await _move(conn, model, OTHER_SLOT, [(4, "production")], 4, "first promotion")
    await conn.execute(
        """INSERT INTO rollback_events (model_name, regime, symbol, from_version, to_version, rollback_type,
               rollback_reason, triggers, metrics_snapshot, degradation, confidence, risk, for_cause)
           VALUES ($1, $2, $3, 2, 1, 'automatic', 'accuracy fell', '["performance"]',
                   '{"risk_score": 0.91, "assessment": {"risk": 0.91}}', 0.21, 0.97, 'high', true)""",
        model, *SLOT)
    assessment = {"status": "healthy", "triggers": [], "severity": "none", "confidence": 0.12, "risk": 0.0,
                  "degradation": 0.01, "reasons": ["accuracy 0.590 within 5% of the validation baseline"]}
    await conn.execute(
        """INSERT INTO slot_assessments (model_name, regime, symbol, production_version, production_since, history,
               last_window_end, last_assessed_at, last_status, last_assessment, revision)
           VALUES ($1, $2, $3, 1, now(), '{}', $4, $4, 'healthy', $5, 3),
                  ($1, $6, $7, 4, now(), '{}', $4, $4, 'rollback', $8, 1)""",
        model, *SLOT, T0 + timedelta(hours=5), assessment, *OTHER_SLOT,
        {**assessment, "status": "rollback", "triggers": ["error_rate"]})
    drift = {"ret_1": {"value": 0.31, "n": 500, "n_missing": 0}, "vol": {"value": None, "n": 20, "n_missing": 0,
                                                                       "reason": "too few values"}}
    await _history(conn, model, 1, SLOT, "live", 0, 0.60, {}, None, None)
    await _history(conn, model, 1, SLOT, "live", 4, 0.59, drift, 0.31, "ret_1")
    await _history(conn, model, 1, SLOT, "live", 2, 0.61, {}, None, None)  # resolved late
    await _history(conn, model, 1, SLOT, "shadow", 6, 0.20, {}, None, None)
    await _history(conn, model, 2, SLOT, "live", 1, 0.40, {"ret_1": {"value": 0.02, "n": 500}}, 0.02, "ret_1")
    await _history(conn, model, 3, SLOT, "shadow", 3, 0.55, {}, None, None)
    await _history(conn, model, 1, SLOT, "validation", 9, 0.58, {}, None, None)
    await conn.execute(
        """UPDATE model_versions SET usage_count = 40, total_inferences = 40, error_count = 2,
               avg_inference_time_ms = 1.75, last_used_timestamp = $2
           WHERE model_name = $1 AND version = 1""", model, T0 + timedelta(hours=7))
    await conn.execute(
        """INSERT INTO model_comparison (model_name, regime, symbol, challenger_version, champion_version, n_samples,
               decision, reasons) VALUES ($1, $2, $3, 2, 1, 300, 'promote', '["better"]')""", model, *SLOT)
    await conn.execute(
        "INSERT INTO quarantine (kind, training_data_hash, reason) VALUES ('training_data', $1, 'bad ticks')",
        f"xxh3_128:{model}-data2")
    await conn.execute(
        """INSERT INTO inference_events (ts, bar_ts, model_name, version, regime, symbol, success, latency_ms,
               prediction, probability, features)
           VALUES ($1, $1, $2, 1, $3, $4, true, 1.5, 1, 0.7, '{0.1, 0.2}')""",
        T0 + timedelta(hours=1), model, *SLOT)
    await conn.execute(
        """INSERT INTO ml_training_jobs (model_name, regime, symbol, status, version, finished_at, metadata)
           VALUES ($1, $2, $3, 'succeeded', 2, now(), '{"rows": 1000}')""", model, *SLOT)


async def snapshot(conn: asyncpg.Connection) -> dict[str, list[dict]]:
    """Every row of every table (as JSON objects), sorted: what an upgrade must keep."""
    tables = [r["table_name"] for r in await conn.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
        "AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations' ORDER BY table_name")]
    out = {}
    for table in tables:
        rows = await conn.fetch(f"SELECT to_jsonb(t)::text AS row FROM {table} t")
        out[table] = sorted((json.loads(r["row"]) for r in rows), key=lambda d: json.dumps(d, sort_keys=True))
    return out

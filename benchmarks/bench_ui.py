"""Benchmark of the dashboard: server time per page on a big registry.

A private database on the server (ALPHAPLUS_DATABASE_URL, else the embedded cluster) is seeded in
bulk with generate_series: 100 models x 10 slots x 10 versions (10,000 versions, each with lineage
and a parent), 1,000,000 performance-history rows (100 windows per version: 80 live, 20 shadow),
~120,000 audit rows, 5,000 rollback events, 10,000 gate decisions. Each page is then requested
in-process (httpx over ASGI: routing, queries, templates and SVG, no network) and its time taken.
The database is dropped at the end.

    .venv/bin/python -m benchmarks.bench_ui [--quick]
"""

from __future__ import annotations

import asyncio
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import percentile, private_database, row

TARGET_MS = 200.0
MODELS = 100
SLOTS_PER_MODEL = 10  # 2 regimes x 5 symbols
VERSIONS_PER_SLOT = 10
WINDOWS_PER_VERSION = 100  # 80 live + 20 shadow
REPEATS = 25
REGIMES = ("trending", "ranging")
SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "ADAUSDT")

# Models, then one lineage per version (parent: the slot's previous version), then the versions.
# Version v of a model: slot (v - 1) / VERSIONS_PER_SLOT, k = (v - 1) % VERSIONS_PER_SLOT + 1.
_SEED_VERSIONS = """
INSERT INTO ml_models (model_name, latest_version)
SELECT 'bench_model_' || lpad(m::text, 3, '0'), $2 * $3 FROM generate_series(1, $1) m;
INSERT INTO model_lineage (model_name, model_version, regime, symbol, parent_model_name, parent_model_version,
                           training_data_hash, feature_set_hash, hyperparameters_hash, lineage_key, timeframe,
                           n_samples, n_features, training_data_start, training_data_end)
SELECT 'bench_model_' || lpad(m::text, 3, '0'), s * $3 + k, (ARRAY['trending', 'ranging'])[s % 2 + 1],
       (ARRAY['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'XRPUSDT', 'ADAUSDT'])[s / 2 + 1],
       CASE WHEN k > 1 THEN 'bench_model_' || lpad(m::text, 3, '0') END, CASE WHEN k > 1 THEN s * $3 + k - 1 END,
       'xxh3_128:' || md5(m || '-' || s || '-' || (k + 1) / 2), 'sha256:f', 'sha256:h', 'sha256:' || s * $3 + k,
       '1h', 20000, 24, now() - interval '400 days', now() - (11 - k) * interval '30 days'
FROM generate_series(1, $1) m, generate_series(0, $2 - 1) s, generate_series(1, $3) k;
INSERT INTO model_versions (model_name, version, regime, symbol, lineage_id, model_artifact_path, model_size_bytes,
                            model_artifact_hash, training_metrics, validation_metrics, version_metadata,
                            total_inferences, error_count, avg_inference_time_ms)
SELECT l.model_name, l.model_version, l.regime, l.symbol, l.lineage_id,
       'aa/bench.joblib', 1000, repeat('a', 64),
       '{"train": {"accuracy": 0.62, "f1": 0.6}, "holdout": {"accuracy": 0.55, "f1": 0.53}}'::jsonb,
       '{"accuracy": 0.56, "f1": 0.55, "roc_auc": 0.58}'::jsonb, '{}'::jsonb, 50000, 12, 1.7
FROM model_lineage l;
"""
# Final statuses (through the lifecycle triggers): k <= 7 archived, 8 failed, 9 rollback_candidate
# (canary in the first slot of each model), 10 production with its pointer.
_SEED_STATUSES = """
UPDATE model_versions SET status = 'archived' WHERE (version - 1) % $1 + 1 IN (1, 2, 3, 4, 5, 6, 7, 9);
UPDATE model_versions SET status = 'failed' WHERE (version - 1) % $1 + 1 = 8;
UPDATE model_versions SET status = 'rollback_candidate' WHERE (version - 1) % $1 + 1 = 9 AND version > $1;
UPDATE model_versions SET status = 'production' WHERE (version - 1) % $1 + 1 = $1;
INSERT INTO production_slots (model_name, regime, symbol, version, since)
SELECT model_name, regime, symbol, version, now() - interval '3 days' FROM model_versions WHERE status = 'production';
"""
# A canary needs a staging version: one extra version in the first slot of each model.
_SEED_CANARIES = """
UPDATE ml_models SET latest_version = latest_version + 1;
INSERT INTO model_lineage (model_name, model_version, regime, symbol, parent_model_name, parent_model_version,
                           training_data_hash, feature_set_hash, hyperparameters_hash, lineage_key)
SELECT p.model_name, m.latest_version, p.regime, p.symbol, p.model_name, p.version,
       'xxh3_128:canary' || p.model_name, 'sha256:f', 'sha256:h', 'sha256:canary'
FROM production_slots p JOIN ml_models m ON m.model_name = p.model_name
WHERE p.regime = 'trending' AND p.symbol = 'BTCUSDT';
INSERT INTO model_versions (model_name, version, regime, symbol, lineage_id, model_artifact_path, model_size_bytes,
                            model_artifact_hash)
SELECT l.model_name, l.model_version, l.regime, l.symbol, l.lineage_id, 'aa/bench.joblib', 1000, repeat('a', 64)
FROM model_lineage l WHERE l.lineage_key = 'sha256:canary';
UPDATE model_versions SET status = 'canary' WHERE status = 'staging';
"""
# History: each version's 80 live windows follow its slot's previous version's (hourly, ending now),
# and 20 shadow windows over the last 20 hours. Confusion counts let the pages show skill. The
# per-row trigger that copies a version's latest window onto its row is off for the bulk insert
# (replica role); one UPDATE with the schema's own JSON builders does its work afterwards (in the same
# role: the columns' guard lets only the triggers write them).
_SEED_HISTORY = """
SET LOCAL session_replication_role = replica;
INSERT INTO model_performance_history (ts, window_start, model_name, version, regime, symbol, source, n_samples,
    n_correct, accuracy, f1, total_inferences, error_count, error_rate, max_psi, metrics)
SELECT t.ts, t.ts - interval '1 hour', v.model_name, v.version, v.regime, v.symbol, t.source, 200, c.correct,
       c.correct / 200.0, c.correct / 200.0, 204, 4, 4 / 204.0, (w % 17) / 60.0,
       jsonb_build_object('true_positives', c.correct / 2, 'true_negatives', c.correct - c.correct / 2,
                          'false_positives', (200 - c.correct) / 2,
                          'false_negatives', 200 - c.correct - (200 - c.correct) / 2)
FROM model_versions v
CROSS JOIN generate_series(1, $1) w
CROSS JOIN LATERAL (SELECT 100 + (w * 7 + v.version * 13) % 25 AS correct) c
CROSS JOIN LATERAL (
    SELECT CASE WHEN w <= $2 THEN date_trunc('hour', now())
                              - ((($3 - (v.version - 1) % $3 - 1) * $2) + ($2 - w)) * interval '1 hour'
                ELSE date_trunc('hour', now()) - ($1 - w) * interval '1 hour' END AS ts,
           CASE WHEN w <= $2 THEN 'live' ELSE 'shadow' END AS source
) t
WHERE v.status <> 'canary';
UPDATE model_versions v SET performance_metrics = version_performance_metrics(to_jsonb(h)),
                            drift_metrics = version_drift_metrics(to_jsonb(h))
FROM (SELECT DISTINCT ON (model_name, version) * FROM model_performance_history WHERE source = 'live'
      ORDER BY model_name, version, ts DESC) h
WHERE v.model_name = h.model_name AND v.version = h.version;
SET LOCAL session_replication_role = origin;
"""
# Audit history beyond what the triggers wrote: 20 production moves per slot over 90 days and 8 status
# changes per version (as superuser, the benchmark writes them directly).
_SEED_AUDIT = """
INSERT INTO lifecycle_audit (ts, event, model_name, regime, symbol, version, from_version, to_version, actor, reason,
                             flow_run_id, metadata)
SELECT now() - interval '90 days' + i * interval '4 days', 'production_moved', p.model_name, p.regime, p.symbol,
       p.version - 1 - i % 5, p.version - i % 5, p.version - 1 - i % 5, 'bench', 'promotion (gate)',
       gen_random_uuid()::text, CASE WHEN i % 4 = 0 THEN '{"rollback_type": "automatic"}'::jsonb ELSE '{}'::jsonb END
FROM production_slots p, generate_series(1, 20) i;
INSERT INTO lifecycle_audit (ts, event, model_name, regime, symbol, version, from_status, to_status, actor, reason)
SELECT v.created_at - (9 - i) * interval '1 day', 'status_changed', v.model_name, v.regime, v.symbol, v.version,
       'staging', 'canary', 'bench', 'history'
FROM model_versions v, generate_series(1, 8) i;
"""
# Rollback events dated over the past 45 days: the stamping trigger (the insert's own time) stands aside
# for this seed, as for the history above.
_SEED_EVENTS = """
SET LOCAL session_replication_role = replica;
INSERT INTO rollback_events (event_time, model_name, regime, symbol, from_version, to_version, rollback_type, outcome,
                             rollback_reason, triggers, metrics_snapshot, degradation, confidence, risk, for_cause)
SELECT now() - (i * 9 + s % 7) * interval '1 day' + interval '6 hours', p.model_name, p.regime, p.symbol,
       p.version - 1, p.version - 2, (ARRAY['automatic', 'manual', 'on_failure'])[i % 3 + 1],
       (ARRAY['executed', 'executed', 'no_safe_candidate', 'dry_run'])[i % 4 + 1],
       'performance degradation persisted for 3 consecutive assessments', '["performance_degradation"]'::jsonb,
       '{"window": {"n": 600}}'::jsonb, 0.2, 0.97, 'critical', true
FROM (SELECT p.*, row_number() OVER (ORDER BY model_name, regime, symbol) AS s FROM production_slots p) p,
     generate_series(0, 4) i;
INSERT INTO model_comparison (model_name, regime, symbol, challenger_version, champion_version, n_samples,
                              challenger_metrics, champion_metrics, metric_deltas, test_name, p_value, decision,
                              reasons)
SELECT model_name, regime, symbol, version, NULLIF(version - 1, 0), 2000, '{"accuracy": 0.56}'::jsonb,
       '{"accuracy": 0.55}'::jsonb, '{"accuracy": 0.01}'::jsonb, 'mcnemar_exact', 0.03,
       CASE WHEN version % 3 = 0 THEN 'reject' ELSE 'promote' END, '["accuracy improved"]'::jsonb
FROM model_versions WHERE status <> 'canary';
INSERT INTO quarantine (kind, model_name, version, reason)
SELECT 'version', model_name, version, 'bad vendor feed' FROM model_versions
WHERE status = 'archived' AND version % 97 = 0;
INSERT INTO quarantine (kind, training_data_hash, reason)
SELECT 'training_data', training_data_hash, 'bad vendor feed' FROM model_lineage WHERE lineage_key = 'sha256:5' LIMIT 3;
INSERT INTO slot_assessments (model_name, regime, symbol, production_version, production_since, last_assessed_at,
                              last_status, last_assessment)
SELECT model_name, regime, symbol, version, since, now() - interval '10 minutes',
       (ARRAY['healthy', 'triggered_pending', 'market_shift', 'insufficient_evidence'])[version % 4 + 1],
       '{"triggers": [], "reasons": ["live accuracy within limits"]}'::jsonb
FROM production_slots;
SET LOCAL session_replication_role = origin;
ANALYZE;
"""


async def _seed(dsn: str, models: int) -> dict[str, float]:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    took: dict[str, float] = {}
    try:
        for name, sql, args in (
            ("versions", _SEED_VERSIONS, (models, SLOTS_PER_MODEL, VERSIONS_PER_SLOT)),
            ("statuses", _SEED_STATUSES, (VERSIONS_PER_SLOT,)),
            ("canaries", _SEED_CANARIES, ()),
            ("history", _SEED_HISTORY, (WINDOWS_PER_VERSION, 80, VERSIONS_PER_SLOT)),
            ("audit", _SEED_AUDIT, ()),
            ("events", _SEED_EVENTS, ()),
        ):
            started = time.perf_counter()
            async with conn.transaction():
                if args:
                    # Several statements with (integer) parameters: one at a time.
                    for statement in [s for s in sql.split(";\n") if s.strip()]:
                        used = max((int(p) for p in re.findall(r"\$(\d+)", statement)), default=0)
                        await conn.execute(re.sub(r"\$(\d+)", r"$\1::int", statement), *args[:used])
                else:
                    await conn.execute(sql)
            took[name] = time.perf_counter() - started
        counts = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM model_versions) AS versions, "
            "(SELECT count(*) FROM model_performance_history) AS history, "
            "(SELECT count(*) FROM lifecycle_audit) AS audit, (SELECT count(*) FROM rollback_events) AS rollbacks")
        took.update({f"rows_{k}": float(v) for k, v in counts.items()})
    finally:
        await conn.close()
    return took


async def _pages(dsn: str) -> list[tuple[str, str]]:
    """(label, URL) of the pages measured, pointing at rows the seed made."""
    import asyncpg

    from alphaplus.ui.links import slot_path, version_path, with_query

    conn = await asyncpg.connect(dsn)
    try:
        p = await conn.fetchrow("SELECT model_name, regime, symbol, version FROM production_slots "
                                "ORDER BY model_name DESC, regime, symbol OFFSET 3 LIMIT 1")
        middle_audit = await conn.fetchrow("SELECT ts, id FROM lifecycle_audit ORDER BY ts DESC, id DESC "
                                           "OFFSET (SELECT count(*) / 2 FROM lifecycle_audit) LIMIT 1")
        middle_rollback = await conn.fetchrow("SELECT event_time AS ts, id FROM rollback_events "
                                              "ORDER BY event_time DESC, id DESC "
                                              "OFFSET (SELECT count(*) / 2 FROM rollback_events) LIMIT 1")
    finally:
        await conn.close()
    slot = slot_path(p["model_name"], p["regime"], p["symbol"])
    cursor = lambda r: f"{r['ts'].isoformat()}_{r['id']}"  # noqa: E731
    return [
        ("overview, first page (50 slots)", "/"),
        ("overview, page 20 (slots 951-1,000)", "/?page=20"),
        ("overview, filtered to one model", with_query("/", {"model": p["model_name"]})),
        ("slot: timeline, chart of 500 windows, gate, rollbacks, shadow, versions", slot),
        ("slot, chart of 2,000 windows", with_query(slot, {"windows": 2000})),
        ("version: metrics, artifact, lineage (9 ancestors), decisions, events",
         version_path(p["model_name"], p["version"])),
        ("rollbacks, newest", "/rollbacks"),
        ("rollbacks, one slot", with_query("/rollbacks", {"model": p["model_name"], "regime": p["regime"],
                                                          "symbol": p["symbol"]})),
        ("rollbacks, a page half-way back", with_query("/rollbacks", {"before": cursor(middle_rollback)})),
        ("audit, newest", "/audit"),
        ("audit, one model", with_query("/audit", {"model": p["model_name"]})),
        ("audit, one version", with_query("/audit", {"model": p["model_name"], "version": p["version"]})),
        ("audit, production moves only", with_query("/audit", {"event": "production_moved"})),
        ("audit, a page half-way back", with_query("/audit", {"before": cursor(middle_audit)})),
    ]


async def _measure(dsn: str, home: str, repeats: int) -> list[dict[str, Any]]:
    import httpx

    from alphaplus.core.settings import Settings
    from alphaplus.ui.app import create_app

    app = create_app(Settings(database_url=dsn, home=Path(home), ui_allowed_hosts="bench"))
    results = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for label, url in await _pages(dsn):
            first = await client.get(url)  # warm: template compiled, pool open, plans cached
            if first.status_code != 200:
                raise RuntimeError(f"{url} answered {first.status_code}")
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                response = await client.get(url)
                times.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
            times.sort()
            results.append(row(f"{label}, median", statistics.median(times), "ms", f"<= {TARGET_MS:g}",
                               note=f"p95 {percentile(times, 0.95):.1f} ms, {len(first.content) // 1024} KB"))
    return results


async def _run(models: int, repeats: int) -> list[dict[str, Any]]:
    async with private_database("alphaplus_bench_ui") as dsn:
        started = time.perf_counter()
        took = await _seed(dsn, models)
        seeded = time.perf_counter() - started
        rows = [row(f"seed {int(took['rows_versions']):,} versions, {int(took['rows_history']):,} history rows, "
                    f"{int(took['rows_audit']):,} audit rows, {int(took['rows_rollbacks']):,} rollbacks", seeded, "s",
                    note=f"history {took['history']:.1f} s")]
        with tempfile.TemporaryDirectory(prefix="alphaplus-bench-ui-") as home:
            rows += await _measure(dsn, home, repeats)
        return rows


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Rows for ``python -m benchmarks``; ``quick``: 5 models and 5 requests per page."""
    return asyncio.run(_run(5 if quick else MODELS, 5 if quick else REPEATS))


if __name__ == "__main__":
    from benchmarks.__main__ import print_table

    print_table(run(quick="--quick" in sys.argv[1:]))

"""Benchmark of the rollback assessment: wall time to assess 100, 1,000 and 10,000 production slots.

Each size gets a private database on the server (ALPHAPLUS_DATABASE_URL, else the embedded cluster),
seeded in bulk with generate_series: per slot an archived and a production version, and 24 hourly live
windows of the production version (one statement per hour). Measured: the first assessment (24 windows per slot to pool) and
an hourly one (one new window per slot). The database is dropped at the end.

    .venv/bin/python -m benchmarks.bench_assess [SIZES...]
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg

from benchmarks.common import server_dsn

ROOT = Path(__file__).resolve().parents[1]
SIZES = (100, 1_000, 10_000)
TARGET_SECONDS_AT_10K = 10.0
WINDOWS = 24
MODEL = "bench_model"

# Two versions per slot: version 2i-1 archived (a rollback target), version 2i production.
_SEED_VERSIONS = """
INSERT INTO ml_models (model_name, latest_version) VALUES ($1, 2 * $2);
INSERT INTO model_lineage (model_name, model_version, regime, symbol, training_data_hash, feature_set_hash,
                           hyperparameters_hash, lineage_key)
SELECT $1, 2 * i - 2 + k, 'trending', 'SYM' || i, 'xxh3_128:' || i || '-' || k, 'sha256:f', 'sha256:h',
       'sha256:' || i || '-' || k
FROM generate_series(1, $2) i, generate_series(1, 2) k;
INSERT INTO model_versions (model_name, version, regime, symbol, lineage_id, model_artifact_path, model_size_bytes,
                            model_artifact_hash, validation_metrics)
SELECT $1, l.model_version, l.regime, l.symbol, l.lineage_id, 'aa/bench.joblib', 1, repeat('a', 64),
       '{"accuracy": 0.6, "f1": 0.6}'::jsonb
FROM model_lineage l WHERE l.model_name = $1;
"""
_SEED_PRODUCTION = """
UPDATE model_versions SET status = 'archived' WHERE model_name = $1 AND version % 2 = 1;
UPDATE model_versions SET status = 'production' WHERE model_name = $1 AND version % 2 = 0;
INSERT INTO production_slots (model_name, regime, symbol, version)
SELECT model_name, regime, symbol, version FROM model_versions WHERE model_name = $1 AND version % 2 = 0;
"""
# Hourly windows after the pointer moved: accuracy around 0.6 with noise; confusion counts in metrics.
_SEED_WINDOWS = """
INSERT INTO model_performance_history (ts, window_start, model_name, version, regime, symbol, source,
    n_samples, n_correct, accuracy, f1, total_inferences, error_count, error_rate, max_psi, metrics)
SELECT p.since + (h + 1) * interval '1 hour', p.since + h * interval '1 hour', p.model_name, p.version,
       p.regime, p.symbol, 'live', 500, c.n_correct, c.n_correct / 500.0, c.n_correct / 500.0, 505, 5,
       5 / 505.0, random() * 0.2,
       jsonb_build_object('true_positives', c.n_correct / 2, 'false_positives', (500 - c.n_correct) / 2,
                          'false_negatives', (500 - c.n_correct) / 2)
FROM production_slots p, generate_series($2::int, $3::int) h,
     LATERAL (SELECT (285 + floor(random() * 30))::int AS n_correct OFFSET 0 * h) c
WHERE p.model_name = $1
"""
_LAST_WINDOW = "SELECT max(ts) FROM model_performance_history WHERE model_name = $1"


def _with_database(dsn: str, name: str) -> str:
    base, _, _ = dsn.rpartition("/")
    return f"{base}/{name}"


async def _measure_size(server: str, n: int) -> list[dict[str, Any]]:
    from alphaplus.registry.artifacts import ArtifactStore
    from alphaplus.rollback.service import RollbackService, policy_from_settings
    from alphaplus.core.settings import Settings
    from db.migrate import migrate
    from db.pool import close_pools, connect, get_pool

    name = f"alphaplus_bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = _with_database(server, name)
    try:
        settings = Settings(database_url=dsn, home=Path(tempfile.mkdtemp(prefix="alphaplus-bench-")))
        conn = await connect(dsn, settings)
        try:
            await migrate(conn)
            started = time.perf_counter()
            async with conn.transaction():
                await conn.execute("SELECT set_config('alphaplus.reason', 'benchmark seed', true)")
                for statement in _SEED_VERSIONS.strip().split(";\n"):
                    await conn.execute(statement.replace("$1", f"'{MODEL}'").replace("$2", str(n)))
                for statement in _SEED_PRODUCTION.strip().split(";\n"):
                    await conn.execute(statement.replace("$1", f"'{MODEL}'"))
            # Hour by hour, as outcome resolution writes them: each window also updates its version's
            # performance_metrics (0010), and a version row rewritten 24 times in one transaction
            # would measure a write pattern that never happens. VACUUM stands in for the autovacuum
            # runs of those 24 hours.
            for hour in range(WINDOWS):
                await conn.execute(_SEED_WINDOWS, MODEL, hour, hour)
            await conn.execute("VACUUM ANALYZE")
            seed_s = time.perf_counter() - started
        finally:
            await conn.close()

        pool = await get_pool(dsn, settings)
        service = RollbackService(pool, ArtifactStore(settings.artifacts_dir), policy_from_settings(settings))
        now = await pool.fetchval(_LAST_WINDOW, MODEL)
        started = time.perf_counter()
        first = await service.assess_all(now=now)
        first_s = time.perf_counter() - started

        await pool.execute(_SEED_WINDOWS, MODEL, WINDOWS, WINDOWS)
        now = await pool.fetchval(_LAST_WINDOW, MODEL)
        started = time.perf_counter()
        hourly = await service.assess_all(now=now)
        hourly_s = time.perf_counter() - started
        assert len(first) == len(hourly) == n
        assert not [r for r in first + hourly if r.outcome in ("error", "superseded")]
        await close_pools()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    target = TARGET_SECONDS_AT_10K * n / 10_000 if n < 10_000 else TARGET_SECONDS_AT_10K
    return [
        {"measure": f"seed {n} slots ({WINDOWS} windows each)", "value": round(seed_s, 3), "unit": "s",
         "target": None, "baseline": None},
        {"measure": f"first assessment, {n} slots", "value": round(first_s, 3), "unit": "s",
         "target": round(target, 3), "baseline": None},
        {"measure": f"hourly assessment, {n} slots", "value": round(hourly_s, 3), "unit": "s",
         "target": round(target, 3), "baseline": None},
    ]


def run(sizes: tuple[int, ...] = SIZES) -> list[dict[str, Any]]:
    """Run the benchmark; one row per measure: measure, value, unit, target (linear in the 10 s at 10,000
    slots goal), baseline (None: no earlier run to compare)."""
    server = server_dsn()

    async def all_sizes() -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for n in sizes:
            rows += await _measure_size(server, n)
        return rows

    return asyncio.run(all_sizes())


def main(argv: list[str] | None = None) -> None:
    """Print the benchmark table."""
    sizes = tuple(int(a) for a in (argv or [])) or SIZES
    rows = run(sizes)
    print(f"{'measure':<45} {'value':>10} {'unit':<4} {'target':>8}")
    for r in rows:
        target = "" if r["target"] is None else f"{r['target']:.3f}"
        print(f"{r['measure']:<45} {r['value']:>10.3f} {r['unit']:<4} {target:>8}")


if __name__ == "__main__":
    main(sys.argv[1:])

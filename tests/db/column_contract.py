"""The specification's column contract for model_lineage and model_versions, and its check.

SPECIFIED is the "Database Design" block of the Phase 1 specification, copied verbatim. A column is
honoured when it exists on its table under the documented name and every value it holds converts to
the documented type by an assignment cast, which the check proves by copying the real rows into
temporary tables created with the documented types (an incompatible type fails even with no rows:
the cast is resolved when the INSERT is planned).
"""

from __future__ import annotations

import re

import asyncpg

SPECIFIED = """
-- Model Lineage Table
CREATE TABLE model_lineage (
    created_at TIMESTAMPTZ NOT NULL,
    lineage_id TEXT NOT NULL,
    model_name TEXT NOT NULL,
    model_version INTEGER NOT NULL,
    parent_model_name TEXT,
    parent_model_version INTEGER,
    training_data_hash TEXT NOT NULL,
    feature_set_hash TEXT NOT NULL,
    hyperparameters_hash TEXT NOT NULL,
    training_environment TEXT,
    training_duration_seconds INTEGER,
    training_samples INTEGER,
    validation_samples INTEGER,
    lineage_metadata JSONB,
    PRIMARY KEY (created_at, lineage_id)
);

-- Model Versions Table
CREATE TABLE model_versions (
    created_at TIMESTAMPTZ NOT NULL,
    model_name TEXT NOT NULL,
    version INTEGER NOT NULL,
    status TEXT NOT NULL, -- staging, production, archived, failed, canary, rollback_candidate
    regime TEXT NOT NULL,
    symbol TEXT NOT NULL,
    model_artifact_path TEXT,
    model_artifact_size_mb DECIMAL(10,2),
    model_artifact_hash TEXT,
    training_metrics JSONB,
    validation_metrics JSONB,
    performance_metrics JSONB,
    drift_metrics JSONB,
    rollback_metrics JSONB,
    deployment_timestamp TIMESTAMPTZ,
    last_used_timestamp TIMESTAMPTZ,
    usage_count INTEGER DEFAULT 0,
    error_count INTEGER DEFAULT 0,
    avg_inference_time_ms DECIMAL(10,3),
    total_inferences INTEGER DEFAULT 0,
    version_metadata JSONB,
    PRIMARY KEY (created_at, model_name, version)
);
"""

_TABLE = re.compile(r"CREATE TABLE (\w+) \((.*?)\n\);", re.S)
_COLUMN = re.compile(r"^\s*(\w+) ([A-Z]+(?:\(\d+,\d+\))?)")


def documented_columns() -> dict[str, dict[str, str]]:
    """table -> {column: documented type}, in the specification's order."""
    tables: dict[str, dict[str, str]] = {}
    for name, body in _TABLE.findall(SPECIFIED):
        columns = {}
        for line in body.splitlines():
            m = _COLUMN.match(line)
            if m and m.group(1) != "PRIMARY":
                columns[m.group(1)] = m.group(2)
        tables[name] = columns
    return tables


async def contract_violations(conn: asyncpg.Connection) -> list[str]:
    """Every documented column that is missing or whose values do not convert to the documented type."""
    problems = []
    for table, columns in documented_columns().items():
        present = {r["column_name"]: r["data_type"] for r in await conn.fetch(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = $1", table)}
        missing = [c for c in columns if c not in present]
        problems += [f"{table}.{c} does not exist" for c in missing]
        shown = [c for c in columns if c in present]
        spec_table = f"spec_{table}"
        async with conn.transaction():
            await conn.execute(
                f"CREATE TEMP TABLE {spec_table} ({', '.join(f'{c} {columns[c]}' for c in shown)}) ON COMMIT DROP")
            for column in shown:
                try:
                    async with conn.transaction():
                        await conn.execute(f"INSERT INTO {spec_table} ({column}) SELECT {column} FROM {table}")
                except asyncpg.PostgresError as e:
                    problems.append(f"{table}.{column} is {present[column]}, not convertible to "
                                    f"{columns[column]}: {e}")
            copied = await conn.fetchval(f"SELECT count(*) FROM {spec_table}")
            expected = len(shown) * await conn.fetchval(f"SELECT count(*) FROM {table}")
            if not problems and copied != expected:
                problems.append(f"{table}: {copied} values copied, {expected} expected")
    return problems

"""The schema enforces the registry's invariants by itself: these tests bypass the Python layer."""

from __future__ import annotations

import uuid
from decimal import Decimal

import asyncpg
import pytest

from alphaplus.core import lifecycle
from tests.db.column_contract import contract_violations, documented_columns

# The registry's columns (name -> PostgreSQL type), which code and users rely on: the seed's, under the
# specification's names where it documents one (tests/db/column_contract.py checks that contract).
SEED_COLUMNS = {
    "model_lineage": {
        "lineage_id": "uuid", "model_name": "text", "model_version": "integer", "parent_model_name": "text",
        "parent_model_version": "integer", "training_data_hash": "text", "feature_set_hash": "text",
        "hyperparameters_hash": "text", "training_config": "jsonb", "training_environment": "jsonb",
        "training_duration_seconds": "double precision", "n_samples": "integer", "training_samples": "integer",
        "validation_samples": "integer", "lineage_metadata": "jsonb", "created_at": "timestamp with time zone",
        "created_by": "text",
    },
    "model_versions": {
        "id": "bigint", "model_name": "text", "version": "integer", "regime": "text", "symbol": "text",
        "status": "text", "lineage_id": "uuid", "model_artifact_path": "text", "model_size_bytes": "bigint",
        "model_artifact_size_mb": "numeric", "model_artifact_hash": "text", "training_metrics": "jsonb",
        "validation_metrics": "jsonb", "performance_metrics": "jsonb", "drift_metrics": "jsonb",
        "rollback_metrics": "jsonb", "deployment_timestamp": "timestamp with time zone", "version_metadata": "jsonb",
        "created_at": "timestamp with time zone", "promoted_at": "timestamp with time zone",
        "deprecated_at": "timestamp with time zone", "usage_count": "bigint", "total_inferences": "bigint",
        "error_count": "bigint", "avg_inference_time_ms": "double precision",
        "last_used_timestamp": "timestamp with time zone",
    },
    "ml_models": {
        "model_name": "text", "latest_version": "integer", "description": "text", "metadata": "jsonb",
        "created_at": "timestamp with time zone", "updated_at": "timestamp with time zone",
    },
    "ml_training_jobs": {"metadata": "jsonb", "last_run": "timestamp with time zone", "status": "text"},
    "candles": {
        "symbol": "text", "timeframe": "text", "ts": "timestamp with time zone", "open": "double precision",
        "high": "double precision", "low": "double precision", "close": "double precision",
        "volume": "double precision",
    },
}


async def insert_version(conn, model: str, version: int, *, regime="trending", symbol="BTCUSDT",
                         size_bytes: int = 10) -> None:
    """Register a version by hand (what the repository does, minus its checks): lineage and version in
    one transaction, as the lineage must belong to its version by commit."""
    await conn.execute("INSERT INTO ml_models (model_name) VALUES ($1) ON CONFLICT DO NOTHING", model)
    async with conn.transaction():
        lineage = await conn.fetchval(
            """INSERT INTO model_lineage (model_name, model_version, regime, symbol, training_data_hash,
                                          feature_set_hash, hyperparameters_hash, lineage_key)
               VALUES ($1, $2, $3, $4, 'd', 'f', 'h', $5) RETURNING lineage_id""",
            model, version, regime, symbol, uuid.uuid4().hex,
        )
        await conn.execute(
            """INSERT INTO model_versions (model_name, version, regime, symbol, lineage_id, model_artifact_path,
                                           model_size_bytes, model_artifact_hash)
               VALUES ($1, $2, $3, $4, $5, 'x/y', $6, $7)""",
            model, version, regime, symbol, lineage, size_bytes, "a" * 64,
        )


async def make_production(conn, model: str, version: int, *, regime="trending", symbol="BTCUSDT") -> None:
    async with conn.transaction():
        await conn.execute(
            "UPDATE model_versions SET status = 'production' WHERE model_name = $1 AND version = $2",
            model, version,
        )
        await conn.execute(
            "INSERT INTO production_slots (model_name, regime, symbol, version) VALUES ($1, $2, $3, $4)",
            model, regime, symbol, version,
        )


async def test_every_seed_column_exists_with_its_type(conn):
    rows = await conn.fetch(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema()"
    )
    actual = {(r["table_name"], r["column_name"]): r["data_type"] for r in rows}
    missing = [
        (table, column, typ)
        for table, columns in SEED_COLUMNS.items()
        for column, typ in columns.items()
        if actual.get((table, column)) != typ
    ]
    assert missing == []


async def test_every_documented_column_exists_with_a_compatible_type_on_a_fresh_database(make_database):
    from db.migrate import migrate
    from db.pool import connect

    conn = await connect(await make_database())
    try:
        await migrate(conn)
        assert await contract_violations(conn) == []
    finally:
        await conn.close()
    assert sum(len(c) for c in documented_columns().values()) == 14 + 21


async def test_the_lifecycle_transitions_table_equals_the_state_machine_in_code(conn):
    rows = await conn.fetch("SELECT from_status, to_status FROM lifecycle_transitions")
    in_database = {(r["from_status"], r["to_status"]) for r in rows}
    in_code = {(source, target) for source, targets in lifecycle.TRANSITIONS.items() for target in targets}
    assert in_database == in_code


async def test_the_schema_comments_name_functions_that_exist(conn):
    comment = await conn.fetchval("SELECT obj_description('quarantine'::regclass, 'pg_class')")
    assert "alphaplus_quarantine_reason(" in comment
    assert await conn.fetchval("SELECT to_regprocedure('alphaplus_quarantine_reason(text, integer)')") is not None
    assert "is_quarantined" not in comment


async def test_a_second_production_version_for_one_slot_is_rejected_by_the_database(conn, model_name):
    await insert_version(conn, model_name, 1)
    await insert_version(conn, model_name, 2)
    await make_production(conn, model_name, 1)
    with pytest.raises(asyncpg.UniqueViolationError, match="one_production_per_slot"):
        await conn.execute(
            "UPDATE model_versions SET status = 'production' WHERE model_name = $1 AND version = 2", model_name
        )


async def test_an_invalid_status_value_is_rejected(conn, model_name):
    await insert_version(conn, model_name, 1)
    with pytest.raises(asyncpg.PostgresError, match="shipped"):
        await conn.execute("UPDATE model_versions SET status = 'shipped' WHERE model_name = $1", model_name)
    # Even with the transition trigger out of the way (DDL undone by the rollback), the CHECK holds.
    with pytest.raises(asyncpg.CheckViolationError):
        async with conn.transaction():
            await conn.execute("ALTER TABLE model_versions DISABLE TRIGGER model_versions_guard")
            await conn.execute("UPDATE model_versions SET status = 'shipped' WHERE model_name = $1", model_name)
    assert await conn.fetchval("SELECT status FROM model_versions WHERE model_name = $1", model_name) == "staging"


async def test_the_database_refuses_an_illegal_transition(conn, model_name):
    await insert_version(conn, model_name, 1)
    await conn.execute("UPDATE model_versions SET status = 'failed' WHERE model_name = $1", model_name)
    with pytest.raises(asyncpg.PostgresError, match="'failed'; it cannot become 'production'") as info:
        await make_production(conn, model_name, 1)
    assert info.value.sqlstate == "AP001"


async def test_a_production_status_without_the_pointer_cannot_commit(conn, model_name):
    await insert_version(conn, model_name, 1)
    with pytest.raises(asyncpg.PostgresError, match="pointer") as info:
        await conn.execute(
            "UPDATE model_versions SET status = 'production' WHERE model_name = $1 AND version = 1", model_name
        )
    assert info.value.sqlstate == "AP004"
    assert await conn.fetchval("SELECT status FROM model_versions WHERE model_name = $1", model_name) == "staging"


async def test_a_registered_artifact_cannot_be_changed(conn, model_name):
    await insert_version(conn, model_name, 1)
    for column, value in (("model_artifact_hash", "b" * 64), ("model_artifact_path", "x/z"), ("model_size_bytes", 11)):
        with pytest.raises(asyncpg.PostgresError, match="immutable") as info:
            await conn.execute(f"UPDATE model_versions SET {column} = $2 WHERE model_name = $1", model_name, value)
        assert info.value.sqlstate == "AP003"
    with pytest.raises(asyncpg.PostgresError, match="model_artifact_size_mb"):
        await conn.execute("UPDATE model_versions SET model_artifact_size_mb = 1 WHERE model_name = $1", model_name)
    row = await conn.fetchrow(
        "SELECT model_artifact_hash, model_artifact_path, model_size_bytes FROM model_versions WHERE model_name = $1",
        model_name)
    assert tuple(row) == ("a" * 64, "x/y", 10)


async def test_the_artifact_size_in_mb_is_derived_from_the_bytes(conn, model_name):
    sizes = {1: 10, 2: 1_048_576, 3: 3 * 1_048_576 + 10_000, 4: 123_456_789}
    for version, size in sizes.items():
        await insert_version(conn, model_name, version, size_bytes=size)
    rows = await conn.fetch(
        "SELECT version, model_size_bytes, model_artifact_size_mb FROM model_versions WHERE model_name = $1", model_name)
    assert {r["version"]: (r["model_size_bytes"], r["model_artifact_size_mb"]) for r in rows} == {
        1: (10, Decimal("0.00")), 2: (1_048_576, Decimal("1.00")), 3: (3_155_728, Decimal("3.01")),
        4: (123_456_789, Decimal("117.74")),
    }


@pytest.mark.parametrize("column, value", [
    ("performance_metrics", "{}"), ("drift_metrics", "{}"), ("rollback_metrics", "{}"),
    ("deployment_timestamp", "2024-01-01T00:00:00Z"),
])
async def test_the_columns_the_database_keeps_cannot_be_written_directly(conn, model_name, column, value):
    await insert_version(conn, model_name, 1)
    cast = "timestamptz" if column == "deployment_timestamp" else "jsonb"
    # Not even by the owner of the table (this connection is a superuser).
    with pytest.raises(asyncpg.PostgresError, match="kept by the database") as info:
        await conn.execute(f"UPDATE model_versions SET {column} = $2::text::{cast} WHERE model_name = $1",
                           model_name, value)
    assert info.value.sqlstate == "AP003"
    with pytest.raises(asyncpg.PostgresError, match="kept by the database"):
        async with conn.transaction():
            lineage = await conn.fetchval(
                "INSERT INTO model_lineage (model_name, model_version, regime, symbol, training_data_hash, "
                "feature_set_hash, hyperparameters_hash, lineage_key) "
                "VALUES ($1, 2, 'trending', 'BTCUSDT', 'd', 'f', 'h', 'k2') RETURNING lineage_id", model_name)
            await conn.execute(
                f"INSERT INTO model_versions (model_name, version, regime, symbol, lineage_id, model_artifact_path, "
                f"model_size_bytes, model_artifact_hash, {column}) "
                f"VALUES ($1, 2, 'trending', 'BTCUSDT', $2, 'x/y', 10, $3, $4::text::{cast})",
                model_name, lineage, "a" * 64, value)
    assert await conn.fetchval(f"SELECT {column} FROM model_versions WHERE model_name = $1", model_name) is None


async def test_a_lineage_row_belongs_to_exactly_one_version(conn, model_name):
    await insert_version(conn, model_name, 1)
    # A lineage naming no existing version cannot commit.
    with pytest.raises(asyncpg.ForeignKeyViolationError, match="model_lineage_version_exists"):
        await conn.execute(
            "INSERT INTO model_lineage (model_name, model_version, regime, symbol, training_data_hash, "
            "feature_set_hash, hyperparameters_hash, lineage_key) "
            "VALUES ($1, 7, 'trending', 'BTCUSDT', 'd', 'f', 'h', 'orphan')", model_name)
    # A second lineage for version 1 is refused ...
    with pytest.raises(asyncpg.UniqueViolationError, match="model_lineage_one_version"):
        await conn.execute(
            "INSERT INTO model_lineage (model_name, model_version, regime, symbol, training_data_hash, "
            "feature_set_hash, hyperparameters_hash, lineage_key) "
            "VALUES ($1, 1, 'trending', 'BTCUSDT', 'd', 'f', 'h', 'again')", model_name)
    # ... and a version cannot point at a lineage that names another version.
    lineage_of_1 = await conn.fetchval("SELECT lineage_id FROM model_lineage WHERE model_name = $1", model_name)
    with pytest.raises(asyncpg.PostgresError, match="lineage_names_this_version|lineage_id_key"):
        await conn.execute(
            "INSERT INTO model_versions (model_name, version, regime, symbol, lineage_id, model_artifact_path, "
            "model_size_bytes, model_artifact_hash) VALUES ($1, 2, 'trending', 'BTCUSDT', $2, 'x/y', 10, $3)",
            model_name, lineage_of_1, "a" * 64)
    assert await conn.fetchval("SELECT count(*) FROM model_lineage WHERE model_name = $1", model_name) == 1


async def test_every_change_leaves_an_audit_row_naming_the_database_login(conn, model_name):
    await insert_version(conn, model_name, 1)
    await make_production(conn, model_name, 1)
    rows = await conn.fetch(
        "SELECT event, from_status, to_status, to_version, actor FROM lifecycle_audit "
        "WHERE model_name = $1 ORDER BY ts, id",
        model_name,
    )
    login = await conn.fetchval("SELECT session_user")
    assert [(r["event"], r["from_status"], r["to_status"], r["to_version"]) for r in rows] == [
        ("registered", None, "staging", None),
        ("status_changed", "staging", "production", None),
        ("production_moved", None, None, 1),
    ]
    assert {r["actor"] for r in rows} == {login}


async def test_the_audit_log_refuses_update_and_delete(conn, model_name):
    await insert_version(conn, model_name, 1)
    for statement in ("UPDATE lifecycle_audit SET reason = 'x' WHERE model_name = $1",
                      "DELETE FROM lifecycle_audit WHERE model_name = $1"):
        with pytest.raises(asyncpg.PostgresError, match="append-only") as info:
            await conn.execute(statement, model_name)
        assert info.value.sqlstate == "AP005"


async def test_insane_candles_are_rejected(conn):
    bad_rows = [
        (10.0, 9.0, 11.0, 10.0, 1.0),  # high < low
        (10.0, 11.0, 9.0, 10.0, -1.0),  # negative volume
        (float("nan"), 11.0, 9.0, 10.0, 1.0),  # NaN
        (10.0, float("inf"), 9.0, 10.0, 1.0),  # infinite
        (12.0, 11.0, 9.0, 10.0, 1.0),  # open above high
    ]
    for o, h, low, c, v in bad_rows:
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(
                "INSERT INTO candles (symbol, timeframe, ts, open, high, low, close, volume) "
                "VALUES ('TEST', '1h', now(), $1, $2, $3, $4, $5)",
                o, h, low, c, v,
            )
